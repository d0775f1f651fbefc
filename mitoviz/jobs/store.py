"""Job records on disk: a diskcache store with JSON serialisation only (never pickle).

Every change goes through a transaction, so two processes submitting the same spec at the same
moment get one job, and a worker claiming a job never races another worker.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import diskcache

from mitoviz.errors import JobError, StorageError

STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")
# A running job whose worker has not beaten for this long is requeued (MITOVIZ_STALE_AFTER overrides).
HEARTBEAT_STALE_S = float(os.environ.get("MITOVIZ_STALE_AFTER", "20"))
LOG_LINES = 200


def _now() -> float:
    return time.time()


class JobStore:
    """All jobs and worker heartbeats under ``<home>/jobs``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.cache = diskcache.Cache(str(self.root), disk=diskcache.JSONDisk, timeout=30)
        except (OSError, diskcache.Timeout) as exc:
            raise StorageError(
                f"Cannot open the job store in {self.root}: {exc}.",
                "Check that the mitoviz home folder (MITOVIZ_HOME) is writable and the disk is not full.",
            ) from exc

    def close(self) -> None:
        self.cache.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            with self.cache.transact():
                yield
        except diskcache.Timeout as exc:
            raise JobError("The job store is busy.", "Try again in a moment.") from exc
        except OSError as exc:
            raise StorageError(f"Cannot write the job store: {exc}.", "Free disk space or fix permissions.") from exc

    # --- records -----------------------------------------------------------------------------
    def _jobs(self) -> list[dict[str, Any]]:
        jobs = []
        for key in list(self.cache.iterkeys()):
            if isinstance(key, str) and key.startswith("job:"):
                job = self.cache.get(key)
                if job is not None:
                    jobs.append(job)
        return sorted(jobs, key=lambda j: j["seq"])

    def _next_seq(self) -> int:
        """Call inside a transaction."""
        seq = int(self.cache.get("seq", 0)) + 1
        self.cache.set("seq", seq)
        return seq

    def _put(self, job: dict[str, Any]) -> None:
        job["updated"] = _now()
        self.cache.set(f"job:{job['id']}", job)

    def get(self, job_id: str) -> dict[str, Any]:
        job = self.cache.get(f"job:{job_id}")
        if job is None:
            raise JobError(f"There is no job {job_id!r}.", "List jobs with `python -m mitoviz jobs`.")
        return job

    def list(self, states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """Jobs newest first."""
        return [j for j in reversed(self._jobs()) if states is None or j["state"] in states]

    def submit(self, spec: dict[str, Any], spec_hash: str, name: str = "") -> tuple[dict[str, Any], bool]:
        """Queue a job; a spec already queued or running returns that job. Returns (job, created)."""
        with self._transaction():
            for job in self._jobs():
                if job["spec_hash"] == spec_hash and job["state"] in ACTIVE:
                    return job, False
            seq = self._next_seq()
            job = {
                "id": f"{time.strftime('%m%d-%H%M%S')}-{uuid.uuid4().hex[:5]}",
                "seq": seq,
                "name": name or spec.get("name", "experiment"),
                "spec": spec,
                "spec_hash": spec_hash,
                "state": "queued",
                "created": _now(),
                "started": None,
                "finished": None,
                "stages": {},
                "log": [],
                "error": None,
                "run_id": None,
                "worker": None,
                "heartbeat": None,
                "attempts": 0,
                "cancel_requested": False,
            }
            self._put(job)
        return job, True

    def _change(self, job_id: str, **fields: Any) -> dict[str, Any]:
        with self._transaction():
            job = self.get(job_id)
            job.update(fields)
            self._put(job)
        return job

    def cancel(self, job_id: str) -> dict[str, Any]:
        """A queued job is cancelled at once; a running one at its next check (within seconds)."""
        with self._transaction():
            job = self.get(job_id)
            if job["state"] in ("queued", "interrupted"):
                job.update(state="cancelled", finished=_now())
            elif job["state"] == "running":
                job["cancel_requested"] = True
            self._put(job)
        return job

    def retry(self, job_id: str) -> dict[str, Any]:
        """Queue a finished job again; it resumes its run where one exists."""
        with self._transaction():
            job = self.get(job_id)
            if job["state"] in ACTIVE:
                raise JobError(f"Job {job_id} is still {job['state']}.", "Cancel it first, or wait.")
            for other in self._jobs():
                if other["spec_hash"] == job["spec_hash"] and other["state"] in ACTIVE:
                    raise JobError(f"The same experiment is already {other['state']} as job {other['id']}.")
            job.update(state="queued", error=None, cancel_requested=False, finished=None,
                       seq=self._next_seq())
            self._put(job)
        return job

    def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        if job["state"] == "running":
            raise JobError(f"Job {job_id} is running.", "Cancel it before deleting it.")
        self.cache.delete(f"job:{job_id}")

    # --- worker side -------------------------------------------------------------------------
    def claim_next(self, worker: str) -> dict[str, Any] | None:
        """The oldest queued job, now marked running for ``worker``."""
        with self._transaction():
            for job in self._jobs():
                if job["state"] == "queued":
                    job.update(state="running", worker=worker, heartbeat=_now(), started=job["started"] or _now(),
                               attempts=job["attempts"] + 1, cancel_requested=False)
                    self._put(job)
                    return job
        return None

    def update(self, job_id: str, **fields: Any) -> dict[str, Any]:
        return self._change(job_id, **fields)

    def progress(self, job_id: str, stages: dict[str, Any], lines: list[str], worker: str) -> dict[str, Any]:
        """Merge stage progress and log lines; refresh the heartbeat. Returns the record."""
        with self._transaction():
            job = self.get(job_id)
            job["stages"].update(stages)
            job["log"] = (job["log"] + lines)[-LOG_LINES:]
            if job.get("worker") == worker:
                job["heartbeat"] = _now()
            self._put(job)
        return job

    def finish(self, job_id: str, state: str, error: dict[str, str] | None = None) -> dict[str, Any]:
        return self._change(job_id, state=state, error=error, finished=_now(), heartbeat=None)

    def beat(self, worker: str, info: dict[str, Any]) -> None:
        self.cache.set(f"worker:{worker}", {**info, "heartbeat": _now()})

    def workers(self, alive_only: bool = True) -> list[dict[str, Any]]:
        out = []
        for key in list(self.cache.iterkeys()):
            if isinstance(key, str) and key.startswith("worker:"):
                info = self.cache.get(key)
                if info and (not alive_only or _now() - info["heartbeat"] < HEARTBEAT_STALE_S):
                    out.append({"name": key.removeprefix("worker:"), **info})
        return out

    def requeue_stale(self) -> list[str]:
        """Running jobs whose worker stopped beating: mark interrupted, then queue them again."""
        requeued = []
        with self._transaction():
            for job in self._jobs():
                if job["state"] == "running" and _now() - (job["heartbeat"] or 0) > HEARTBEAT_STALE_S:
                    job["log"] = [*job["log"], "Interrupted: the worker stopped; queued again to resume."][-LOG_LINES:]
                    job.update(state="queued" if not job["cancel_requested"] else "cancelled",
                               interrupted=_now(), worker=None)
                    self._put(job)
                    requeued.append(job["id"])
        return requeued

    def summary(self) -> dict[str, int]:
        """Cheap counts for the sidebar badge."""
        counts = dict.fromkeys(STATES, 0)
        for job in self._jobs():
            counts[job["state"]] = counts.get(job["state"], 0) + 1
        return counts
