"""Domain shift tables: train × test domain matrices, in- vs out-of-domain drops, leave-one-out, RI.

Every function takes the axis (any CellTable column) as an argument; none assumes which exist.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mitoviz.report.curves import seed_summary

RI_COLUMNS = {
    "value": "RI",
    "chance": "RI of random neighbours",
    "so": "same class, other domain",
    "os": "other class, same domain",
    "undefined_frac": "undefined share",
}


def _protocol_rows(table: pd.DataFrame, protocol: str, axis: str, budget: str) -> pd.DataFrame:
    if table.empty:
        return table
    return table[
        (table["protocol"] == f"{protocol}:{axis}")
        & (table["test_axis"] == axis)
        & (table["budget"] == budget)
    ]


def domain_matrix(
    table: pd.DataFrame, metric: str, axis: str, budget: str, labels: list[str]
) -> pd.DataFrame:
    """Train domain × test domain means per method and budget under the ``cross:<axis>`` protocol."""
    rows = _protocol_rows(table, "cross", axis, budget)
    rows = rows[rows["label"].isin(labels)] if not rows.empty else rows
    if rows.empty:
        return pd.DataFrame(
            columns=["label", "train_domain", "test_domain", "mean", "sd", "n_seeds", "in_domain"]
        )
    keys = ["label", "train_domain", "test_domain"]
    out = rows.groupby(keys)[metric].apply(seed_summary).unstack().reset_index()
    out["in_domain"] = out["train_domain"] == out["test_domain"]
    return out


def domain_drop(table: pd.DataFrame, metric: str, axis: str, budget: str) -> pd.DataFrame:
    """Per method: mean in-domain (diagonal) vs out-of-domain (off-diagonal) score and the drop.

    Means are taken per seed first, so the sd describes seed-to-seed variation of the drop.
    """
    rows = _protocol_rows(table, "cross", axis, budget)
    if rows.empty:
        return pd.DataFrame(columns=["label", "in_domain", "out_of_domain", "drop", "drop_sd", "n_seeds"])
    rows = rows.assign(
        where=np.where(rows["train_domain"] == rows["test_domain"], "in_domain", "out_of_domain")
    )
    per_seed = rows.groupby(["label", "seed", "where"])[metric].mean().unstack("where").reset_index()
    if "out_of_domain" not in per_seed:
        per_seed["out_of_domain"] = np.nan
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
    return lodo_table(table, metric, axis, budget).pivot(index="label", columns="held_out", values="mean")


def robustness_table(robustness: pd.DataFrame) -> pd.DataFrame:
    """The stored Robustness Index rows with readable column names (the scale goes in the caption)."""
    return robustness.rename(columns=RI_COLUMNS).drop(columns=["scale"], errors="ignore")


def robustness_scale(robustness: pd.DataFrame) -> str:
    """The scale the RI values are on (stored with every value), or "" when there are none."""
    if robustness.empty or "scale" not in robustness:
        return ""
    return str(robustness["scale"].iloc[0])
