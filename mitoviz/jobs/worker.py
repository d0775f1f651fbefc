"""The worker process: takes queued jobs in order and runs them, surviving the app.

``python -m mitoviz worker`` runs one per compute slot, guarded by a lock file so a second
worker for the same slot exits at once. A heartbeat thread keeps the job record fresh; a job
whose worker dies is marked interrupted and resumed by the next worker from its cached shards and parts.
A worker exits when its home folder disappears or its job store is replaced (no orphan polls a
deleted folder), records a full disk as the job's error and takes no job while the disk stays full,
and the app that spawns it reaps it when it exits (no zombie under the Streamlit server).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from mitoviz.config import Settings, load_settings
from mitoviz.errors import Cancelled, MitovizError, StorageError
from mitoviz.jobs.store import HEARTBEAT_STALE_S, JobStore
from mitoviz.progress import Reporter
from mitoviz.results.faults import disk_full, failed_path, free_bytes, is_disk_full, storage_error

HEARTBEAT_S = min(2.0, HEARTBEAT_STALE_S / 4)
POLL_S = 0.5
FLUSH_S = 0.3
STARTUP_GRACE_S = 10.0  # a worker just spawned may not hold its lock yet: do not spawn a second
MIN_FREE_BYTES = int(float(os.environ.get("MITOVIZ_MIN_FREE_MB", "100")) * 1e6)  # below this no job starts


class StoreLost(Exception):
    """The home folder or the job store this worker opened is gone or was replaced."""


def full_disk(settings: Settings) -> Path | None:
    """The folder of the home (jobs, cache, results: each may be its own mount) with less than MIN_FREE_BYTES
    free, or None."""
    for folder in (settings.home, settings.jobs_dir, settings.cache_dir, settings.results_dir):
        if free_bytes(folder) < MIN_FREE_BYTES:
            return folder
    return None


class JobReporter(Reporter):
    """Writes stage progress (done, total, rate, ETA) and log lines into the job record."""

    def __init__(self, store: JobStore, job_id: str, worker: str) -> None:
        self.store, self.job_id, self.worker = store, job_id, worker
        self._stages: dict[str, dict[str, Any]] = {}
        self._dirty: dict[str, dict[str, Any]] = {}
        self._lines: list[str] = []
        self._last_flush = 0.0
        self._cancel = False
        self._lock = threading.Lock()
        self.lost = threading.Event()  # set by the worker when its store went away: stop like a cancel

    def update(self, stage: str, done: int, total: int, unit: str = "") -> None:
        now = time.time()
        with self._lock:
            st = self._stages.get(stage)
            if st is None:
                st = self._stages[stage] = {"order": len(self._stages), "done": done, "start_done": done,
                                            "started": now, "unit": unit, "waiting": done == 0}
            elif done < st["done"] or (st["waiting"] and done > 0):
                # counting again (the next fit's batches), or its first progress since it was announced at 0:
                # its rate is measured from here, and it keeps its place in the list
                st.update(started=now, start_done=done, waiting=False)
            elapsed = now - st["started"]
            rate = (done - st["start_done"]) / elapsed if elapsed > 0.5 and done > st["start_done"] else None
            st.update(done=done, total=total, unit=unit or st["unit"], rate=rate, updated=now,
                      eta=(total - done) / rate if rate else None)
            self._dirty[stage] = dict(st)
        if now - self._last_flush > FLUSH_S or done >= total:
            self.flush()

    def log(self, message: str) -> None:
        with self._lock:
            self._lines.append(f"{time.strftime('%H:%M:%S')} {message}")
        self.flush()

    def on_run(self, run_id: str) -> None:
        self.store.update(self.job_id, run_id=run_id)

    def flush(self) -> None:
        with self._lock:
            stages, lines = self._dirty, self._lines
            self._dirty, self._lines = {}, []
            self._last_flush = time.time()
        job = self.store.progress(self.job_id, stages, lines, self.worker)
        self._cancel = bool(job.get("cancel_requested"))

    def cancelled(self) -> bool:
        if self.lost.is_set():
            return True
        if time.time() - self._last_flush > FLUSH_S:
            self.flush()
        return self._cancel


def _try_lock(handle: Any) -> bool:
    """A POSIX record lock: it belongs to this process alone, so forked children (patch readers) never
    hold it, and it goes when the process dies, however it dies."""
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise
    return True


def _lock(settings: Settings, slot: int) -> Any:
    settings.jobs_dir.mkdir(exist_ok=True)  # not parents: a worker never makes a home folder (one deleted under it)
    handle = open(settings.jobs_dir / f"worker-{slot}.lock", "a+")  # noqa: SIM115 - held for the process's life
    for _ in range(20):  # worker_alive() holds the lock for an instant while it checks
        if _try_lock(handle):
            break
        time.sleep(0.1)
    else:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _device_for(settings: Settings, slot: int) -> str:
    from mitoviz.config import resolve_device

    if settings.dask_address:  # the work runs on the cluster's workers, which resolve the device themselves
        return resolve_device(settings.device, here=False)
    device = resolve_device(settings.device)
    if device == "cuda":
        import torch

        return f"cuda:{slot % max(1, torch.cuda.device_count())}"
    return device


def _failure(exc: BaseException, settings: Settings) -> dict[str, str]:
    """The error record of a job that raised ``exc``: a full disk says where and how much is free."""
    if is_disk_full(exc):
        return disk_full(failed_path(exc, settings.home)).to_dict()
    if isinstance(exc, MitovizError):
        return exc.to_dict()
    return {"type": type(exc).__name__, "what": f"Unexpected error: {type(exc).__name__}: {exc}.",
            "fix": "This is a bug in mitoviz; the log tail has the details. Retry, or report it with the log."}


def run_job(store: JobStore, job: dict[str, Any], settings: Settings, worker: str,
            reporter: JobReporter | None = None) -> str:
    """Run one claimed job to its end state; return that state ("lost" when the store went away)."""
    from mitoviz.experiment.run import run_experiment
    from mitoviz.experiment.spec import ExperimentSpec

    reporter = reporter or JobReporter(store, job["id"], worker)
    try:
        if job["attempts"] > 1:
            reporter.log(f"Attempt {job['attempts']}: resuming")
        spec = ExperimentSpec.from_dict(job["spec"])
        run = run_experiment(spec, settings, reporter, run_id=job.get("run_id"))
        reporter.flush()
        store.update(job["id"], run_id=run.run_id)
        store.finish(job["id"], "done")
        return "done"
    except Cancelled:
        if reporter.lost.is_set():
            return "lost"
        reporter.log("Cancelled by the user; finished work stays in the cache.")
        reporter.flush()
        store.finish(job["id"], "cancelled")
        return "cancelled"
    except Exception as exc:
        if reporter.lost.is_set():
            return "lost"
        error = _failure(exc, settings)
        tail = "" if isinstance(exc, MitovizError) else "\n" + "".join(traceback.format_exception(exc))[-3000:]
        reporter.log(f"Failed: {error['what']}{tail}")
        reporter.flush()
        store.finish(job["id"], "failed", error)
        return "failed"


def worker_loop(slot: int = 0, idle_exit_s: float | None = 600.0, max_jobs: int | None = None) -> int:
    """Run jobs until idle for ``idle_exit_s`` seconds (None: forever), or until the home folder or the job
    store goes away. Returns jobs run."""
    settings = load_settings()
    try:
        lock = _lock(settings, slot)
    except FileNotFoundError as exc:
        raise StorageError(f"The home folder {settings.home} does not exist (deleted?).",
                           "Open the app or submit a job: they make it, and start a worker.") from exc
    if lock is None:
        return 0
    worker = f"slot{slot}-pid{os.getpid()}"
    settings = _with_device(settings, _device_for(settings, slot))
    try:
        store = JobStore(settings.jobs_dir, create=False)
        born = store.identity()
    except (MitovizError, OSError) as exc:
        print(f"worker {worker}: {settings.home} disappeared while the worker started ({exc}); exiting.",
              file=sys.stderr, flush=True)
        lock.close()
        return 0
    current: dict[str, Any] = {"job": None, "reporter": None}
    stop, lost = threading.Event(), threading.Event()

    def check_store() -> None:
        try:
            same = store.identity() == born
        except OSError:
            same = False
        if not same:
            lost.set()
            if current["reporter"] is not None:
                current["reporter"].lost.set()
            raise StoreLost(f"{settings.jobs_dir} is gone or was replaced")

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                check_store()
                store.beat(worker, {"pid": os.getpid(), "slot": slot, "job": current["job"]})
                if current["job"]:
                    store.progress(current["job"], {}, [], worker)
            except StoreLost:
                return
            except MitovizError:
                continue  # a busy, full or briefly unreadable store: try again at the next beat

    store.beat(worker, {"pid": os.getpid(), "slot": slot, "job": None})
    threading.Thread(target=beat, daemon=True).start()
    ran, idle_since, waiting_for_space = 0, time.monotonic(), False
    try:
        while max_jobs is None or ran < max_jobs:
            check_store()
            store.mark_interrupted()
            full = full_disk(settings)
            if full and not waiting_for_space:
                print(f"worker {worker}: {disk_full(full).what} Taking no job until space returns.",
                      file=sys.stderr, flush=True)
            waiting_for_space = full is not None
            job = None if full else store.claim_next(worker)
            if job is None:
                if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                    break
                time.sleep(POLL_S)
                continue
            current["job"] = job["id"]
            current["reporter"] = JobReporter(store, job["id"], worker)
            try:
                state = run_job(store, job, settings, worker, current["reporter"])
            except MitovizError as exc:  # the end state could not be recorded (a full disk under the store)
                print(f"worker {worker}: cannot record how job {job['id']} ended: {exc}; exiting.", file=sys.stderr,
                      flush=True)
                break
            if state == "lost":
                break
            current["job"] = current["reporter"] = None
            ran += 1
            idle_since = time.monotonic()
    except StoreLost as exc:
        print(f"worker {worker}: {exc}; exiting.", file=sys.stderr, flush=True)
    finally:
        stop.set()
        if not lost.is_set():
            with contextlib.suppress(MitovizError):
                store.forget_worker(worker)
        store.close()
        lock.close()
    return ran


def _with_device(settings: Settings, device: str) -> Settings:
    from dataclasses import replace

    return replace(settings, device=device)


def worker_alive(settings: Settings, slot: int = 0) -> bool:
    """True when a process holds the slot's lock."""
    path = settings.jobs_dir / f"worker-{slot}.lock"
    if not path.exists():
        return False
    with open(path, "a") as handle:  # lockf needs a handle open for writing
        if not _try_lock(handle):
            return True
        fcntl.lockf(handle, fcntl.LOCK_UN)
        return False


