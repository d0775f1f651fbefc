"""Domain shift tables: train × test domain matrices, in- vs out-of-domain drops, leave-one-out, RI.

Every function takes the protocol and the test axis (any CellTable column, ``dataset`` for external test
sets) as arguments; none assumes which exist. Intervals: :mod:`mitoviz.report.domain_trust`.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from mitoviz.data.cells import EXTERNAL
from mitoviz.report.curves import COLUMN_NAMES, seed_summary
from mitoviz.report.names import DATASET, axis_name

RI_COLUMNS = {
    "value": "RI",
    "chance": "RI of random neighbours",
    "so": "same class, other domain",
    "os": "other class, same domain",
    "undefined_frac": "undefined share",
    "k": "neighbours (k)",
    "n": "cells",
}


def _protocol_rows(table: pd.DataFrame, protocol: str, axis: str, budget: str) -> pd.DataFrame:
    if table.empty:
        return table
    return table[
        (table["protocol"] == f"{protocol}:{axis}")
        & (table["test_axis"] == axis)
        & (table["budget"] == budget)
    ]


def _rows(table: pd.DataFrame, protocol: str, test_axis: str, budget: str) -> pd.DataFrame:
    if table.empty:
        return table
    return table[
        (table["protocol"] == protocol) & (table["test_axis"] == test_axis) & (table["budget"] == budget)
    ]


def own_datasets(cells: pd.DataFrame) -> list[str]:
    """The data sets the experiment trains on (every one but its external test sets)."""
    if DATASET not in cells:
        return []
    if EXTERNAL not in cells:  # a run from before external test sets: every data set is its own
        return sorted(set(cells[DATASET].astype(str)))
    return sorted(set(cells.loc[~cells[EXTERNAL].fillna(False).astype(bool), DATASET].astype(str)))


def in_domain(
    protocol: str, test_axis: str, train_domain: pd.Series, test_domain: pd.Series, own: Collection[str] = ()
) -> pd.Series:
    """Whether each (train domain, test domain) pair is in-domain; missing (NA) where that is undefined.

    ``cross:<a>`` tested on ``a``: the same domain. ``lodo:<a>`` tested on ``a``: any domain but the one
    left out. Any protocol tested on ``dataset`` when the run has external test sets: the experiment's own
    data sets (``own``) are in, the external ones out (never trained on).
    """
    kind, _, axis = protocol.partition(":")
    test = test_domain.astype(str)
    if axis and axis == test_axis and kind == "cross":
        found = train_domain.astype(str) == test
    elif axis and axis == test_axis and kind == "lodo":
        found = train_domain.astype(str) != "not " + test
    elif test_axis == DATASET and own and not set(test) <= set(own):
        found = test.isin(list(own))
    else:
        return pd.Series(pd.NA, index=test_domain.index, dtype="boolean")
    return found.astype("boolean")


def has_drop(protocol: str, test_axis: str, test_domains: Collection[str], own: Collection[str] = ()) -> bool:
    """Whether in- vs out-of-domain is defined for this protocol and test axis."""
    domains = pd.Series(sorted(test_domains), dtype=object)
    return bool(in_domain(protocol, test_axis, domains, domains, own).notna().any())


def domain_matrix(
    table: pd.DataFrame,
    metric: str,
    protocol: str,
    test_axis: str,
    budget: str,
    labels: list[str],
    own: Collection[str] = (),
) -> pd.DataFrame:
    """Train domain × test domain means per method at one budget: the fits of ``protocol`` (one row per
    training domain; ``all`` when pooled) scored on each domain of ``test_axis`` (any domain column)."""
    rows = _rows(table, protocol, test_axis, budget)
    rows = rows[rows["label"].isin(labels)] if not rows.empty else rows
    if rows.empty:
        return pd.DataFrame(
            columns=["label", "train_domain", "test_domain", "mean", "sd", "n_seeds", "in_domain"]
        )
    keys = ["label", "train_domain", "test_domain"]
    out = rows.groupby(keys)[metric].apply(seed_summary).unstack().reset_index()
    out["in_domain"] = in_domain(protocol, test_axis, out["train_domain"], out["test_domain"], own)
    return out


DROP_COLUMNS = ["label", "in_domain", "out_of_domain", "drop", "drop_sd", "n_seeds"]


def domain_drop(
    table: pd.DataFrame, metric: str, protocol: str, test_axis: str, budget: str, own: Collection[str] = ()
) -> pd.DataFrame:
    """Per method: mean in-domain vs out-of-domain score (:func:`in_domain`) and the drop.

    Means are taken per seed first, so the sd describes seed-to-seed variation of the drop.
    """
    rows = _rows(table, protocol, test_axis, budget)
    if rows.empty:
        return pd.DataFrame(columns=DROP_COLUMNS)
    flag = in_domain(protocol, test_axis, rows["train_domain"], rows["test_domain"], own)
    rows = rows[flag.notna().to_numpy()].assign(where=np.where(flag.dropna(), "in_domain", "out_of_domain"))
    if rows.empty:
        return pd.DataFrame(columns=DROP_COLUMNS)
    per_seed = rows.groupby(["label", "seed", "where"])[metric].mean().unstack("where").reset_index()
    for where in ("in_domain", "out_of_domain"):
        if where not in per_seed:
            per_seed[where] = np.nan
    per_seed["drop"] = per_seed["in_domain"] - per_seed["out_of_domain"]
    out = (
        per_seed.groupby("label")
        .agg(
            in_domain=("in_domain", "mean"),
            out_of_domain=("out_of_domain", "mean"),
            drop=("drop", "mean"),
            drop_sd=("drop", "std"),
            n_seeds=("seed", "nunique"),
        )
        .reset_index()
    )
    return out.sort_values("drop").reset_index(drop=True)


def lodo_table(table: pd.DataFrame, metric: str, axis: str, budget: str) -> pd.DataFrame:
    """Leave-one-domain-out: the score on each held-out domain, per method."""
    rows = _protocol_rows(table, "lodo", axis, budget)
    if not rows.empty:
        rows = rows[rows["train_domain"] == "not " + rows["test_domain"]]
    if rows.empty:
        return pd.DataFrame(columns=["label", "held_out", "mean", "sd", "n_seeds"])
    out = rows.groupby(["label", "test_domain"])[metric].apply(seed_summary).unstack().reset_index()
    return out.rename(columns={"test_domain": "held_out"})


def lodo_matrix(table: pd.DataFrame, metric: str, axis: str, budget: str) -> pd.DataFrame:
    """:func:`lodo_table` as a method × held-out domain table of means."""
    table = lodo_table(table, metric, axis, budget).pivot(index="label", columns="held_out", values="mean")
    return table.rename_axis(index="method", columns="held out")


def robustness_table(robustness: pd.DataFrame) -> pd.DataFrame:
    """The stored Robustness Index rows with readable column names (the scale goes in the caption)."""
    return robustness.rename(columns=RI_COLUMNS).drop(columns=["scale"], errors="ignore")


def robustness_scale(robustness: pd.DataFrame) -> str:
    """The scale the RI values are on (stored with every value), or "" when there are none."""
    if robustness.empty or "scale" not in robustness:
        return ""
    return str(robustness["scale"].iloc[0])


DROP_NAMES = {
    "label": "method",
    "in_domain": "in-domain score",
    "in_low": "in-domain 95 % low",
    "in_high": "in-domain 95 % high",
    "out_of_domain": "out-of-domain score",
    "out_low": "out-of-domain 95 % low",
    "out_high": "out-of-domain 95 % high",
    "drop": "drop",
    "low": "drop 95 % low",
    "high": "drop 95 % high",
    "drop_sd": "drop SD over seeds",
    "n_seeds": "seeds",
}
MATRIX_NAMES = {
    "label": "method",
    "train_domain": "trained on",
    "test_domain": "tested on",
    **{k: COLUMN_NAMES[k] for k in ("mean", "low", "high", "sd", "n_seeds")},
    "in_domain": "in domain",
}


def with_domain_intervals(
    matrix: pd.DataFrame, drops: pd.DataFrame, cells: pd.DataFrame, bootstrapped: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The matrix and drop tables with the intervals of :func:`report.domain_trust.domain_trust` (NaN where
    none was computed)."""
    keys = ["label", "train_domain", "test_domain"]
    matrix = (
        matrix.merge(cells[[*keys, "low", "high"]], on=keys, how="left")
        if len(cells)
        else matrix.assign(low=np.nan, high=np.nan)
    )
    extra = ["in_low", "in_high", "out_low", "out_high", "low", "high"]
    if len(bootstrapped):
        drops = drops.merge(bootstrapped[["label", *extra]], on="label", how="left")
    else:
        drops = drops.assign(**dict.fromkeys(extra, np.nan))
    return matrix, drops


def drop_numbers(drops: pd.DataFrame) -> pd.DataFrame:
    """A drop table with readable column names."""
    return drops.reindex(columns=list(DROP_NAMES)).rename(columns=DROP_NAMES)


def matrix_numbers(matrix: pd.DataFrame) -> pd.DataFrame:
    """A domain matrix with readable column names."""
    return matrix.reindex(columns=list(MATRIX_NAMES)).rename(columns=MATRIX_NAMES)


def protocol_name(protocol: str) -> str:
    """How a protocol trains, in words: ``cross:scanner`` → ``on one scanner at a time``."""
    kind, _, axis = protocol.partition(":")
    if kind == "cross":
        return f"on one {axis_name(axis)} at a time"
    if kind == "lodo":
        return f"on all but one {axis_name(axis)}"
    return "on all domains (pooled)" if kind == "pooled" else protocol


def default_test_axis(protocol: str, axes: list[str]) -> str:
    """The test axis to open on: the protocol's own axis, else external data sets, else the first one."""
    own = protocol.partition(":")[2]
    for axis in (own, DATASET):
        if axis in axes:
            return axis
    return axes[0]
