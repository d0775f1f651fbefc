"""Cached reads of the results store for the pages, keyed by the run and what it holds (:func:`content_stamp`).

A run that cannot be read (a damaged table or manifest, a refused permission) never reaches a page as a
traceback: the read stops the page with what is wrong and one action, moving the run aside. A run that is not
complete says so (:func:`progress_note`): how many fits landed, what is not computed yet, how to finish it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import pandas as pd
import streamlit as st

from mitoviz.config import Settings
from mitoviz.errors import MitovizError, StorageError
from mitoviz.files import mtime_ns
from mitoviz.results import ResultsStore, Run

#: Tables a run writes after its fits: (file stem, what the banner calls them when they are missing).
LATER_TABLES = (("projections", "maps"), ("robustness", "robustness"))
STORED_STATS = "trust_points"  # written last (report.precompute.precompute); pages compute intervals without it
RESUME = ("Retry its job on the Jobs page, or run `python -m mitoviz run SPEC --resume`: finished parts are kept, "
          "so it continues where it stopped.")


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


def content_stamp(run: Run) -> tuple[object, ...]:
    """Changes when the run gains a part, a map or a table, or changes status; unlike ``Run.stamp`` not with the
    running run's heartbeat (every 10 s), so cached reads and bootstraps are not redone while nothing landed."""
    fits = run.root / "fits"
    parts = len(list(fits.glob("*.parquet"))) if fits.is_dir() else 0
    try:
        status = run.manifest().get("status")
    except StorageError:
        status = "damaged"
    later = [stem for stem, _ in LATER_TABLES] + [STORED_STATS, "cells"]
    return (parts, mtime_ns(fits), *(mtime_ns(run.root / f"{stem}.parquet") for stem in later), status)


@dataclass(frozen=True)
class ProgressNote:
    """What the head of a results page says about a run that is not complete."""

    kind: str  # "info" (still running) or "warning" (stopped before the end)
    text: str


def progress_note(state: str, manifest: dict[str, Any], n_fits: int, have: set[str]) -> ProgressNote | None:
    """The banner for a run in ``state`` (its listing status), or None for a complete run.

    ``n_fits``: fits that landed (read from the run, so the count matches what the page shows); ``have``: the
    stems of the later tables that exist (``projections``, ``robustness``)."""
    if state == "complete":
        return None
    planned = int(manifest.get("n_fits_planned") or 0)
    count = f"{n_fits:,} of {planned:,} fits" if planned else f"{n_fits:,} fits"
    missing = [name for stem, name in LATER_TABLES if stem not in have]
    later = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)
    if state == "running":
        if planned and n_fits >= planned:
            text = f"**Partial run: all {planned:,} fits landed**; computing {later or 'the last statistics'} now."
        else:
            text = (f"**Partial run: {count} landed**" + (f"; {later} not computed yet" if later else "")
                    + ". This page fills in as parts land.")
        return ProgressNote("info", text)
    what = {
        "interrupted": "**This run was interrupted**: its process stopped before the run finished (the worker died "
                       "or the machine restarted)",
        "cancelled": "**This run was cancelled**",
        "failed": f"**This run failed**: {manifest.get('error') or 'see its job on the Jobs page'}",
    }.get(state, f"**This run is {state}**")
    shown = f"{count} landed" + (f"; {later} not computed" if later else "")
    return ProgressNote("warning", f"{what.rstrip('.')}. What is shown is what it finished ({shown}). {RESUME}")


@st.cache_data(show_spinner="Loading results…", max_entries=6)
def _run_data(results_dir: str, run_id: str, stamp: tuple[object, ...]) -> RunData:
    from mitoviz.report import (  # scipy and the report modules: only results pages pay for them
        joined,
        labelled,
    )

    run = ResultsStore(results_dir).get(run_id)
    fits, metrics = labelled(run.fits()), run.metrics()
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


def show_error(exc: MitovizError, icon: str = ":material/error:") -> None:
    """What is wrong, in bold, and what to do."""
    st.error(f"**{exc.what}**" + (f"\n\n{exc.fix}" if exc.fix else ""), icon=icon)


def damaged_run(settings: Settings, run_id: str, exc: StorageError) -> NoReturn:
    """Stop the page: what is wrong with the run, and the button that moves it aside (nothing is deleted)."""
    if failed := st.session_state.pop("move_aside_error", None):
        show_error(failed)
    show_error(exc, ":material/broken_image:")
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
    return guarded(settings, run, lambda: _run_data(str(settings.results_dir), run.run_id, content_stamp(run)))


@st.cache_data(show_spinner="Loading predictions…", max_entries=24)
def _predictions(results_dir: str, run_id: str, stamp: tuple[object, ...], fit_ids: tuple[str, ...]) -> pd.DataFrame:
    return ResultsStore(results_dir).get(run_id).predictions(fit_ids=list(fit_ids))


def predictions(settings: Settings, run: Run, fit_ids: list[str]) -> pd.DataFrame:
    stamp = content_stamp(run)
    return guarded(settings, run,
                   lambda: _predictions(str(settings.results_dir), run.run_id, stamp, tuple(sorted(fit_ids))))


@st.cache_data(show_spinner="Loading maps…", max_entries=6)
def _projections(results_dir: str, run_id: str, stamp: tuple[object, ...]) -> pd.DataFrame:
    return ResultsStore(results_dir).get(run_id).projections()


def projections(settings: Settings, run: Run) -> pd.DataFrame:
    return guarded(settings, run, lambda: _projections(str(settings.results_dir), run.run_id, content_stamp(run)))
