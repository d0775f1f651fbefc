"""Item 1: no unpickling anywhere. Pickled rows planted in the job store never run, in the CLI, the worker
and the app; they are moved into the quarantine folder and the rest of the store stays."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys

from mitoviz.jobs.store import JobStore
from tests.faults.conftest import ROOT, TRACEBACK, assert_intact, cli, render, spec_dict
from tests.faults.hostile import payload_runs_when_unpickled, plant


def _quarantined_rows(home) -> int:
    (db,) = home.glob("quarantine/*/jobs/refused-rows.db")
    with sqlite3.connect(db) as con:
        return con.execute("SELECT count(*) FROM Cache").fetchone()[0]


def test_the_planted_payload_does_run_under_plain_diskcache(home, tmp_path):
    copy = tmp_path / "copy-of-jobs"
    shutil.copytree(home / "jobs", copy)
    marker = tmp_path / "plain-diskcache-ran-it"
    plant(copy, marker, settings_row=False)
    assert payload_runs_when_unpickled(copy, marker)  # so a missing marker below means "never ran"


def test_cli_lists_jobs_past_pickled_rows_without_running_them(home, finished, tmp_path):
    marker = tmp_path / "RAN"
    plant(home / "jobs", marker)
    listing = cli("jobs", "--json")
    assert listing.returncode == 0 and TRACEBACK not in listing.stderr, listing.stderr
    assert [j["id"] for j in json.loads(listing.stdout)] == [finished["job_id"]]
    assert not marker.exists()
    assert _quarantined_rows(home) == 4
    reasons = next(home.glob("quarantine/*/REASONS.txt")).read_text()
    assert "key stored pickled" in reasons and "mode 4" in reasons and "outside the store" in reasons
    assert "disk__directory" in reasons
    check = cli("check")
    assert check.returncode == 0 and "healthy" in check.stdout, check.stdout
    assert_intact(home, finished)


def test_worker_runs_the_queue_past_pickled_rows_without_running_them(home, small_demo, tmp_path):
    marker = tmp_path / "RAN"
    store = JobStore(home / "jobs")
    job, _ = store.submit(spec_dict(small_demo, "missing data", datasets=[str(tmp_path / "nowhere.json")]), "h-bad")
    store.close()
    plant(home / "jobs", marker)
    worker = subprocess.run([sys.executable, "-m", "mitoviz", "worker", "--once", "--idle-exit", "5"], cwd=ROOT,
                            env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0 and TRACEBACK not in worker.stderr, worker.stderr
    store = JobStore(home / "jobs")
    failed = store.get(job["id"])
    store.close()
    assert failed["state"] == "failed" and failed["error"]["what"]  # it ran the real job, past the rows
    assert not marker.exists()


def test_every_page_renders_past_pickled_rows_without_running_them(home, finished, tmp_path):
    marker = tmp_path / "RAN"
    plant(home / "jobs", marker)
    ats = render(home)
    assert not marker.exists()
    jobs = ats["views/jobs.py"]
    assert _quarantined_rows(home) == 4  # the first page's badge moved them aside
    assert any(finished["job_id"] in label for label in jobs.expanders)
    assert_intact(home, finished)


def test_read_only_store_with_pickled_rows_refuses_to_open(home, tmp_path, monkeypatch):
    """Where the rows cannot be moved aside, the store refuses to open rather than skip them silently."""
    from mitoviz.jobs import store as store_module

    marker = tmp_path / "RAN"
    plant(home / "jobs", marker)

    def cannot_move(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(store_module, "quarantine_rows", cannot_move)
    try:
        JobStore(home / "jobs")
    except store_module.UnsafeRecord as exc:
        assert "not JSON" in exc.what and "cannot be moved aside" in exc.what
    else:
        raise AssertionError("the store opened with rows it could not set aside")
    assert not marker.exists()
