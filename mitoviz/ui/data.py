"""Cached reads of the results store for the pages (keyed by run and its change stamp)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from mitoviz.config import Settings
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


def run_data(settings: Settings, run: Run) -> RunData:
    return _run_data(str(settings.results_dir), run.run_id, run.stamp())


@st.cache_data(show_spinner="Loading predictions…", max_entries=24)
def _predictions(results_dir: str, run_id: str, stamp: float, fit_ids: tuple[str, ...]) -> pd.DataFrame:
    return ResultsStore(results_dir).get(run_id).predictions(fit_ids=list(fit_ids))


def predictions(settings: Settings, run: Run, fit_ids: list[str]) -> pd.DataFrame:
    return _predictions(str(settings.results_dir), run.run_id, run.stamp(), tuple(sorted(fit_ids)))


@st.cache_data(show_spinner="Loading maps…", max_entries=6)
def _projections(results_dir: str, run_id: str, stamp: float) -> pd.DataFrame:
    return ResultsStore(results_dir).get(run_id).projections()


def projections(settings: Settings, run: Run) -> pd.DataFrame:
    return _projections(str(settings.results_dir), run.run_id, run.stamp())
