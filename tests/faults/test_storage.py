"""Item 3: storage faults are contained and repairable. A damaged, unreadable or read-only job store and a
damaged run never take a page down: each page renders, says what is wrong and offers one repair, the
CLI prints a clear error, and `check --repair` moves the damage into the quarantine folder."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mitoviz.results import ResultsStore
from tests.faults.conftest import PAGES, ROOT, TRACEBACK, assert_intact, cli, render


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not an SQLite database, whatever the name says" * 100)


def test_a_damaged_job_store_is_reported_everywhere_and_moved_aside_from_the_jobs_page(home, finished):
    _garbage(home / "jobs" / "cache.db")
    for args in (["jobs"], ["cancel", "x"]):
        out = cli(*args)
        assert out.returncode == 2 and TRACEBACK not in out.stderr, out.stderr
        assert "job store" in out.stderr and "damaged" in out.stderr and "check --repair" in out.stderr
    pages = render(home)
    for page in pages.values():
        assert page.at.sidebar.get("page_link")[0].proto.label == "Job store needs attention"
    jobs = pages["views/jobs.py"]
    assert "is damaged" in jobs.text and "Move the job store aside" in jobs.buttons
    at = render(home, ["views/jobs.py"])["views/jobs.py"].at
    next(b for b in at.button if b.label == "Move the job store aside").click().run()
    assert not at.exception
    assert any("an empty one is in use" in s.value for s in at.success)
    assert list(home.glob("quarantine/*/jobs/cache.db"))
    assert cli("jobs").returncode == 0 and cli("check").returncode == 0
    assert_intact(home, finished)


@contextlib.contextmanager
def _read_only(folder: Path):
    """``folder`` as a read-only bind mount (EROFS for root too); skips where mounting is not allowed."""
    if os.geteuid() != 0 or subprocess.run(["mount", "--bind", folder, folder], capture_output=True).returncode:
        pytest.skip("needs root and mount (bind) to make a folder read-only for root")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", folder, folder], capture_output=True).returncode:
            pytest.skip("cannot remount read-only here")
        yield
    finally:
        subprocess.run(["umount", folder], capture_output=True)


def test_a_read_only_job_store_never_takes_a_page_down(home, finished):
    with _read_only(home / "jobs"):
        out = cli("jobs")
        assert out.returncode == 2 and TRACEBACK not in out.stderr and "read-only" in out.stderr, out.stderr
        pages = render(home)
        assert "read-only" in pages["views/jobs.py"].text
        assert "Move the job store aside" not in pages["views/jobs.py"].buttons  # the fix is permissions
    assert_intact(home, finished)


UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]
PAGES_SCRIPT = """
import json, sys
from streamlit.testing.v1 import AppTest
out = {}
at = AppTest.from_file("app.py", default_timeout=120)
for page in json.loads(sys.argv[1]):
    at.switch_page(page).run()
    out[page] = {"exceptions": [str(e.value) for e in at.exception], "errors": [e.value for e in at.error]}
