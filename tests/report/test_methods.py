"""Method labels and selections treat every kind alike (probe, lora, finetune, e2e)."""

from __future__ import annotations

import pandas as pd

from mitoviz.report import budget_order, joined, method_labels, protocol_order, select_fits, training


def _fits(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["method", "kind", "classifier"])


def test_labels_for_every_kind() -> None:
    fits = _fits(
        [
            ("uni", "probe", "logreg"),
            ("uni@12", "probe", "logreg"),
            ("uni+lora", "lora", "head"),
            ("uni+finetune", "finetune", "head"),
            ("e2e-resnet18", "e2e", "end-to-end"),
            ("phikon-lora", "lora", "head"),
            ("student", "distill", "head"),
        ]
    )
    assert method_labels(fits).tolist() == [
        "uni",
        "uni@12",
        "uni+lora",
        "uni+finetune",
        "e2e-resnet18 (end-to-end)",
        "phikon-lora (LoRA)",
        "student (distill)",
    ]


def test_probe_labels_name_the_classifier_only_when_several_were_used() -> None:
    fits = _fits(
        [
            ("uni", "probe", "logreg"),
            ("uni", "probe", "knn"),
            ("uni+lora", "lora", "head"),
            ("e2e-resnet18", "e2e", "end-to-end"),
        ]
    )
    assert method_labels(fits).tolist() == [
        "uni · logreg",
        "uni · knn",
        "uni+lora",
        "e2e-resnet18 (end-to-end)",
    ]


def test_frozen_or_trained() -> None:
    kinds = pd.Series(["probe", "lora", "finetune", "e2e"], index=[5, 6, 7, 8])
    out = training(kinds)
    assert out.tolist() == ["frozen", "trained", "trained", "trained"] and out.index.tolist() == [5, 6, 7, 8]


def test_joined_adds_the_fit_and_its_label(fits: pd.DataFrame, metrics: pd.DataFrame) -> None:
    table = joined(fits, metrics)
    assert len(table) == len(metrics)
    assert {"label", "method", "kind", "test_axis", "balanced_accuracy"} <= set(table.columns)
    assert set(table["label"]) == {"uni", "virchow2", "uni+lora", "e2e-resnet18 (end-to-end)"}
    assert joined(fits.iloc[0:0], metrics).empty and joined(fits, metrics.iloc[0:0]).empty


def test_selection_and_orders(fits: pd.DataFrame) -> None:
    chosen = select_fits(fits, protocol="pooled", budget="8/class", method=["uni", "uni+lora"])
    assert set(chosen["method"]) == {"uni", "uni+lora"} and set(chosen["budget"]) == {"8/class"}
    assert len(chosen) == 2 * 3  # two methods, three seeds
    assert select_fits(fits).equals(fits)
    assert protocol_order(fits) == ["pooled", "cross:species"]
    shuffled = fits.sample(frac=1.0, random_state=1)
    assert budget_order(shuffled) == ["2/class", "8/class"]
    assert budget_order(fits.iloc[0:0]) == [] and protocol_order(fits.iloc[0:0]) == []
