"""Widgets every page shares: settings, errors and empty states, the run picker and the head of every results page."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import streamlit as st

from mitoviz.config import Settings, load_settings
from mitoviz.data.splits import CELL_SPLIT_WARNING
from mitoviz.errors import MitovizError, StorageError
from mitoviz.files import mtime_ns
from mitoviz.results import ResultsStore, Run
from mitoviz.results.faults import Damaged
from mitoviz.results.store import DAMAGED_RUN_FIX
from mitoviz.ui import pages
from mitoviz.ui.data import (
    LATER_TABLES,
    RunData,
    content_stamp,
    damaged_run,
    progress_note,
    run_data,
    show_error,
)

WATCH_S = 2.0  # how often a page showing a running run looks for newly landed parts
REFRESH_S = 10.0  # and reruns at most this often while they keep landing (a trained method lands one per fit)
#: How the run picker marks a run that is not complete.
MARKS = {"running": "partial", "interrupted": "interrupted", "failed": "failed", "cancelled": "cancelled",
         "damaged": "damaged"}


def settings() -> Settings:
    try:
        return load_settings()
    except MitovizError as exc:
        show_error(exc)
        st.stop()
        raise  # unreachable; keeps type checkers calm


@st.cache_data(ttl=60, show_spinner=False)
def _catalogue(key: tuple[object, ...], _cfg: Settings) -> tuple[list[Any], list[Any]]:
    from mitoviz.data.sources import dataset_status
    from mitoviz.encoders import encoder_status

    return dataset_status(_cfg), encoder_status(_cfg)


def catalogue(cfg: Settings) -> tuple[list[Any], list[Any]]:
    """The status of every data set preset and every encoder (what is on disk), cached: the home and New benchmark
    pages rerun on every click. A folder added under a data root or the weights folder (their mtimes change)
    reads again at once; a change deeper down within a minute."""
    folders = (*cfg.all_data_roots(), cfg.weights_root, cfg.demo_dir, cfg.demo_dir / "images")
    return _catalogue((repr(cfg), *(mtime_ns(f) for f in folders)), cfg)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show a MitovizError raised inside the block as a message, not a traceback."""
    try:
        yield
    except MitovizError as exc:
        show_error(exc)


def empty_state(title: str, text: str, page: pages.PageSpec | None = None, label: str = "") -> None:
    with st.container(border=True):
        st.markdown(f"#### {title}")
        st.markdown(text)
        if page:
            pages.link(page, label or "Go", ":material/arrow_forward:")


def synthetic_banner() -> None:
    st.info(
        "**Synthetic demo data.** These results come from the built-in simulated H&E set and no-weight "
        "encoders; they show how mitoviz works, not how real encoders perform.",
        icon=":material/science:",
    )


PICKABLE = ("complete", "running", "interrupted", "damaged")


def run_label(row: dict[str, Any]) -> str:
    """How the run picker names a run: name · what is unfinished about it · created · synthetic (the mark before
    the date: a closed picker cuts the end of a long label)."""
    mark = MARKS.get(row["status"], "")
    if mark and row["status"] != "damaged" and row.get("planned"):
        mark += f" ({row['fits']:,} of {row['planned']:,} fits)"
    parts = (row["name"] or row["run_id"], mark, row["created"], "synthetic" if row["synthetic"] else "")
    return " · ".join(p for p in parts if p)


def default_run(rows: list[dict[str, Any]]) -> int:
    """The newest complete run, else the newest readable one, else the first (rows are newest first)."""
    for wanted in (("complete",), tuple(s for s in MARKS if s != "damaged")):
        found = [i for i, r in enumerate(rows) if r["status"] in wanted]
        if found:
            return found[0]
    return 0


def _pick(cfg: Settings, key: str = "run") -> tuple[Run, dict] | None:
    """The picked run and its listing row (status, problem), or None after drawing the empty state."""
    store = ResultsStore(cfg.results_dir)
    runs = [r for r in store.listing() if r["fits"] or r["status"] in PICKABLE]
    if not runs:
        empty_state(
            "No results yet",
            "Run the one-click demo on the home page, or set up a benchmark. Results appear here as soon as the "
            "first encoder finishes.",
            pages.HOME, "Home: run the demo",
        )
        return None
    ids = [r["run_id"] for r in runs]
    names = {r["run_id"]: run_label(r) for r in runs}
    wanted = st.query_params.get("run")
    index = ids.index(wanted) if wanted in ids else default_run(runs)
    choice = st.sidebar.selectbox("Run", ids, index=index, format_func=names.get, key=f"{key}_picker",
                                  help="Opens on the newest complete run; partial, interrupted and damaged runs "
                                       "are marked.")
    if choice != wanted:
        st.query_params["run"] = choice
    return store.get(choice), runs[ids.index(choice)]


def _live(run: Run) -> tuple[object, ...]:
    """What the watcher compares: the run's content and its status as the listing shows it."""
    try:
        state = run.state()
    except StorageError:
        state = "damaged"
    return (*content_stamp(run), state)


@st.fragment(run_every=WATCH_S)
def _watch(run: Run, seen: tuple[object, ...], drawn_at: float, empty: bool) -> None:
    """Rerun the page when parts landed (at once on an empty page, else at most every REFRESH_S) or the run's
    status changed (at once). A fragment: nothing else reruns while it looks."""
    st.caption(":material/autorenew: This run is still going: the page updates as its parts land.")
    now = _live(run)
    if now[-1] != seen[-1] or (now != seen and (empty or time.time() - drawn_at >= REFRESH_S)):
        st.rerun()


def run_banners(run: Run, data: RunData, state: str) -> None:
    """Partial, stopped, leaky and synthetic runs say so at the head of every results page."""
    from mitoviz.data.splits import LEAKY_SPLITS
    from mitoviz.ui.trust import split_mode

    have = {stem for stem, _ in LATER_TABLES if (run.root / f"{stem}.parquet").exists()}
    note = progress_note(state, data.manifest, len(data.fits), have)
    if note is not None:
        icon = ":material/hourglass_top:" if note.kind == "info" else ":material/warning:"
        (st.info if note.kind == "info" else st.warning)(note.text, icon=icon)
        pages.link(pages.JOBS, "Follow it on the Jobs page" if state == "running" else "Retry it on the Jobs page")
    if split_mode(data) in LEAKY_SPLITS:
        st.warning(f"**This run splits cells, not slides.** {CELL_SPLIT_WARNING}", icon=":material/call_split:")
    if data.synthetic:
        synthetic_banner()


def open_results(title: str) -> tuple[Settings, Run, RunData]:
    """The head of every results page: title, run picker (stops the page when there is no run), data, banners.

    A damaged run stops the page with what is wrong and a button that moves it aside; a partial, interrupted,
    failed or cancelled run shows what it finished under a banner that says so, and while it runs the page
    reruns by itself as parts land."""
    cfg = settings()
    st.title(title)
    if moved := st.session_state.pop("moved_aside", None):
        st.success(f"Run {moved[0]} was moved to {moved[1]}.", icon=":material/move_item:")
    picked = _pick(cfg)
    if picked is None:
        st.stop()
    run, row = picked
    if row["status"] == "damaged":
        damaged_run(cfg, run.run_id, Damaged(row["problem"], DAMAGED_RUN_FIX))
    seen = _live(run)
    data = run_data(cfg, run)
    if row["status"] == "running":
        with st.sidebar:
            _watch(run, seen, time.time(), data.fits.empty)
    run_banners(run, data, row["status"])
    return cfg, run, data
