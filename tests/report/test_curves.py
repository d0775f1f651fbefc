"""Label curves: seed summaries per method, budget and test domain; every kind of method alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mitoviz.report import curve_numbers, curves, degenerate_note, joined, train_domains
from mitoviz.report.curves import efficiency, efficiency_numbers, with_intervals


@pytest.fixture(scope="module")
def table(fits: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    return joined(fits, metrics)


def test_pooled_curve_summarises_seeds(table: pd.DataFrame) -> None:
    out = curves(table, "balanced_accuracy", protocol="pooled", train_domain="all")
    assert len(out) == 4 * 2  # methods × budgets
    row = out[(out["label"] == "uni+lora") & (out["budget"] == "8/class")].iloc[0]
    values = 0.85 + 0.08 + 0.01 * np.arange(3)
    assert row["mean"] == pytest.approx(values.mean()) and row["sd"] == pytest.approx(values.std(ddof=1))
    assert row["n_seeds"] == 3 and row["n_train"] == 16 and row["n_test"] == 40
    assert not {"ci_low", "ci_high", "lower", "upper"} & set(out.columns)  # no t-interval, no ± sd band
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
    numbers = curve_numbers(out)
    assert list(numbers.columns)[:4] == ["method", "budget", "labelled cells", "tested on"]
    assert {"95 % interval low", "95 % interval high", "seeds", "share of one-class fits"} <= set(
        numbers.columns
    )
    assert not {"n_seeds", "ci_low", "label"} & set(numbers.columns)


def test_intervals_join_the_curve(table: pd.DataFrame) -> None:
    out = curves(table, "auroc", protocol="pooled", train_domain="all")
    points = pd.DataFrame(
        {
            "label": ["uni"],
            "budget": ["2/class"],
            "test_domain": ["all"],
            "low": [0.7],
            "high": [0.9],
            "metric": ["auroc"],
        }
    )
    joined_ = with_intervals(out, points)
    assert len(joined_) == len(out) and joined_["low"].notna().sum() == 1
    assert with_intervals(out, points.iloc[0:0])["high"].isna().all()


def test_label_efficiency_against_hand_computed_curves(table: pd.DataFrame) -> None:
    """uni: 0.83 at 4 labelled cells, 0.89 at 16; uni+lora: 0.88 and 0.94 (the best full-data score)."""
    out = efficiency(curves(table, "balanced_accuracy", protocol="pooled", train_domain="all"), 0.95)
    uni = out[out["label"] == "uni"].iloc[0]
    assert uni["full_score"] == pytest.approx(0.89) and uni["full_labels"] == 16
    target = 0.95 * 0.89
    by_hand = np.exp(np.log(4) + (target - 0.83) / (0.89 - 0.83) * (np.log(16) - np.log(4)))
    assert (uni["own_target"], uni["own_labels"], uni["own_status"]) == (
        pytest.approx(target),
        pytest.approx(by_hand),
        "interpolated",
    )
    assert uni["own_labels_text"] == f"≈ {by_hand:,.0f}"
    assert (
        uni["best_target"] == pytest.approx(0.95 * 0.94) and uni["best_status"] == "not reached"
    )  # 0.89 < 0.893
    assert uni["area"] == pytest.approx((0.83 + 0.89) / 2)
    lora = out[out["label"] == "uni+lora"].iloc[0]
    lora_hand = np.exp(np.log(4) + (0.95 * 0.94 - 0.88) / 0.06 * np.log(4))
    assert lora["own_labels"] == pytest.approx(lora_hand) and lora["best_labels"] == pytest.approx(lora_hand)
    assert (
        efficiency(curves(table, "balanced_accuracy", protocol="pooled", train_domain="all"), 0.9)
        .set_index("label")
        .loc["uni+lora", "own_labels_text"]
        == "≤ 4"
    )  # 0.88 ≥ 0.9 × 0.94: reached at the smallest budget
    cnn = out[out["label"] == "e2e-resnet18 (end-to-end)"].iloc[0]  # 0.73 / 0.79: never 95 % of 0.94
    assert cnn["best_status"] == "not reached" and cnn["best_labels_text"] == "not reached"
    assert np.isnan(cnn["best_labels"])
    shown = efficiency_numbers(out, 0.9)
    assert "labels to 90 % of its own score" in shown.columns and shown.iloc[0]["method"] == "uni+lora"


def test_capped_budgets_with_the_same_cells_are_one_point(table: pd.DataFrame) -> None:
    out = curves(table, "balanced_accuracy", protocol="pooled", train_domain="all")
    capped = out.assign(n_train=np.where(out["budget"] == "8/class", 4, out["n_train"]))
    uni = efficiency(capped)[lambda e: e["label"] == "uni"].iloc[0]
    assert uni["full_labels"] == 4 and uni["full_score"] == pytest.approx((0.83 + 0.89) / 2)
