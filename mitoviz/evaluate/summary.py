"""Tables the result pages show, computed from a run's fits, metrics and predictions (pure pandas)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mitoviz.evaluate.metrics import summarize

METRICS = {
    "balanced_accuracy": "Balanced accuracy",
    "auroc": "AUROC",
    "f1": "F1 (mitotic figure)",
    "accuracy": "Accuracy",
    "kappa": "Cohen's κ",
    "ece": "ECE (lower is better)",
}
FIT_KEYS = ["method", "kind", "classifier", "protocol", "axis", "train_domain", "budget", "budget_kind", "budget_value"]


def method_labels(fits: pd.DataFrame) -> pd.Series:
    """``encoder`` alone when the run used one classifier, else ``encoder · classifier``."""
    probes = fits["kind"] == "probe"
    several = fits.loc[probes, "classifier"].nunique() > 1
    label = fits["method"].astype(str)
    if several:
        label = label.where(~probes, label + " · " + fits["classifier"].astype(str))
    return label.where(probes, label + " (end-to-end)")


def joined(fits: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (fit, test domain) with the fit's description and a display label."""
    if fits.empty or metrics.empty:
        return pd.DataFrame()
    table = metrics.merge(fits.assign(label=method_labels(fits)), on="fit_id", how="inner")
    return table


def seed_summary(values: pd.Series) -> pd.Series:
    """Mean, sd, 95 % t-interval and n across seeds (NaN-aware)."""
    summary = summarize(values.to_numpy(dtype=float))
    return pd.Series({"mean": summary.mean, "sd": summary.sd, "ci_low": summary.ci_low, "ci_high": summary.ci_high,
                      "n_seeds": summary.n})


def curves(table: pd.DataFrame, metric: str, test_axis: str = "all") -> pd.DataFrame:
    """Metric against budget: one row per (method, protocol, train domain, budget, test domain)."""
    if table.empty:
        return pd.DataFrame()
    rows = table[table["test_axis"] == test_axis]
    keys = ["label", *FIT_KEYS, "test_domain"]
    grouped = rows.groupby(keys, dropna=False, sort=True)
    out = grouped[metric].apply(seed_summary).unstack().reset_index()
    extra = grouped.agg(
        n_train=("n_train", "mean"), n_test=("n", "mean"), capped=("budget_capped", "any"),
        degenerate=("degenerate", "mean"),
    ).reset_index()
    out = out.merge(extra, on=keys)
    out["lower"] = out["mean"] - out["sd"]
    out["upper"] = out["mean"] + out["sd"]
    return out.sort_values(["label", "budget_kind", "budget_value", "test_domain"]).reset_index(drop=True)


def domain_matrix(table: pd.DataFrame, metric: str, axis: str, budget: str, labels: list[str]) -> pd.DataFrame:
    """Train domain × test domain means per method and budget under the ``cross:<axis>`` protocol."""
    rows = table[(table["protocol"] == f"cross:{axis}") & (table["test_axis"] == axis)
                 & (table["label"].isin(labels)) & (table["budget"] == budget)]
    if rows.empty:
        return pd.DataFrame(columns=["label", "train_domain", "test_domain", "mean", "sd", "n_seeds", "in_domain"])
    keys = ["label", "train_domain", "test_domain"]
    out = rows.groupby(keys)[metric].apply(seed_summary).unstack().reset_index()
    out["in_domain"] = out["train_domain"] == out["test_domain"]
    return out


def domain_drop(table: pd.DataFrame, metric: str, axis: str, budget: str) -> pd.DataFrame:
    """Per method: mean in-domain (diagonal) vs out-of-domain (off-diagonal) score and the drop.

    Means are taken per seed first, so the sd describes seed-to-seed variation of the drop.
    """
    rows = table[(table["protocol"] == f"cross:{axis}") & (table["test_axis"] == axis) & (table["budget"] == budget)]
    if rows.empty:
        return pd.DataFrame(columns=["label", "in_domain", "out_of_domain", "drop", "drop_sd", "n_seeds"])
    rows = rows.assign(where=np.where(rows["train_domain"] == rows["test_domain"], "in_domain", "out_of_domain"))
    per_seed = rows.groupby(["label", "seed", "where"])[metric].mean().unstack("where").reset_index()
    if "out_of_domain" not in per_seed:
        per_seed["out_of_domain"] = np.nan
    per_seed["drop"] = per_seed["in_domain"] - per_seed["out_of_domain"]
    out = per_seed.groupby("label").agg(
        in_domain=("in_domain", "mean"), out_of_domain=("out_of_domain", "mean"), drop=("drop", "mean"),
        drop_sd=("drop", "std"), n_seeds=("seed", "nunique"),
    ).reset_index()
    return out.sort_values("drop").reset_index(drop=True)


def lodo_table(table: pd.DataFrame, metric: str, axis: str, budget: str) -> pd.DataFrame:
    """Leave-one-domain-out: the score on each held-out domain, per method."""
    rows = table[(table["protocol"] == f"lodo:{axis}") & (table["test_axis"] == axis) & (table["budget"] == budget)]
    rows = rows[rows["train_domain"] == "not " + rows["test_domain"]]
    if rows.empty:
        return pd.DataFrame(columns=["label", "held_out", "mean", "sd", "n_seeds"])
    out = rows.groupby(["label", "test_domain"])[metric].apply(seed_summary).unstack().reset_index()
    return out.rename(columns={"test_domain": "held_out"})


def cell_predictions(
    predictions: pd.DataFrame, fits: pd.DataFrame, cells: pd.DataFrame, positive: str
) -> pd.DataFrame:
    """Predictions joined to cells and fits: truth, probability, correctness, confidence of the error."""
    out = predictions.merge(fits.assign(label=method_labels(fits))[["fit_id", "label", "kind", "budget", "seed",
                                                                      "protocol", "train_domain"]], on="fit_id")
    out = out.merge(cells.rename(columns={"label": "truth"}), on="cell", how="left")
    out["is_positive"] = out["truth"] == positive
    out["predicted_positive"] = out["prob"] >= 0.5
    out["correct"] = out["is_positive"] == out["predicted_positive"]
    out["wrong_confidence"] = np.where(out["is_positive"], 1 - out["prob"], out["prob"])
    return out


def disagreements(per_cell: pd.DataFrame) -> pd.DataFrame:
    """Cells every frozen encoder got wrong but the end-to-end CNN got right, and the reverse.

    ``per_cell`` holds one fit per method (same budget, seed and protocol). Returns the cells with
    a ``pattern`` column: ``frozen all wrong, CNN right`` or ``CNN wrong, frozen all right``.
    """
    if per_cell.empty or not {"probe", "e2e"} <= set(per_cell["kind"]):
        return pd.DataFrame()
    by_kind = per_cell.groupby(["cell", "kind"])["correct"].agg(["all", "any"]).unstack("kind")
    frozen_wrong = ~by_kind[("any", "probe")]
    frozen_right = by_kind[("all", "probe")]
    cnn_right = by_kind[("all", "e2e")]
    pattern = pd.Series("", index=by_kind.index)
    pattern[frozen_wrong & cnn_right] = "frozen all wrong, CNN right"
    pattern[frozen_right & ~cnn_right] = "CNN wrong, frozen all right"
    return pattern[pattern != ""].rename("pattern").reset_index()
