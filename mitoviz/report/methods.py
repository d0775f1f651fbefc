"""Methods as the pages name them, and the metrics table joined to the fits that produced it.

Every kind of method (``probe``, ``lora``, ``finetune``, ``e2e``) is treated alike: a method is
frozen when its kind is ``probe`` and trained otherwise; no kind is special.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mitoviz.report.names import KIND_NAMES

FIT_KEYS = [
    "method",
    "kind",
    "classifier",
    "protocol",
    "axis",
    "train_domain",
    "budget",
    "budget_kind",
    "budget_value",
]
FROZEN, TRAINED = "frozen", "trained"


def training(kind: pd.Series) -> pd.Series:
    """``frozen`` for probes on a frozen encoder, ``trained`` for every other kind (the dashed lines)."""
    return pd.Series(np.where(kind.astype(str) == "probe", FROZEN, TRAINED), index=kind.index)


def method_labels(fits: pd.DataFrame) -> pd.Series:
    """The display label of each fit's method.

    The method id (``uni``, ``uni@12``, ``uni+lora``, ``e2e-resnet18``); for probes ``· classifier``
    when the run used several probe classifiers; for a trained method, how it was trained in
    parentheses unless its id already says so (``uni+lora`` stays, ``e2e-resnet18 (end-to-end)``).
    """
    label = fits["method"].astype(str)
    kind = fits["kind"].astype(str)
    probes = kind == "probe"
    if fits.loc[probes, "classifier"].nunique() > 1:
        label = label.where(~probes, label + " · " + fits["classifier"].astype(str))
    said = pd.Series([f"+{k}" in m for m, k in zip(label, kind, strict=True)], index=fits.index, dtype=bool)
    suffix = " (" + kind.map(KIND_NAMES).fillna(kind) + ")"
    return label.where(probes | said, label + suffix)


def labelled(fits: pd.DataFrame) -> pd.DataFrame:
    """The fits with their display ``label``; pass the whole run's fits (or a subset of them already labelled), so
    every page names a method alike whatever subset it shows."""
    return fits if "label" in fits else fits.assign(label=method_labels(fits))


def joined(fits: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (fit, test domain) with the fit's description and a display ``label``."""
    if fits.empty or metrics.empty:
        return pd.DataFrame()
    return metrics.merge(labelled(fits), on="fit_id", how="inner")


def select_fits(fits: pd.DataFrame, **equal: object) -> pd.DataFrame:
    """Fits whose columns equal the given values; a list or tuple value means any of them.

    ``select_fits(fits, protocol="pooled", budget="10/class", method=["uni", "virchow2"])``.
    """
    keep = pd.Series(True, index=fits.index)
    for column, value in equal.items():
        if isinstance(value, list | tuple | set):
            keep &= fits[column].isin(list(value))
        else:
            keep &= fits[column] == value
    return fits[keep]


def protocol_order(table: pd.DataFrame) -> list[str]:
    """Protocols present, ``pooled`` first, then the others alphabetically."""
    if table.empty:
        return []
    return sorted(table["protocol"].unique(), key=lambda p: (p != "pooled", p))


def budget_order(fits: pd.DataFrame) -> list[str]:
    """Budgets present, smallest first within each kind of budget (per class, total, fraction)."""
    if fits.empty:
        return []
    return fits.drop_duplicates("budget").sort_values(["budget_kind", "budget_value"])["budget"].tolist()
