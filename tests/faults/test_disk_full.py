"""Item 4: a full disk is an error, not a hang. The worker records "disk full at <path>: free N GB", stops,
starts no job while the disk stays full, and nothing half-written is shown; what was finished before the
fault (other runs, earlier shards) is kept and reused once space returns."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mitoviz.config import load_settings
from mitoviz.embed.store import EmbeddingStore
from mitoviz.experiment.spec import ExperimentSpec
from mitoviz.jobs import worker as worker_module
from mitoviz.jobs.store import JobStore
from mitoviz.results import ResultsStore
from tests.faults.conftest import ROOT, TRACEBACK, assert_intact, cli, spec_dict


def _fill(folder: Path) -> None:
    with contextlib.suppress(OSError), open(folder / "ballast", "wb") as fh:
        while True:
            fh.write(b"\0" * 4096)
            fh.flush()


def _leftovers(folder: Path) -> list[Path]:
    """Half-written files: the temporary files of atomic writes."""
    return [p for p in folder.rglob(".*") if p.is_file()]


def _submit(home: Path, spec: dict) -> str:
    store = JobStore(home / "jobs")
    job, _ = store.submit(spec, ExperimentSpec.from_dict(spec).spec_hash(), spec["name"])
    store.close()
    return job["id"]


def _job(home: Path, job_id: str) -> dict:
    store = JobStore(home / "jobs")
    try:
        return store.get(job_id)
    finally:
        store.close()


def test_a_worker_on_a_full_tmpfs_fails_the_job_with_where_and_how_much(home, finished, small_demo, monkeypatch):
    """The embedding cache on a real 1 MB tmpfs, filled up; the job store and results on the normal disk."""
    cache = home / "cache"
    kept = home / "cache-before"
    cache.rename(kept)
    cache.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", cache],
                                           capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs is not allowed here (the injected ENOSPC test covers the worker)")
    try:
        shutil.copytree(kept, cache, dirs_exist_ok=True)
        job_id = _submit(home, spec_dict(small_demo, "fills the disk", patch_size=48))
        _fill(cache)
        env = {**os.environ, "MITOVIZ_MIN_FREE_MB": "0", "MITOVIZ_SHARD_SIZE": "16"}
        worker = subprocess.run([sys.executable, "-m", "mitoviz", "worker", "--once", "--idle-exit", "2"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=180)
        assert worker.returncode == 0 and TRACEBACK not in worker.stderr, worker.stderr
        job = _job(home, job_id)
        assert job["state"] == "failed", job
        what = job["error"]["what"]
        assert what.startswith(f"Disk full at {cache}") and "free 0.00 GB" in what, what
        assert "Free space" in job["error"]["fix"]
        assert _leftovers(cache) == []  # no half-written shard or manifest
        runs = {r["name"]: r for r in ResultsStore(home / "results").listing()}
        assert runs["fills the disk"]["status"] == "failed"  # not "running" for ever
        assert runs["fills the disk"]["fits"] == 0
        monkeypatch.setattr(worker_module, "MIN_FREE_BYTES", 100_000)
        settings = load_settings()
        assert worker_module.full_disk(settings) == cache
        assert worker_module.ensure_workers(settings) == []  # no crash loop of new workers while it is full
        (cache / "ballast").unlink()
        assert worker_module.full_disk(settings) is None  # space is back: the next call may start one
        check = cli("check")
        assert check.returncode == 0, check.stdout
    finally:
        subprocess.run(["umount", "-l", cache], capture_output=True)
    assert_intact(home, finished)


class _FullAfter:
    """A file whose writes fail with ENOSPC halfway through, as on a disk that fills during the write."""

    def __init__(self, fh) -> None:
        self.fh = fh

    def write(self, data: bytes) -> int:
        self.fh.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()


def test_an_injected_enospc_fails_the_job_keeps_finished_shards_and_resumes_when_space_returns(
        home, finished, small_demo, monkeypatch):
    """No mount needed: writes of the second embedding shard fail with ENOSPC halfway, in-process."""
    from mitoviz import files

    monkeypatch.setenv("MITOVIZ_SHARD_SIZE", "16")
    settings = load_settings()
    real = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        fh = real(fd, mode, *args, **kwargs)
        return _FullAfter(fh) if ".shard_00001.npy" in os.readlink(f"/proc/self/fd/{fd}") else fh

    monkeypatch.setattr(files.os, "fdopen", fdopen)
    job_id = _submit(home, spec_dict(small_demo, "enospc", patch_size=40))
    store = JobStore(settings.jobs_dir)
    job = store.claim_next("test-worker")
    assert worker_module.run_job(store, job, settings, "test-worker") == "failed"
    failed = store.get(job_id)
    entry = max((e for e, _ in EmbeddingStore(settings.embeddings_dir).entries()),
                key=lambda e: e.manifest_path.stat().st_mtime)  # the entry this job made
    assert failed["error"]["what"].startswith(f"Disk full at {entry.shard_path(1)}: free "), failed["error"]
    assert entry.shard_ok(0) and not entry.shard_path(1).exists()  # finished before the fault; nothing half-written
    assert _leftovers(settings.embeddings_dir) == []
    assert store.mark_interrupted() == [] and store.get(job_id)["state"] == "failed"  # not retried behind your back
    first = entry.shard_path(0).stat().st_mtime_ns
    monkeypatch.setattr(files.os, "fdopen", real)  # space is back
    store.retry(job_id)
    job = store.claim_next("test-worker")
    assert worker_module.run_job(store, job, settings, "test-worker") == "done"
    assert entry.complete() and entry.shard_path(0).stat().st_mtime_ns == first  # reused, not recomputed
    assert ResultsStore(settings.results_dir).get(store.get(job_id)["run_id"]).state() == "complete"
    store.close()
    assert_intact(home, finished)