def _reap(child: subprocess.Popen) -> None:
    """Wait for a spawned worker in a daemon thread, so its exit leaves no zombie under this process."""
    threading.Thread(target=child.wait, name=f"reap-worker-{child.pid}", daemon=True).start()


def ensure_workers(settings: Settings) -> list[int]:
    """Start a detached worker for every slot that has none; return the slots started. None starts while the
    disk under the home folder is full (a worker would only fail again)."""
    try:
        return _spawn_missing(settings)
    except OSError as exc:
        raise storage_error(exc, settings.jobs_dir, "start a worker in") from exc


def _spawn_missing(settings: Settings) -> list[int]:
    started: list[int] = []
    if full_disk(settings):
        return started
    for slot in range(settings.workers):
        starting = settings.jobs_dir / f"worker-{slot}.starting"
        recently = starting.exists() and time.time() - starting.stat().st_mtime < STARTUP_GRACE_S
        if recently or worker_alive(settings, slot):
            continue
        settings.jobs_dir.mkdir(parents=True, exist_ok=True)
        starting.touch()
        log = open(settings.jobs_dir / f"worker-{slot}.log", "ab")  # noqa: SIM115 - handed to the child
        env = {**os.environ, "MITOVIZ_HOME": str(settings.home)}
        child = subprocess.Popen(
            [sys.executable, "-m", "mitoviz", "worker", "--slot", str(slot)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env,
            cwd=str(Path(__file__).resolve().parents[2]),
        )
        log.close()
        _reap(child)
        starting.write_text(str(child.pid))  # who to stop before the child has taken its lock
        started.append(slot)
    return started
