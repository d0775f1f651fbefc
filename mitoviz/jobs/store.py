"""Job records on disk: a diskcache store that can only hold and read JSON (see ``jsondisk``).

Every change goes through a transaction, so two processes submitting the same spec at the same
moment get one job, and a worker claiming a job never races another worker. Rows that are not JSON
(pickled keys or values, value files outside the store) are moved into ``<home>/quarantine/`` before
diskcache reads anything, and any other SQLite or file error becomes a StorageError that says what
is wrong (damaged, read-only, disk full) and how to repair it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import diskcache

from mitoviz.errors import JobError, StorageError
from mitoviz.jobs.jsondisk import BadRow, SafeCache, UnsafeRecord, scan
from mitoviz.results.faults import REPAIR_HINT, Damaged, Quarantine, storage_error

STATES = ("queued", "running", "interrupted", "done", "failed", "cancelled")
ACTIVE = ("queued", "running", "interrupted")  # interrupted: its worker died; the next worker resumes it
# A running job whose worker has not beaten for this long is interrupted (MITOVIZ_STALE_AFTER overrides).
HEARTBEAT_STALE_S = float(os.environ.get("MITOVIZ_STALE_AFTER", "20"))
MAX_ATTEMPTS = int(os.environ.get("MITOVIZ_MAX_ATTEMPTS", "3"))  # a job whose worker dies this often fails
LOG_LINES = 200
STORE_FILES = ("cache.db", "cache.db-wal", "cache.db-shm")


def _now() -> float:
    return time.time()


class DamagedStore(Damaged):
    """The job database cannot be opened or read."""


JOB_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,), "seq": (int,), "state": (str,), "name": (str,), "spec": (dict,), "spec_hash": (str,),
    "stages": (dict,), "log": (list,), "attempts": (int,), "cancel_requested": (bool,), "error": (dict, type(None)),
}


def job_problem(job: Any) -> str | None:
    """Why a decoded record cannot be shown as a job (valid JSON of the wrong shape), or None."""
    if not isinstance(job, dict):
        return f"a job record that is a JSON {type(job).__name__}"
    for name, types in JOB_FIELDS.items():
        if not isinstance(job.get(name), types) or (isinstance(job.get(name), bool) and bool not in types):
            return f"a job record whose {name!r} is {type(job.get(name)).__name__}"
    if job["state"] not in STATES:
        return f"a job record in state {job['state']!r}"
    if not all(isinstance(v, dict) for v in job["stages"].values()) or not all(isinstance(x, str) for x in job["log"]):
        return "a job record with malformed stages or log"
    return None


def identity(root: Path) -> tuple[tuple[int, int], ...]:
    """(device, inode) of the home folder, the jobs folder and the database (when there is one): changes when
    any is deleted or replaced. Raises OSError when a folder is gone."""
    root = Path(root)
    out = []
    for path in (root.parent, root, root / "cache.db"):
        try:
            st = path.stat()
        except FileNotFoundError:
            if path.name != "cache.db":
                raise
            continue
        out.append((st.st_dev, st.st_ino))
    return tuple(out)


def quarantine_rows(db: Path, bad: list[BadRow], settings: list[str], q: Quarantine) -> Path:
    """Copy refused rows (undecoded) into ``<quarantine>/jobs/refused-rows.db``, move their value files,
    and delete them (and unknown settings) from the store. Returns the quarantine folder."""
    target = q.root / "jobs" / "refused-rows.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    ids = [b.rowid for b in bad]
    marks = ",".join("?" * len(ids))
    with closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as con:
        con.execute("ATTACH DATABASE ? AS q", (str(target),))
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("CREATE TABLE IF NOT EXISTS q.Cache AS SELECT * FROM main.Cache WHERE 0")
            con.execute(f"INSERT INTO q.Cache SELECT * FROM main.Cache WHERE rowid IN ({marks})", ids)
            con.execute(f"DELETE FROM main.Cache WHERE rowid IN ({marks})", ids)
            con.execute(f"DELETE FROM main.Settings WHERE key IN ({','.join('?' * len(settings))})", settings)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    for row in bad:
        path = db.parent / row.filename if row.filename else None
        if path is not None and path.is_file() and db.parent.resolve() in path.resolve().parents:
            q.move(path, f"value file of refused job row {row.rowid}")
    q.note(f"jobs/refused-rows.db: {len(bad)} job store row(s) that are not JSON "
           f"({'; '.join(sorted({b.why for b in bad})) or 'none'}); settings removed: {settings or 'none'}")
    return q.root


def move_store_aside(root: Path, reason: str, quarantine: Quarantine | None = None) -> Path:
    """Move the job database and its value files into the quarantine folder (worker locks and logs stay).

    A worker still holding the old database notices that it was replaced and exits; the next open makes
    an empty store. Returns the quarantine folder.
    """
    root = Path(root)
    q = quarantine or Quarantine(root.parent)
    value_dirs = [p for p in root.iterdir() if p.is_dir() and len(p.name) == 2] if root.is_dir() else []
    for path in [*(root / name for name in STORE_FILES), *value_dirs]:
        if path.exists() or path.is_symlink():
            q.move(path, reason)
    return q.root


class JobStore:
    """All jobs and worker heartbeats under ``<home>/jobs``."""

    def __init__(self, root: Path, create: bool = True) -> None:
        """Open (and with ``create``, make) the store; a worker opens with ``create=False`` so that a home folder
        deleted under it is not made again."""
        self.root = Path(root)
        self.db = self.root / "cache.db"
        self.quarantined: Path | None = None
        self.malformed = 0  # job records of the wrong shape seen by the last read
        try:
            if create:
                self.root.mkdir(parents=True, exist_ok=True)
            elif not self.root.is_dir():
                raise StorageError(f"There is no job store folder {self.root}.", "Start the worker from the app.")
            self._sweep()
            self.cache = SafeCache(str(self.root), timeout=30)
        except (OSError, sqlite3.Error, diskcache.Timeout, StorageError) as exc:
            raise self._error(exc, "open") from exc

    def _error(self, exc: BaseException, doing: str) -> StorageError:
        if isinstance(exc, StorageError):
            return exc
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return DamagedStore(f"The job store {self.db} is damaged ({exc}).",
                                f"Move it aside with the button on the Jobs page, or {REPAIR_HINT} "
                                "Results of finished jobs are not in it and stay.")
        return storage_error(exc, self.db, f"{doing} the job store")

    def _sweep(self) -> None:
        """Find rows that are not JSON with plain SQL and move them aside before diskcache reads anything."""
        if not self.db.exists():
            return
        with closing(sqlite3.connect(f"{self.db.as_uri()}?mode=ro", uri=True, timeout=30)) as con:
            try:
                bad, settings = scan(con, self.root)
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return
                raise
        if bad or settings:
            try:
                self.quarantined = quarantine_rows(self.db, bad, settings, Quarantine(self.root.parent))
            except (OSError, sqlite3.Error, StorageError) as exc:
                raise UnsafeRecord(
                    f"The job store {self.db} holds {len(bad)} record(s) that are not JSON "
                    f"({bad[0].why if bad else 'unknown settings'}) and they cannot be moved aside ({exc}).",
                    "Fix the permissions of the home folder, then open the Jobs page again; or move the store "
                    "aside by hand. mitoviz never decodes such records.",
                ) from exc

    def identity(self) -> tuple[tuple[int, int], ...]:
        return identity(self.root)

    def close(self) -> None:
        self.cache.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            with self.cache.transact():
                yield
        except diskcache.Timeout as exc:
            raise JobError("The job store is busy.", "Try again in a moment.") from exc
        except (OSError, sqlite3.Error) as exc:
            raise self._error(exc, "write") from exc

    # --- records -----------------------------------------------------------------------------
    def _read(self, key: str) -> Any:
        """One record; a record that is not JSON is moved aside and reads as missing."""
        try:
            return self.cache.get(key)
        except UnsafeRecord:
            self._sweep_value(key)
            return None
        except (OSError, sqlite3.Error) as exc:
            raise self._error(exc, "read") from exc

    def _sweep_value(self, key: str) -> None:
        db_key, _ = self.cache.disk.put(key)
        with closing(sqlite3.connect(f"{self.db.as_uri()}?mode=ro", uri=True, timeout=30)) as con:
            rows = con.execute("SELECT rowid, filename FROM Cache WHERE key = ? AND raw = 1", (db_key,)).fetchall()
        bad = [BadRow(int(r), "value that does not decode", f) for r, f in rows]
        if bad:
            with contextlib.suppress(OSError, sqlite3.Error, StorageError):  # read-only: stays unread, `check` says
                self.quarantined = quarantine_rows(self.db, bad, [], Quarantine(self.root.parent))

    def _keys(self, prefix: str) -> list[str]:
        for _ in range(3):
            try:
                return [k for k in self.cache.iterkeys() if isinstance(k, str) and k.startswith(prefix)]
            except UnsafeRecord:  # a row written after the sweep
                self._sweep()
            except (OSError, sqlite3.Error) as exc:
                raise self._error(exc, "read") from exc
        raise UnsafeRecord(f"The job store {self.db} keeps gaining records that are not JSON.",
                           "Someone is writing to it: check who can write the home folder.")

    def _jobs(self) -> list[dict[str, Any]]:
        """Every job record that has the shape of one (others are skipped and counted; `check` reports them)."""
        records = [r for r in (self._read(k) for k in self._keys("job:")) if r is not None]
        jobs = [r for r in records if job_problem(r) is None]
        self.malformed = len(records) - len(jobs)
        return sorted(jobs, key=lambda j: j["seq"])

    @staticmethod
    def _view(job: dict[str, Any]) -> dict[str, Any]:
        """A running job whose worker stopped beating reads as interrupted before any worker notices."""
        if job["state"] == "running" and _now() - (job.get("heartbeat") or 0) > HEARTBEAT_STALE_S:
            return {**job, "state": "interrupted"}
        return job

    def _next_seq(self) -> int:
        """Call inside a transaction."""
        seq = int(self._read("seq") or 0) + 1
        self.cache.set("seq", seq)
        return seq

    def _put(self, job: dict[str, Any]) -> None:
        job["updated"] = _now()
        self.cache.set(f"job:{job['id']}", job)

    def get(self, job_id: str) -> dict[str, Any]:
        job = self._read(f"job:{job_id}")
        if job is None:
            raise JobError(f"There is no job {job_id!r}.", "List jobs with `python -m mitoviz jobs`.")
        if problem := job_problem(job):
            raise JobError(f"Job {job_id} cannot be read: the store holds {problem}.",
                           f"Move it aside: {REPAIR_HINT}")
        return job

    def list(self, states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """Jobs newest first."""
        jobs = [self._view(j) for j in reversed(self._jobs())]
        return [j for j in jobs if states is None or j["state"] in states]

    def submit(self, spec: dict[str, Any], spec_hash: str, name: str = "") -> tuple[dict[str, Any], bool]:
        """Queue a job; a spec already queued, running or interrupted returns that job. Returns (job, created)."""
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
        """A queued or interrupted job is cancelled at once; a running one at its next check (within seconds)."""
        with self._transaction():
            job = self._view(self.get(job_id))
            if job["state"] in ("queued", "interrupted"):
                job.update(state="cancelled", finished=_now(), worker=None)
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
            job.update(state="queued", error=None, cancel_requested=False, finished=None, attempts=0,
                       seq=self._next_seq())
            self._put(job)
        return job

    def delete(self, job_id: str) -> None:
        with self._transaction():  # checked and deleted at once: a worker cannot claim it in between
            if self._view(self.get(job_id))["state"] == "running":
                raise JobError(f"Job {job_id} is running.", "Cancel it before deleting it.")
            self.cache.delete(f"job:{job_id}")

    # --- worker side -------------------------------------------------------------------------
    def claim_next(self, worker: str) -> dict[str, Any] | None:
        """The oldest queued or interrupted job, now marked running for ``worker``."""
        with self._transaction():
            for job in self._jobs():
                if job["state"] in ("queued", "interrupted"):
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
        with self._transaction():
            self.cache.set(f"worker:{worker}", {**info, "heartbeat": _now()})

    def forget_worker(self, worker: str) -> None:
        with self._transaction():
            self.cache.delete(f"worker:{worker}")

    def workers(self) -> list[dict[str, Any]]:
        """The workers that beat recently."""
        out = []
        for key in self._keys("worker:"):
            info = self._read(key)
            if isinstance(info, dict) and _now() - info.get("heartbeat", 0) < HEARTBEAT_STALE_S:
                out.append({"name": key.removeprefix("worker:"), **info})
        return out

    def mark_interrupted(self) -> list[str]:
        """Running jobs whose worker stopped beating become interrupted (the next claim resumes them),
        cancelled when a cancel was asked, failed when their worker has died ``MAX_ATTEMPTS`` times."""
        changed = []
        with self._transaction():
            for job in self._jobs():
                if self._view(job)["state"] != "interrupted" or job["state"] != "running":
                    continue
                if job["cancel_requested"]:
                    job.update(state="cancelled", finished=_now())
                    line = "Interrupted: the worker stopped; the cancel you asked for is done."
                elif job["attempts"] >= MAX_ATTEMPTS:
                    job.update(state="failed", finished=_now(), error={
                        "type": "WorkerDied", "what": f"The worker running this job died {job['attempts']} times.",
                        "fix": "Look at the worker log in <home>/jobs/worker-*.log (out of memory?), then Retry.",
                    })
                    line = f"Stopped after {job['attempts']} attempts: the worker died each time."
                else:
                    job["state"] = "interrupted"
                    line = "Interrupted: the worker stopped; the next worker resumes it."
                job.update(interrupted=_now(), worker=None, log=[*job["log"], line][-LOG_LINES:])
                self._put(job)
                changed.append(job["id"])
        return changed

    def summary(self) -> dict[str, int]:
        """Cheap counts for the sidebar badge."""
        counts = dict.fromkeys(STATES, 0)
        for job in self._jobs():
            state = self._view(job)["state"]
            counts[state] = counts.get(state, 0) + 1
        return counts
