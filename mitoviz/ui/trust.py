"""Cached bootstrap tables for the curves and domain pages, keyed by the run and its change stamp.

Only what a page shows is computed (one metric, one protocol, training domain and test axis), so a run in
progress recomputes as its parts land. Tables that :func:`mitoviz.report.precompute.precompute` stored in a
finished run are read instead, while they still describe the run's fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
import streamlit as st

from mitoviz.config import Settings
from mitoviz.report.domain_trust import (
    CELL_COLUMNS,
    DOMAIN_TABLES,
    DROP_COLUMNS,
    domain_trust,
    stored_domains,
)
from mitoviz.report.domains import own_datasets
from mitoviz.report.methods import labelled
from mitoviz.report.trust import TABLES, CellInfo, Trust, facet_trust, stored
from mitoviz.results import Run
from mitoviz.ui.data import RunData, content_stamp, guarded


def _stored_stamp(run: Run, tables: Iterable[str] = TABLES.values()) -> float:
    paths = [run.root / f"{table}.parquet" for table in tables]
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


@st.cache_data(show_spinner=False, max_entries=6)
def _stored(run_id: str, stamp: tuple[object, ...], stored_stamp: float, _run: Run, _fits: pd.DataFrame) -> Trust | None:
    return stored(_run, _fits)


@st.cache_data(show_spinner=False, max_entries=4)
def _cell_info(run_id: str, stamp: tuple[object, ...], _data: RunData) -> CellInfo:
    return CellInfo.of(_data.cells, _data.positive)


def _predictions(run: Run, fits: pd.DataFrame) -> pd.DataFrame:
    return run.predictions(columns=["fit_id", "cell", "prob"], fit_ids=fits["fit_id"].tolist())


@st.cache_data(show_spinner=False, max_entries=48)
def _facet(
    run_id: str,
    stamp: tuple[object, ...],
    metric: str,
    protocol: str,
    train_domain: str,
    test_axis: str,
    _run: Run,
    _data: RunData,
) -> Trust:
    fits = labelled(_data.fits)
    facet = fits[(fits["protocol"] == protocol) & (fits["train_domain"] == train_domain)]
    info = _cell_info(run_id, stamp, _data)
    return facet_trust(fits, _predictions(_run, facet), info, [metric], protocol, train_domain, test_axis)


def facet(
    settings: Settings, run: Run, data: RunData, metric: str, protocol: str, train_domain: str, test_axis: str
) -> Trust:
    """The bootstrap tables of one facet for ``metric``: stored ones when fresh, else computed (cached)."""
    stamp = content_stamp(run)
    saved = guarded(settings, run, lambda: _stored(run.run_id, stamp, _stored_stamp(run), run, data.fits))
    if saved is not None:
        found = saved.where(metric=metric, protocol=protocol, train_domain=train_domain, test_axis=test_axis)
        if len(found.points):
            return found
    return guarded(
        settings, run, lambda: _facet(run.run_id, stamp, metric, protocol, train_domain, test_axis, run, data)
    )


@st.cache_data(show_spinner=False, max_entries=24)
def _domain(
    run_id: str,
    stamp: tuple[object, ...],
    metric: str,
    protocol: str,
    test_axis: str,
    budget: str,
    labels: tuple[str, ...],
    _run: Run,
    _data: RunData,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    fits = labelled(_data.fits)
    at = fits[(fits["protocol"] == protocol) & (fits["budget"] == budget) & fits["label"].isin(labels)]
    info = _cell_info(run_id, stamp, _data)
    return domain_trust(
        fits,
        _predictions(_run, at),
        info,
        metric,
        protocol,
        test_axis,
        budget,
        labels,
        own_datasets(_data.cells),
    )


@st.cache_data(show_spinner=False, max_entries=6)
def _stored_domains(
    run_id: str, stamp: tuple[object, ...], stored_stamp: float, _run: Run, _fits: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    return stored_domains(_run, _fits)


def domain(
    settings: Settings,
    run: Run,
    data: RunData,
    metric: str,
    protocol: str,
    test_axis: str,
    budget: str,
    labels: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Matrix cells and drops with their intervals (:func:`mitoviz.report.domain_trust.domain_trust`): stored
    ones when the run holds them for this view, else computed (cached)."""
    stamp = content_stamp(run)
    saved = guarded(
        settings,
        run,
        lambda: _stored_domains(
            run.run_id, stamp, _stored_stamp(run, DOMAIN_TABLES.values()), run, data.fits
        ),
    )
    if saved is not None:
        found = [
            f[
                (f["protocol"] == protocol)
                & (f["test_axis"] == test_axis)
                & (f["budget"] == budget)
                & (f["metric"] == metric)
                & f["label"].isin(list(labels))
            ]
            for f in saved
        ]
        if len(found[0]):
            return found[0][CELL_COLUMNS].reset_index(drop=True), found[1][DROP_COLUMNS].reset_index(
                drop=True
            )
    return guarded(
        settings,
        run,
        lambda: _domain(
            run.run_id, stamp, metric, protocol, test_axis, budget, tuple(sorted(labels)), run, data
        ),
    )


def split_mode(data: RunData) -> str:
    """The run's split mode (``slide`` unless its spec says otherwise)."""
    return str((data.manifest.get("spec") or {}).get("split") or "slide")
