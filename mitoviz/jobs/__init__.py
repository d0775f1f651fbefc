"""Background jobs: what the pages and the CLI call to queue, watch and control work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mitoviz.config import Settings
from mitoviz.jobs.store import ACTIVE, STATES, DamagedStore, JobStore, move_store_aside
from mitoviz.jobs.worker import ensure_workers

if TYPE_CHECKING:  # the spec module loads torch; `mitoviz jobs` and the app's badge need none of it
    from mitoviz.experiment.spec import ExperimentSpec

__all__ = ["ACTIVE", "STATES", "DamagedStore", "JobStore", "active_job", "job_store", "move_store_aside", "submit"]


def job_store(settings: Settings) -> JobStore:
    return JobStore(settings.jobs_dir)


def active_job(settings: Settings, spec_hash: str) -> dict[str, Any] | None:
    """The queued, running or interrupted job of this experiment, if any (what ``submit`` would return)."""
    with job_store(settings) as store:
        return next((j for j in store.list(ACTIVE) if j["spec_hash"] == spec_hash), None)


def submit(spec: ExperimentSpec, settings: Settings, start_worker: bool = True) -> tuple[dict[str, Any], bool]:
    """Queue ``spec`` (or return the job already queued/running for it) and make sure a worker runs."""
    with job_store(settings) as store:
        job, created = store.submit(spec.to_dict(), spec.spec_hash(), spec.name)
    if start_worker:
        ensure_workers(settings)
    return job, created
