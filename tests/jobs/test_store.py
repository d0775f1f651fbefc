import multiprocessing as mp
import time

import pytest

from mitoviz.errors import JobError, StorageError
from mitoviz.jobs.store import JobStore


def _submit(root, barrier, queue):
    store = JobStore(root)
    barrier.wait()
    job, created = store.submit({"name": "same"}, "hash-1")
    queue.put((job["id"], created))
    store.close()


def test_two_processes_submitting_the_same_spec_get_one_job(tmp_path):
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_submit, args=(tmp_path, barrier, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert len({job_id for job_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(JobStore(tmp_path).list()) == 1


def test_lifecycle_claim_progress_cancel_retry_delete(tmp_path):
    store = JobStore(tmp_path)
    a, created = store.submit({"name": "a"}, "ha")
    b, _ = store.submit({"name": "b"}, "hb")
    assert created and store.submit({"name": "a again"}, "ha") == (a, False)
    assert [j["id"] for j in store.list()] == [b["id"], a["id"]]  # newest first
    claimed = store.claim_next("w1")
    assert claimed["id"] == a["id"] and claimed["state"] == "running"  # oldest first
    store.progress(a["id"], {"embed": {"done": 3, "total": 10}}, ["line"], "w1")
    assert store.get(a["id"])["stages"]["embed"]["done"] == 3
    assert store.cancel(b["id"])["state"] == "cancelled"  # queued: at once
    assert store.cancel(a["id"])["cancel_requested"]  # running: flag for the worker
    with pytest.raises(JobError, match="running"):
        store.delete(a["id"])
    store.finish(a["id"], "cancelled")
    retried = store.retry(a["id"])
    assert retried["state"] == "queued" and not retried["cancel_requested"]
    store.delete(b["id"])
    assert [j["id"] for j in store.list()] == [a["id"]]
    with pytest.raises(JobError, match="no job"):
        store.get("nope")
    assert store.summary()["queued"] == 1


def test_stale_running_job_is_requeued(tmp_path, monkeypatch):
    store = JobStore(tmp_path)
    job, _ = store.submit({"name": "a"}, "ha")
    store.claim_next("dead-worker")
    store.update(job["id"], heartbeat=time.time() - 3600)
    assert store.mark_interrupted() == [job["id"]]
    job = store.get(job["id"])
    assert job["state"] == "interrupted" and "Interrupted" in job["log"][-1] and job["interrupted"]


def test_unwritable_home_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="Cannot open the job store"):
        JobStore(blocker / "jobs")
