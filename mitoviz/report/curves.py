"""Accuracy against label budget: seed summaries per method, budget and test domain."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mitoviz.evaluate import stats
from mitoviz.report.methods import FIT_KEYS, training

#: Columns :func:`curves` adds to the fit keys.
CURVE_EXTRA = ["mean", "sd", "n_seeds", "n_train", "n_test", "capped", "degenerate", "training"]
#: Readable names of the columns the curves page shows and exports.
COLUMN_NAMES = {
    "label": "method",
    "budget": "budget",
    "n_train": "labelled cells",
    "test_domain": "tested on",
    "mean": "mean over seeds",
    "low": "95 % interval low",
    "high": "95 % interval high",
    "sd": "SD over seeds",
    "n_seeds": "seeds",
    "n_test": "test cells",
    "degenerate": "share of one-class fits",
    "training": "encoder",
}
#: How every page flags a fit that predicts one class for every test cell (evaluate.decision.degenerate).
ONE_CLASS = "predicts one class for every cell"


def seed_summary(values: pd.Series) -> pd.Series:
    """Mean, sd and n across seeds (NaN-aware); intervals: the seed+slide bootstrap (report.trust)."""
    v = values.to_numpy(dtype=float)
    v = v[~np.isnan(v)]
    return pd.Series(
        {
            "mean": v.mean() if v.size else np.nan,
            "sd": v.std(ddof=1) if v.size > 1 else np.nan,
            "n_seeds": v.size,
        }
    )


def train_domains(table: pd.DataFrame, protocol: str) -> list[str]:
    """The training domains of a protocol (``all`` for pooled), sorted."""
    return sorted(table.loc[table["protocol"] == protocol, "train_domain"].unique())


def curves(
    table: pd.DataFrame,
    metric: str,
    test_axis: str = "all",
    protocol: str | None = None,
    train_domain: str | None = None,
) -> pd.DataFrame:
    """Metric against budget: one row per (method, protocol, train domain, budget, test domain).

    ``protocol`` and ``train_domain`` restrict the rows first when given. The ``training`` column
    (frozen / trained) says which lines are dashed.
    """
    keys = ["label", *FIT_KEYS, "test_domain"]
    if table.empty:
        return pd.DataFrame(columns=[*keys, *CURVE_EXTRA])
    keep = table["test_axis"] == test_axis
    if protocol is not None:
        keep &= table["protocol"] == protocol
    if train_domain is not None:
        keep &= table["train_domain"] == train_domain
    rows = table[keep]
    if rows.empty:
        return pd.DataFrame(columns=[*keys, *CURVE_EXTRA])
    grouped = rows.groupby(keys, dropna=False, sort=True)
    out = grouped[metric].apply(seed_summary).unstack().reset_index()
    extra = grouped.agg(
        n_train=("n_train", "mean"),
        n_test=("n", "mean"),
        capped=("budget_capped", "any"),
        degenerate=("degenerate", "mean"),
    ).reset_index()
    out = out.merge(extra, on=keys)
    out["training"] = training(out["kind"])
    return out.sort_values(["label", "budget_kind", "budget_value", "test_domain"]).reset_index(drop=True)


def with_intervals(curve: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """The curve with each point's bootstrap interval (``low``, ``high``) of :func:`report.trust.facet_trust`
    rows of its metric (NaN where none was computed, e.g. for ECE)."""
    keys = ["label", "budget", "test_domain"]
    found = points[[*keys, "low", "high"]].drop_duplicates(keys) if len(points) else None
    if found is None:
        return curve.assign(low=np.nan, high=np.nan)
    return curve.drop(columns=["low", "high"], errors="ignore").merge(found, on=keys, how="left")


def curve_numbers(curve: pd.DataFrame) -> pd.DataFrame:
    """The numbers behind the chart, with readable column names."""
    columns = [
        "label",
        "budget",
        "n_train",
        "test_domain",
        "mean",
        "low",
        "high",
        "sd",
        "n_seeds",
        "n_test",
        "degenerate",
        "training",
    ]
    return curve.reindex(columns=columns).rename(columns=COLUMN_NAMES)


EFFICIENCY_NAMES = {
    "test_domain": "tested on",
    "label": "method",
    "full_score": "score at the largest budget",
    "full_labels": "labelled cells there",
    "own_labels_text": "labels to {pct:g} % of its own score",
    "best_labels_text": "labels to {pct:g} % of the best method's",
    "area": "mean score over the log label axis",
}


def efficiency(curve: pd.DataFrame, fraction: float = 0.95) -> pd.DataFrame:
    """Per test domain and method, :func:`stats.label_efficiency` of its label curve (mean over seeds
    against the labelled cells; budgets that used the same number of cells, e.g. capped ones, averaged).

    Higher scores must be better (not ECE). Columns: the targets, labels needed (number and status, and
    :func:`stats.reach_text`), the area under the log-axis curve.
    """
    rows = []
    for domain, part in curve.dropna(subset=["mean", "n_train"]).groupby("test_domain", sort=True):
        lines = {}
        for label, points in part.groupby("label", sort=True):
            mean = points.groupby(points["n_train"].round())["mean"].mean()
            lines[label] = (mean.index.to_numpy(), mean.to_numpy())
        for label, found in stats.label_efficiency(lines, fraction).items():
            rows.append(
                {
                    "test_domain": domain,
                    "label": label,
                    **found._asdict(),
                    "full_labels": float(lines[label][0].max()),
                    "own_labels_text": stats.reach_text(found.own_labels, found.own_status),
                    "best_labels_text": stats.reach_text(found.best_labels, found.best_status),
                }
            )
    columns = [
        "test_domain",
        "label",
        *stats.Efficiency._fields,
        "full_labels",
        "own_labels_text",
        "best_labels_text",
    ]
    return pd.DataFrame(rows, columns=columns)


def efficiency_numbers(table: pd.DataFrame, fraction: float = 0.95) -> pd.DataFrame:
    """An :func:`efficiency` table with readable columns, best area first."""
    names = {k: v.format(pct=100 * fraction) for k, v in EFFICIENCY_NAMES.items()}
    ordered = table.sort_values(["test_domain", "area"], ascending=[True, False])
    return ordered.reindex(columns=list(names)).rename(columns=names)


def degenerate_note(curve: pd.DataFrame) -> str | None:
    """A warning when some points include fits that predict one class for every test cell, else None."""
    if curve.empty:
        return None
    degenerate = curve[curve["degenerate"] > 0]
    if degenerate.empty:
        return None
    worst = degenerate.sort_values("degenerate", ascending=False).iloc[0]
    points = "one point includes" if len(degenerate) == 1 else f"{len(degenerate)} points include"
    return (
        f"{points.capitalize()} fits that predict one class for every test cell (chance level), e.g. "
        f"{worst['label']} at {worst['budget']}: {worst['degenerate']:.0%} of its seeds. "
        "They are shown, not hidden."
    )
