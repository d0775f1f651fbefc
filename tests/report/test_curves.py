"""Label curves: seed summaries per method, budget and test domain; every kind of method alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mitoviz.report import curve_numbers, curves, degenerate_note, joined, train_domains


@pytest.fixture(scope="module")
def table(fits: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    return joined(fits, metrics)


def test_pooled_curve_summarises_seeds(table: pd.DataFrame) -> None:
    out = curves(table, "balanced_accuracy", protocol="pooled", train_domain="all")
    assert len(out) == 4 * 2  # methods × budgets
    row = out[(out["label"] == "uni+lora") & (out["budget"] == "8/class")].iloc[0]
    values = 0.85 + 0.08 + 0.01 * np.arange(3)
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    assert row["mean"] == pytest.approx(values.mean()) and row["sd"] == pytest.approx(values.std(ddof=1))
    assert (row["ci_low"], row["ci_high"]) == (
        pytest.approx(values.mean() - half),
        pytest.approx(values.mean() + half),
    )
    assert row["n_seeds"] == 3 and row["n_train"] == 16 and row["n_test"] == 40
    assert row["lower"] == pytest.approx(row["mean"] - row["sd"])
    kinds = dict(zip(out["method"], out["training"], strict=False))
    assert kinds == {"uni": "frozen", "virchow2": "frozen", "uni+lora": "trained", "e2e-resnet18": "trained"}
    cnn = out[(out["method"] == "e2e-resnet18") & (out["budget"] == "2/class")].iloc[0]
    assert cnn["degenerate"] == pytest.approx(1 / 3)


def test_curve_split_by_a_user_axis(table: pd.DataFrame) -> None:
    out = curves(table, "auroc", "lab", protocol="pooled", train_domain="all")
    assert set(out["test_domain"]) == {"lab A", "lab B", "lab C"} and len(out) == 4 * 2 * 3
    cross = curves(table, "balanced_accuracy", "species", protocol="cross:species", train_domain="Human")
    human = cross[(cross["label"] == "uni") & (cross["budget"] == "2/class")].set_index("test_domain")["mean"]
    assert human["Human"] - human["Canine"] == pytest.approx(0.1)
    assert train_domains(table, "cross:species") == ["Canine", "Human"]


def test_empty_selection_keeps_the_columns(table: pd.DataFrame) -> None:
    out = curves(table, "auroc", protocol="lodo:lab")
    assert out.empty and {"mean", "capped", "degenerate", "training"} <= set(out.columns)
    assert not curves(table.iloc[0:0], "auroc")["capped"].any()
    assert degenerate_note(out) is None


def test_degenerate_note_and_numbers(table: pd.DataFrame) -> None:
    out = curves(table, "balanced_accuracy", protocol="pooled", train_domain="all")
    note = degenerate_note(out)
    assert (
        note is not None
        and note.startswith("One point includes")
        and "e2e-resnet18 (end-to-end) at 2/class" in note
    )
    assert "33%" in note
    assert degenerate_note(out.assign(degenerate=0.0)) is None
    assert list(curve_numbers(out).columns)[:3] == ["label", "budget", "n_train"]
