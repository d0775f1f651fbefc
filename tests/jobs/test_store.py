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


def test_an_interrupted_job_is_resumed_and_one_whose_worker_keeps_dying_fails(tmp_path, monkeypatch):
    from mitoviz.jobs import store as store_module

    store = JobStore(tmp_path)
    job, _ = store.submit({"name": "a"}, "ha")
    assert store.submit({"name": "a"}, "ha")[1] is False
    for attempt in range(1, store_module.MAX_ATTEMPTS + 1):
        claimed = store.claim_next("w")
        assert claimed["id"] == job["id"] and claimed["attempts"] == attempt
        store.update(job["id"], heartbeat=time.time() - 3600)  # its worker died
        assert store.list()[0]["state"] == "interrupted"  # shown so before any worker notices
        assert store.submit({"name": "a"}, "ha")[1] is False  # still pending: no duplicate
        store.mark_interrupted()
    failed = store.get(job["id"])
    assert failed["state"] == "failed" and "died 3 times" in failed["error"]["what"] and failed["error"]["fix"]
    assert store.claim_next("w") is None


def test_records_of_the_wrong_shape_are_skipped_not_shown(tmp_path):
    store = JobStore(tmp_path)
    good, _ = store.submit({"name": "a"}, "ha")
    store.cache.set("job:list", [1, 2])
    store.cache.set("job:stateless", {**good, "id": "stateless", "state": 7})
    assert [j["id"] for j in store.list()] == [good["id"]] and store.malformed == 2
    assert store.summary()["queued"] == 1
    with pytest.raises(JobError, match="cannot be read"):
        store.get("list")


def test_the_disk_never_reaches_pickle(tmp_path):
    import pickle

    from mitoviz.jobs.jsondisk import JSONOnlyDisk, UnsafeRecord

    disk = JSONOnlyDisk(str(tmp_path))
    value = pickle.dumps({"x": 1})
    with pytest.raises(UnsafeRecord, match="mode 4"):
        disk.fetch(4, None, value, False)
    with pytest.raises(UnsafeRecord, match="key stored pickled"):
        disk.get(value, False)
    with pytest.raises(UnsafeRecord, match="outside the store"):
        disk.fetch(2, "../../etc/hostname", None, False)
    (tmp_path.parent / "keep.txt").write_text("x")
    disk.remove("../keep.txt")
    assert (tmp_path.parent / "keep.txt").exists()
    key, raw = disk.put("job:1")
    assert raw and disk.get(key, True) == "job:1"
    _size, mode, filename, stored = disk.store({"a": [1, 2]}, False)
    assert mode == 1 and disk.fetch(mode, filename, stored, False) == {"a": [1, 2]}
