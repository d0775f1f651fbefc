import time

import streamlit as st

from mitoviz.errors import MitovizError
from mitoviz.jobs import ACTIVE, job_store, move_store_aside
from mitoviz.jobs.jsondisk import UnsafeRecord
from mitoviz.jobs.worker import ensure_workers, full_disk
from mitoviz.results.faults import Damaged, disk_full
from mitoviz.ui import pages
from mitoviz.ui.jobs import job_title, observe, stage_views
from mitoviz.ui.widgets import empty_state, settings, show_error

cfg = settings()
st.title("Jobs")
st.caption("Benchmarks run in a background worker: close the tab or restart the app, and they keep going.")

STATE_ICONS = {"queued": ":material/schedule:", "running": ":material/play_circle:", "done": ":material/check_circle:",
               "failed": ":material/error:", "cancelled": ":material/stop_circle:", "interrupted": ":material/warning:"}
STAGE_ICONS = {"done": "✓", "current": "▶", "pending": "○", "stopped": "■", "not reached": "○"}


def _act(action: str, job_id: str) -> None:
    try:
        with job_store(cfg) as store:
            if action == "cancel":
                store.cancel(job_id)
            elif action == "retry":
                store.retry(job_id)
                ensure_workers(cfg)
            elif action == "delete":
                store.delete(job_id)
    except MitovizError as exc:
        st.session_state["job_error"] = exc


def job_card(job: dict, expanded: bool) -> None:
    now = time.time()
    views = stage_views(job, now, observe(st.session_state.setdefault("stage_samples", {}), job))
    card, side = st.columns([6, 1], vertical_alignment="top")
    if job.get("run_id"):
        label = "Open results" if job["state"] == "done" else "Results so far"
        pages.link(pages.CURVES, label, container=side, query_params={"run": job["run_id"]},
                   help="The run this job writes: its pages fill in as parts land.")
    with card.expander(job_title(job, views, now), expanded=expanded, icon=STATE_ICONS.get(job["state"]),
                       key=f"job-{job['id']}"):  # a key: the title changes every second, the card stays as opened
        if job.get("cancel_requested") and job["state"] == "running":
            st.warning("Cancel requested: stopping at the next checkpoint…")
        if job.get("error"):
            err = job["error"]
            st.error(f"**{err.get('what', '')}**" + (f"\n\n{err['fix']}" if err.get("fix") else ""),
                     icon=":material/error:")
        for view in views:
            st.progress(view.fraction, text=f"{STAGE_ICONS[view.status]} **{view.name}**: {view.text}")
        if not views and job["state"] == "queued":
            st.caption("Waiting for a worker…")
        cols = st.columns([1, 1, 4])
        if job["state"] in ACTIVE:
            cols[0].button("Cancel", key=f"cancel-{job['id']}", on_click=_act, args=("cancel", job["id"]),
                           icon=":material/stop:")
        else:
            if job["state"] != "done":  # a done job's run is complete: queueing it again would add nothing
                cols[0].button("Retry", key=f"retry-{job['id']}", on_click=_act, args=("retry", job["id"]),
                               icon=":material/replay:", help="Queue it again; the run it started resumes where it "
                               "stopped.")
            cols[1].button("Delete", key=f"delete-{job['id']}", on_click=_act, args=("delete", job["id"]),
                           icon=":material/delete:", help="Forget the job; its results stay on the Runs page.")
        if job["log"]:
            st.code("\n".join(job["log"][-15:]), language=None, wrap_lines=True)


def _move_store_aside(reason: str) -> None:
    try:
        st.session_state["store_moved"] = str(move_store_aside(cfg.jobs_dir, reason))
    except MitovizError as exc:
        st.session_state["job_error"] = exc


def store_problem(exc: MitovizError) -> None:
    """What is wrong with the job store, and the one thing to do: move a damaged store aside (a full disk or a
    refused permission is fixed outside mitoviz, as the message says)."""
    show_error(exc)
    if isinstance(exc, Damaged | UnsafeRecord):
        st.button("Move the job store aside", icon=":material/move_item:", on_click=_move_store_aside,
                  args=(exc.what,), help="Moves it into <home>/quarantine/<timestamp>/ and starts an empty one. "
                  "Finished results are not in it: they stay on the Runs page.")


@st.fragment(run_every=1.5)
def job_list() -> None:
    if err := st.session_state.pop("job_error", None):
        show_error(err)
    if moved := st.session_state.pop("store_moved", None):
        st.success(f"The job store was moved to {moved}; an empty one is in use. Finished results stay on the Runs "
                   "page.", icon=":material/move_item:")
    full = full_disk(cfg)
    if full:
        st.warning(f"**{disk_full(full).what}** No job starts until there is space again.", icon=":material/storage:")
    try:
        with job_store(cfg) as store:
            jobs, workers, quarantined, malformed = store.list(), store.workers(), store.quarantined, store.malformed
        if any(j["state"] in ("queued", "interrupted") for j in jobs) and not workers and not full:
            st.info("Starting a worker…")
            ensure_workers(cfg)
    except MitovizError as exc:
        store_problem(exc)
        return
    if quarantined:
        st.warning(f"Job records that are not JSON were found and moved to {quarantined} (never read).",
                   icon=":material/gpp_maybe:")
    if malformed:
        st.warning(f"{malformed} job record(s) have the wrong shape and are not shown. "
                   "`python -m mitoviz check --repair` moves them aside.", icon=":material/gpp_maybe:")
    if not jobs:
        empty_state("No jobs", "Start the demo on the home page or set up a benchmark.", pages.NEW, "New benchmark")
        return
    focus = st.query_params.get("job")
    for i, job in enumerate(jobs):  # newest first: open the one asked for, or what runs, or the latest
        job_card(job, expanded=job["id"] == focus if focus else job["state"] in ACTIVE or i == 0)


job_list()
