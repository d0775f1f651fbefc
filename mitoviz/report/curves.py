"""Accuracy against label budget: seed summaries per method, budget and test domain."""

from __future__ import annotations

import pandas as pd

from mitoviz.evaluate.metrics import summarize
from mitoviz.report.methods import FIT_KEYS, training

#: Columns of the "numbers behind the chart" table.
CURVE_COLUMNS = [
    "label",
    "budget",
    "n_train",
    "test_domain",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "n_seeds",
    "n_test",
    "degenerate",
]

#: Columns :func:`curves` adds to the fit keys.
CURVE_EXTRA = [
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "n_seeds",
    "n_train",
    "n_test",
    "capped",
    "degenerate",
    "lower",
    "upper",
    "training",
]


def seed_summary(values: pd.Series) -> pd.Series:
    """Mean, sd, 95 % t-interval and n across seeds (NaN-aware)."""
    summary = summarize(values.to_numpy(dtype=float))
    return pd.Series(
        {
            "mean": summary.mean,
            "sd": summary.sd,
            "ci_low": summary.ci_low,
            "ci_high": summary.ci_high,
            "n_seeds": summary.n,
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
    out["lower"] = out["mean"] - out["sd"]
    out["upper"] = out["mean"] + out["sd"]
    out["training"] = training(out["kind"])
    return out.sort_values(["label", "budget_kind", "budget_value", "test_domain"]).reset_index(drop=True)


def curve_numbers(curve: pd.DataFrame) -> pd.DataFrame:
    """The columns of a :func:`curves` table a reader wants to see beside the chart."""
    return curve[CURVE_COLUMNS]


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
