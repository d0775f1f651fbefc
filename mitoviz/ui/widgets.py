"""Widgets every page shares: settings, the run picker, the jobs badge, errors and empty states."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from mitoviz.config import Settings, load_settings
from mitoviz.errors import MitovizError
from mitoviz.results import ResultsStore, Run
from mitoviz.ui.data import RunData, run_data

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


def run_picker(cfg: Settings, key: str = "run") -> Run | None:
    """Pick a stored run; the choice lives in the URL (``?run=``) so a reload keeps it."""
    store = ResultsStore(cfg.results_dir)
    runs = [r for r in store.listing() if r["fits"] or r["status"] in ("complete", "running")]
    if not runs:
        empty_state(
            "No results yet",
            "Run the one-click demo on the home page, or set up a benchmark. Results appear here as soon as the "
            "first encoder finishes.",
            HOME_PAGE, "Home: run the demo",
        )
        return None
    ids = [r["run_id"] for r in runs]
    names = {r["run_id"]: f"{r['name']} · {r['created']} · {r['status']}" + (" · synthetic" if r["synthetic"] else "")
             for r in runs}
    wanted = st.query_params.get("run")
    index = ids.index(wanted) if wanted in ids else 0
    choice = st.sidebar.selectbox("Run", ids, index=index, format_func=names.get, key=f"{key}_picker")
    if choice != wanted:
        st.query_params["run"] = choice
    return store.get(choice)


def open_results(title: str) -> tuple[Settings, Run, RunData]:
    """The head of every results page: title, run picker (stops the page when there is no run), data, banner."""
    cfg = settings()
    st.title(title)
    run = run_picker(cfg)
    if run is None:
        st.stop()
    data = run_data(cfg, run)
    if data.synthetic:
        synthetic_banner()
    return cfg, run, data
