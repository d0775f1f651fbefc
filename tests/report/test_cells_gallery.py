"""The failure gallery's tables: the default method is the best at the budget, every card's table explained."""

from __future__ import annotations

import pandas as pd
import pytest

from mitoviz.report import best_method, cell_predictions, joined
from mitoviz.report.cells import (
    cell_facts,
    column_help,
    decision_note,
    degenerate_methods,
    method_table,
    negative_name,
    prob_column,
)

POSITIVE = "mitotic figure"


def test_default_method_is_the_best_at_the_chosen_budget(fits: pd.DataFrame, metrics: pd.DataFrame) -> None:
    table = joined(fits, metrics)
    # uni+lora leads everywhere in the fixture; make the CNN best at 8/class only, on the own test cells
    boost = (table["label"] == "e2e-resnet18 (end-to-end)") & (table["budget"] == "8/class")
    table.loc[boost & (table["test_axis"] == "all"), "balanced_accuracy"] += 0.5
    table.loc[~boost & (table["test_axis"] == "lab") & (table["label"] == "uni"), "balanced_accuracy"] += 9  # not "all"
    pooled = {"protocol": "pooled", "train_domain": "all"}
    assert best_method(table, budget="8/class", **pooled) == "e2e-resnet18 (end-to-end)"
    assert best_method(table, budget="2/class", **pooled) == "uni+lora"
    assert best_method(table, budget="2/class", protocol="cross:species", train_domain="Canine") == "uni+lora"
    assert best_method(table, "auroc", budget="2/class", **pooled) == "uni+lora"
    assert best_method(table, budget="99/class", **pooled) is None
    tie = table[table["label"].isin(["uni", "virchow2"])].assign(balanced_accuracy=0.7)
    assert best_method(tie, budget="2/class", **pooled) == "uni"  # ties: first alphabetically


def test_card_table_puts_every_kind_side_by_side_and_explains_each_column(cells: pd.DataFrame) -> None:
    methods = [("uni", "probe", "logreg"), ("uni+lora", "lora", "head"), ("uni+finetune", "finetune", "head"),
               ("e2e-resnet18", "e2e", "end-to-end"), ("virchow2", "probe", "logreg")]
    fits = pd.DataFrame([{"fit_id": m, "method": m, "kind": k, "classifier": c, "budget": "2/class", "seed": 0,
                          "protocol": "pooled", "train_domain": "all"} for m, k, c in methods])
    probs = {"uni": 0.5, "uni+lora": 0.51, "uni+finetune": 0.2, "e2e-resnet18": 0.9, "virchow2": 0.49}
    preds = pd.DataFrame([{"fit_id": f, "cell": c, "prob": p} for f, p in probs.items() for c in (0, 1)])
    per_cell = cell_predictions(preds, fits, cells, POSITIVE)
    negative = negative_name(cells["label"], POSITIVE)
    assert negative == "imposter" and negative_name(["a", "b", POSITIVE], POSITIVE) == f"not {POSITIVE}"
    mitosis = method_table(per_cell, 0, POSITIVE, negative)  # cell 0 is a mitotic figure
    assert list(mitosis.columns) == ["method", prob_column(POSITIVE), "call"]
    assert "P" not in mitosis.columns
    assert mitosis["method"].tolist() == ["uni (frozen)", "virchow2 (frozen)", "e2e-resnet18 (end-to-end)",
                                          "uni+finetune", "uni+lora"]  # every kind, each saying how it learned
    calls = dict(zip(mitosis["method"], mitosis["call"], strict=True))
    assert calls["uni (frozen)"] == "✗ imposter"  # exactly 0.5 is the negative class, as in the metrics
    assert calls["uni+lora"] == "✓ mitotic figure" and calls["virchow2 (frozen)"] == "✗ imposter"
    imposter = method_table(per_cell, 1, POSITIVE, negative)
    assert dict(zip(imposter["method"], imposter["call"], strict=True))["uni (frozen)"] == "✓ imposter"
    # each method gave both cells one probability: one class for every cell, a constant
    assert degenerate_methods(per_cell) == sorted(per_cell["label"].unique())
    varied = per_cell.assign(predicted_positive=(per_cell["cell"] == 0) | (per_cell["label"] == "uni"))
    assert degenerate_methods(varied) == ["uni"]
    helps = column_help(POSITIVE, negative)
    assert set(helps) == set(mitosis.columns) and all(len(h) > 20 for h in helps.values())
    note = decision_note(POSITIVE, negative)
    assert "> 0.5" in note and "exactly 0.5 counts as imposter" in note and "✓" in note and "✗" in note


def test_cell_facts_for_slides_and_ready_patches(cells: pd.DataFrame) -> None:
    row = cells.iloc[0].rename({"label": "truth"})
    extra = pd.Series({"x": 120.0, "y": 3400.5, "image": "a.tiff", "tumor_type": "canine lymphoma", "split": ""})
    on_slide = cell_facts(pd.concat([row, extra]), [*cells.columns, "tumor_type", "split", "x"])
    facts = dict(zip(on_slide["fact"], on_slide["value"], strict=True))
    assert facts["label (reference)"] == POSITIVE and facts["lab"] == "lab A" and facts["species"] == "Canine"
    assert facts["tumour type"] == "canine lymphoma" and "split" not in facts and "agreement" not in facts
    assert facts["position (level-0 px)"] == "x 120, y 3,400" and facts["image file"] == "a.tiff"
    assert list(facts)[:2] == ["cell id", "label (reference)"]
    ready = cell_facts(pd.concat([row, pd.Series({"x": float("nan"), "y": float("nan")})]), [])
    assert "ready patch" in dict(zip(ready["fact"], ready["value"], strict=True))["position"]


@pytest.mark.parametrize("prob", [0.5, 0.5000001])
def test_verdict_at_the_threshold(cells: pd.DataFrame, prob: float) -> None:
    fits = pd.DataFrame([{"fit_id": "f", "method": "uni", "kind": "probe", "classifier": "logreg",
                          "budget": "2/class", "seed": 0, "protocol": "pooled", "train_domain": "all"}])
    per_cell = cell_predictions(pd.DataFrame({"fit_id": ["f"], "cell": [0], "prob": [prob]}), fits, cells, POSITIVE)
    (call,) = method_table(per_cell, 0, POSITIVE, "imposter")["call"]
    assert call == ("✗ imposter" if prob == 0.5 else "✓ mitotic figure")
