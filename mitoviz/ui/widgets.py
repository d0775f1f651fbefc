"""Widgets every page shares: settings, the run picker, the jobs badge, errors and empty states."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from mitoviz.config import Settings, load_settings
from mitoviz.errors import MitovizError
from mitoviz.results import ResultsStore, Run
from mitoviz.results.faults import Damaged
from mitoviz.results.store import DAMAGED_RUN_FIX
from mitoviz.ui.data import RunData, damaged_run, run_data

JOBS_PAGE = "views/jobs.py"
HOME_PAGE = "views/home.py"
NEW_PAGE = "views/new_benchmark.py"


def settings() -> Settings:
    try:
        return load_settings()
    except MitovizError as exc:
        show_error(exc)
        st.stop()
        raise  # unreachable; keeps type checkers calm


def show_error(exc: MitovizError) -> None:
    st.error(f"**{exc.what}**" + (f"\n\n{exc.fix}" if exc.fix else ""), icon=":material/error:")


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show a MitovizError raised inside the block as a message, not a traceback."""
    try:
        yield
    except MitovizError as exc:
        show_error(exc)


def empty_state(title: str, text: str, page: str | None = None, label: str = "") -> None:
    with st.container(border=True):
        st.markdown(f"#### {title}")
        st.markdown(text)
        if page:
            st.page_link(page, label=label or "Go", icon=":material/arrow_forward:")


def synthetic_banner() -> None:
    st.info(
        "**Synthetic demo data.** These results come from the built-in simulated H&E set and no-weight "
        "encoders; they show how mitoviz works, not how real encoders perform.",
        icon=":material/science:",
    )


PICKABLE = ("complete", "running", "interrupted", "damaged")


def _pick(cfg: Settings, key: str = "run") -> tuple[Run, dict] | None:
    """The picked run and its listing row (status, problem), or None after drawing the empty state."""
    store = ResultsStore(cfg.results_dir)
    runs = [r for r in store.listing() if r["fits"] or r["status"] in PICKABLE]
    if not runs:
        empty_state(
            "No results yet",
            "Run the one-click demo on the home page, or set up a benchmark. Results appear here as soon as the "
            "first encoder finishes.",
            HOME_PAGE, "Home: run the demo",
        )
        return None
    ids = [r["run_id"] for r in runs]
    names = {r["run_id"]: " · ".join(x for x in (r["name"] or r["run_id"], r["created"], r["status"]) if x)
             + (" · synthetic" if r["synthetic"] else "") for r in runs}
    wanted = st.query_params.get("run")
    healthy = [i for i, r in enumerate(runs) if r["status"] != "damaged"]
    index = ids.index(wanted) if wanted in ids else (healthy or [0])[0]
    choice = st.sidebar.selectbox("Run", ids, index=index, format_func=names.get, key=f"{key}_picker")
    if choice != wanted:
        st.query_params["run"] = choice
    return store.get(choice), runs[ids.index(choice)]


def run_picker(cfg: Settings, key: str = "run") -> Run | None:
    """Pick a stored run; the choice lives in the URL (``?run=``) so a reload keeps it. Interrupted and damaged
    runs are listed (a damaged one opens on what is wrong with it) but never chosen by default."""
    picked = _pick(cfg, key)
    return picked[0] if picked else None


def open_results(title: str) -> tuple[Settings, Run, RunData]:
    """The head of every results page: title, run picker (stops the page when there is no run), data, banner.

    A damaged run stops the page with what is wrong and a button that moves it aside; an interrupted one
    shows its results so far under a warning."""
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
    data = run_data(cfg, run)
    if run.state(data.manifest) == "interrupted":
        st.warning("**This run was interrupted**: its process stopped before it finished, so what is shown is what "
                   "it finished. Retry its job on the Jobs page, or `python -m mitoviz run SPEC --resume`, to "
                   "complete it.", icon=":material/warning:")
    if data.synthetic:
        synthetic_banner()
    return cfg, run, data
