import time

import streamlit as st

from mitoviz.errors import MitovizError
from mitoviz.jobs import ACTIVE, job_store, move_store_aside
from mitoviz.jobs.jsondisk import UnsafeRecord
from mitoviz.jobs.worker import ensure_workers, full_disk
from mitoviz.results.faults import Damaged, disk_full
from mitoviz.ui.widgets import NEW_PAGE, empty_state, settings, show_error

cfg = settings()
st.title("Jobs")
st.caption("Benchmarks run in a background worker: close the tab or restart the app, and they keep going.")

STATE_ICONS = {"queued": ":material/schedule:", "running": ":material/play_circle:", "done": ":material/check_circle:",
               "failed": ":material/error:", "cancelled": ":material/stop_circle:", "interrupted": ":material/warning:"}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m {seconds % 60:02d}s"


def _stage_line(name: str, st_: dict) -> str:
    done, total, unit = st_.get("done", 0), st_.get("total", 0) or 0, st_.get("unit", "")
    parts = [f"**{name}**: {done:,} / {total:,} {unit}".strip()]
    if unit and (st_.get("rate") or 0) >= 0.05:
        parts.append(f"{st_['rate']:.1f} {unit}/s")
    if st_.get("eta") and done < total:
        parts.append(f"ETA {_duration(st_['eta'])}")
    return " · ".join(parts)


def _act(action: str, job_id: str) -> None:
    try:
        store = job_store(cfg)
        try:
            if action == "cancel":
                store.cancel(job_id)
            elif action == "retry":
                store.retry(job_id)
                ensure_workers(cfg)
            elif action == "delete":
                store.delete(job_id)
        finally:
            store.close()
    except MitovizError as exc:
        st.session_state["job_error"] = exc


def job_card(job: dict, expanded: bool) -> None:
    elapsed = (job.get("finished") or time.time()) - job["started"] if job.get("started") else None
    title = f"{job['name']} · {job['state']} · {_duration(elapsed)} · job {job['id']}"
    with st.expander(title, expanded=expanded, icon=STATE_ICONS.get(job["state"])):
        if job.get("cancel_requested") and job["state"] == "running":
            st.warning("Cancel requested: stopping at the next checkpoint…")
        stages = sorted(job["stages"].items(), key=lambda kv: kv[1].get("order", 0))
        for name, st_ in stages:
            total = st_.get("total") or 0
            st.progress(min(1.0, st_.get("done", 0) / total) if total else 0.0, text=_stage_line(name, st_))
        if not stages and job["state"] == "queued":
            st.caption("Waiting for a worker…")
        if job.get("error"):
            err = job["error"]
            st.error(f"**{err.get('what', '')}**\n\n{err.get('fix', '')}", icon=":material/error:")
        cols = st.columns([1, 1, 1, 3])
        if job["state"] in ACTIVE:
            cols[0].button("Cancel", key=f"cancel-{job['id']}", on_click=_act, args=("cancel", job["id"]),
                           icon=":material/stop:")
        else:
            cols[0].button("Retry", key=f"retry-{job['id']}", on_click=_act, args=("retry", job["id"]),
                           icon=":material/replay:")
            cols[1].button("Delete", key=f"delete-{job['id']}", on_click=_act, args=("delete", job["id"]),
                           icon=":material/delete:")
        if job.get("run_id"):
            cols[3].page_link("views/curves.py", label="Open results", icon=":material/show_chart:",
                              query_params={"run": job["run_id"]})
        if job["log"]:
            st.code("\n".join(job["log"][-15:]), language=None)


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
        store = job_store(cfg)
        try:
            jobs, workers, quarantined, malformed = store.list(), store.workers(), store.quarantined, store.malformed
        finally:
            store.close()
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
        empty_state("No jobs", "Start the demo on the home page or set up a benchmark.", NEW_PAGE, "New benchmark")
        return
    focus = st.query_params.get("job")
    for job in jobs:
        job_card(job, expanded=job["id"] == focus or (focus is None and job["state"] in ACTIVE))


job_list()
