"""Cached reads of the results store for the pages (keyed by run and its change stamp).

A run that cannot be read (a damaged table or manifest, a refused permission) never reaches a page as a
traceback: the read stops the page with what is wrong and one action, moving the run aside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import pandas as pd
import streamlit as st

from mitoviz.config import Settings
from mitoviz.errors import MitovizError, StorageError
from mitoviz.report import joined
from mitoviz.results import ResultsStore, Run


@dataclass(frozen=True)
class RunData:
    run_id: str
    manifest: dict[str, Any]
    cells: pd.DataFrame
    fits: pd.DataFrame
    table: pd.DataFrame  # metrics joined to fits
    robustness: pd.DataFrame

    @property
    def positive(self) -> str:
        return self.manifest.get("positive_label", "mitotic figure")

    @property
    def synthetic(self) -> bool:
        return bool(self.manifest.get("synthetic"))

    def labels(self, kind: str | None = None) -> list[str]:
        if self.table.empty:
            return []
        rows = self.table if kind is None else self.table[self.table["kind"] == kind]
        return sorted(rows["label"].unique())

    def budgets(self) -> list[str]:
        if self.fits.empty:
            return []
        order = self.fits.drop_duplicates("budget").sort_values(["budget_kind", "budget_value"])
        return order["budget"].tolist()


@st.cache_data(show_spinner="Loading results…", max_entries=6)
def _run_data(results_dir: str, run_id: str, stamp: float) -> RunData:
    run = ResultsStore(results_dir).get(run_id)
    fits, metrics = run.fits(), run.metrics()
    return RunData(run_id, run.manifest(), run.cells(), fits, joined(fits, metrics), run.table("robustness"))


T = TypeVar("T")


def _move_aside(settings: Settings, run_id: str, reason: str) -> None:
    try:
        where = ResultsStore(settings.results_dir).move_aside(run_id, reason=reason)
    except MitovizError as exc:
        st.session_state["move_aside_error"] = exc
        return
    st.session_state["moved_aside"] = (run_id, str(where))
    st.query_params.pop("run", None)


def damaged_run(settings: Settings, run_id: str, exc: StorageError) -> NoReturn:
    """Stop the page: what is wrong with the run, and the button that moves it aside (nothing is deleted)."""
    if failed := st.session_state.pop("move_aside_error", None):
        st.error(f"**{failed.what}**\n\n{failed.fix}", icon=":material/error:")
    st.error(f"**{exc.what}**" + (f"\n\n{exc.fix}" if exc.fix else ""), icon=":material/broken_image:")
    st.button("Move this run aside", key=f"move-aside-{run_id}", icon=":material/move_item:", on_click=_move_aside,
              args=(settings, run_id, exc.what), help="Moves the run folder into <home>/quarantine/<timestamp>/.")
    st.stop()
    raise AssertionError("st.stop() returned")  # only without a script run context


def guarded(settings: Settings, run: Run, read: Callable[[], T]) -> T:
    """``read()``, or the damaged-run message and its repair button instead of a traceback."""
    try:
        return read()
    except StorageError as exc:
        damaged_run(settings, run.run_id, exc)


def run_data(settings: Settings, run: Run) -> RunData:
    return guarded(settings, run, lambda: _run_data(str(settings.results_dir), run.run_id, run.stamp()))


@st.cache_data(show_spinner="Loading predictions…", max_entries=24)
def _predictions(results_dir: str, run_id: str, stamp: float, fit_ids: tuple[str, ...]) -> pd.DataFrame:
    return ResultsStore(results_dir).get(run_id).predictions(fit_ids=list(fit_ids))


def predictions(settings: Settings, run: Run, fit_ids: list[str]) -> pd.DataFrame:
    stamp = run.stamp()
    return guarded(settings, run,
                   lambda: _predictions(str(settings.results_dir), run.run_id, stamp, tuple(sorted(fit_ids))))


@st.cache_data(show_spinner="Loading maps…", max_entries=6)
def _projections(results_dir: str, run_id: str, stamp: float) -> pd.DataFrame:
    return ResultsStore(results_dir).get(run_id).projections()


def projections(settings: Settings, run: Run) -> pd.DataFrame:
    return guarded(settings, run, lambda: _projections(str(settings.results_dir), run.run_id, run.stamp()))