print(json.dumps(out))
"""


@pytest.mark.slow  # the app in a subprocess without root's permission override: ~10 s
def test_an_unreadable_job_store_and_run_never_take_a_page_down(home, finished):
    """Root ignores file modes, so the CLI and the app run here without the capabilities that let it."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to take away root's permission override")
    locked_run = home / "results" / f"{finished['run_id']}-unreadable"
    shutil.copytree(home / "results" / finished["run_id"], locked_run)
    (home / "jobs").chmod(0)
    locked_run.chmod(0)
    try:
        out = subprocess.run([*UNPRIVILEGED, sys.executable, "-m", "mitoviz", "jobs"], cwd=ROOT, env=dict(os.environ),
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and TRACEBACK not in out.stderr and "ermission denied" in out.stderr, out.stderr
        runs = subprocess.run([*UNPRIVILEGED, sys.executable, "-m", "mitoviz", "runs", "--json"], cwd=ROOT,
                              env=dict(os.environ), capture_output=True, text=True, timeout=120)
        rows = {r["run_id"]: r for r in json.loads(runs.stdout)}
        assert rows[locked_run.name]["status"] == "damaged" and "permission denied" in rows[locked_run.name]["problem"]
        assert rows[finished["run_id"]]["status"] == "complete"
        app = subprocess.run([*UNPRIVILEGED, sys.executable, "-c", PAGES_SCRIPT, json.dumps(PAGES)], cwd=ROOT,
                             env=dict(os.environ), capture_output=True, text=True, timeout=300)
        assert app.returncode == 0, app.stderr[-3000:]
        pages = json.loads(app.stdout.strip().splitlines()[-1])
    finally:
        (home / "jobs").chmod(0o755)
        locked_run.chmod(0o755)
    assert all(not p["exceptions"] for p in pages.values()), pages
    assert any("ermission denied" in e for e in pages["views/jobs.py"]["errors"])
    assert_intact(home, finished)


def test_a_corrupt_table_of_a_complete_run_is_damage_with_a_repair(home, finished):
    run = ResultsStore(home / "results").get(finished["run_id"])
    part = next((run.root / "predictions").glob("*.parquet"))
    part.write_bytes(b"PAR1" + os.urandom(300) + b"PAR1")  # the right magic bytes, garbage between
    (row,) = json.loads(cli("runs", "--json").stdout)
    assert row["status"] == "damaged" and "predictions/" in row["problem"]  # the manifest still says complete
    check = cli("check")
    assert check.returncode == 1 and f"run {finished['run_id']}" in check.stdout and "predictions/" in check.stdout
    pages = render(home, ["views/failures.py", "views/curves.py"], run=finished["run_id"])
    for page in pages.values():
        assert "is damaged" in page.text and "predictions/" in page.text and "Move this run aside" in page.buttons
    at = pages["views/curves.py"].at
    next(b for b in at.button if b.label == "Move this run aside").click().run()
    assert not at.exception and any("was moved to" in s.value for s in at.success)
    assert any("No results yet" in m.value for m in at.markdown)
    assert list(home.glob(f"quarantine/*/results/{finished['run_id']}/predictions"))


def _damage_everything(home: Path, finished: dict, tmp_path: Path) -> Path:
    """A second run (a copy) with a truncated table, an object-array shard with a matching checksum, a job
    record of the wrong shape, pickled rows, an empty map file, a stale import folder; returns the damaged run's
    folder."""
    import hashlib
    import time

    from mitoviz.embed.store import EmbeddingStore
    from mitoviz.jobs.store import JobStore
    from tests.faults.hostile import plant

    results = home / "results"
    copy = results / f"{finished['run_id']}-copy"
    shutil.copytree(results / finished["run_id"], copy)
    (copy / "cells.parquet").write_bytes(b"PAR1")
    entry = next(e for e, _ in EmbeddingStore(home / "cache" / "embeddings").entries())
    buf = __import__("io").BytesIO()
    np.save(buf, np.array([{"a": 1}] * entry.shard_rows(0).stop, dtype=object), allow_pickle=True)
    entry.shard_path(0).write_bytes(buf.getvalue())
    meta = entry.shard_path(0).with_suffix(".json")
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "sha256": hashlib.sha256(buf.getvalue()).hexdigest()}))
    store = JobStore(home / "jobs")
    store.cache.set("job:wrong-shape", ["not", "a", "job"])
    store.close()
    plant(home / "jobs", tmp_path / "RAN")
    (home / "cache" / "projections").mkdir(parents=True, exist_ok=True)
    (home / "cache" / "projections" / "zero-bytes.npy").write_bytes(b"")  # np.load raises EOFError
    stale = results / ".import-0123"
    stale.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    return copy


def test_check_finds_every_kind_of_damage_and_repair_moves_it_aside(home, finished, tmp_path):
    healthy = cli("check")
    assert healthy.returncode == 0 and healthy.stdout.strip().endswith("healthy"), healthy.stdout
    copy = _damage_everything(home, finished, tmp_path)
    found = cli("check")
    assert found.returncode == 1 and TRACEBACK not in found.stderr, found.stderr
    for words in ("record(s) refused", "key stored pickled", "a job record that is a JSON list", "shard 0 of",
                  "holds object", f"run {copy.name}", ".import-0123", "zero-bytes.npy", "5 problem(s)"):
        assert words in found.stdout, found.stdout
    assert not (tmp_path / "RAN").exists()
    repaired = cli("check", "--repair")
    assert repaired.returncode == 0 and "healthy now" in repaired.stdout, repaired.stdout
    assert "nothing was deleted" in repaired.stdout
    (quarantine,) = home.glob("quarantine/*")
    assert (quarantine / "results" / copy.name).is_dir() and (quarantine / "jobs" / "refused-rows.db").is_file()
    assert list(quarantine.glob("cache/embeddings/*/*/shard_00000.npy"))
    assert cli("check").returncode == 0
    assert not (tmp_path / "RAN").exists()
    assert_intact(home, finished)


def test_pages_render_with_the_whole_home_on_a_full_disk(home, finished, tmp_path, monkeypatch):
    """The home on a real 4 MB tmpfs, filled to the last byte: every page renders and says the disk is full."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount],
                                           capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs is not allowed here (the injected ENOSPC tests still run)")
    try:
        full = mount / "home"
        shutil.copytree(home, full)
        with contextlib.suppress(OSError), open(mount / "ballast", "wb") as fh:
            while True:
                fh.write(b"\0" * 65536)
        monkeypatch.setenv("MITOVIZ_HOME", str(full))
        jobs = cli("jobs")
        assert jobs.returncode == 2 and TRACEBACK not in jobs.stderr and "Disk full at" in jobs.stderr, jobs.stderr
        pages = render(full)
        assert "Disk full at" in pages["views/jobs.py"].text
        assert_intact(full, finished)
    finally:
        subprocess.run(["umount", "-l", mount], capture_output=True)
