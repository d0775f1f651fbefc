"""Domain shift tables on a user-chosen axis (``species``): matrix, drop, leave-one-out, RI table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mitoviz.report import (
    domain_drop,
    domain_matrix,
    joined,
    lodo_matrix,
    lodo_table,
    robustness_scale,
    robustness_table,
)


@pytest.fixture(scope="module")
def table(fits: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    return joined(fits, metrics)


def test_matrix_has_every_train_test_pair(table: pd.DataFrame) -> None:
    out = domain_matrix(table, "balanced_accuracy", "species", "8/class", ["uni", "uni+lora"])
    assert len(out) == 2 * 2 * 2 and set(out["label"]) == {"uni", "uni+lora"}
    assert out["in_domain"].sum() == 4
    cell = out[
        (out["label"] == "uni") & (out["train_domain"] == "Human") & (out["test_domain"] == "Canine")
    ].iloc[0]
    assert cell["mean"] == pytest.approx(0.8 + 0.08 - 0.1 + 0.01) and cell["n_seeds"] == 3
    assert domain_matrix(table, "auroc", "lab", "8/class", ["uni"]).empty
    assert domain_matrix(table.iloc[0:0], "auroc", "species", "8/class", ["uni"]).empty


def test_drop_per_method(table: pd.DataFrame) -> None:
    out = domain_drop(table, "balanced_accuracy", "species", "2/class")
    assert set(out["label"]) == {"uni", "virchow2", "uni+lora", "e2e-resnet18 (end-to-end)"}
    np.testing.assert_allclose(out["drop"], 0.1)
    np.testing.assert_allclose(out["drop_sd"], 0.0, atol=1e-12)
    assert (out["n_seeds"] == 3).all()
    assert domain_drop(table, "balanced_accuracy", "lab", "2/class").empty


def test_leave_one_out_reads_lodo_rows(
    table: pd.DataFrame, fits: pd.DataFrame, metrics: pd.DataFrame
) -> None:
    lodo_fits = fits[fits["protocol"] == "cross:species"].assign(
        protocol="lodo:species",
        train_domain=lambda f: "not " + f["train_domain"].map({"Human": "Canine", "Canine": "Human"}),
        fit_id=lambda f: "lodo|" + f["fit_id"],
    )
    lodo_metrics = metrics.merge(fits[["fit_id"]], on="fit_id").assign(fit_id=lambda m: "lodo|" + m["fit_id"])
    both = joined(pd.concat([fits, lodo_fits]), pd.concat([metrics, lodo_metrics]))
    out = lodo_table(both, "balanced_accuracy", "species", "8/class")
    assert set(out["held_out"]) == {"Human", "Canine"} and len(out) == 4 * 2
    matrix = lodo_matrix(both, "balanced_accuracy", "species", "8/class")
    assert matrix.shape == (4, 2) and matrix.loc["uni", "Human"] == pytest.approx(0.8 + 0.08 - 0.1 + 0.01)
    assert lodo_table(table, "balanced_accuracy", "species", "8/class").empty


def test_robustness_table_and_scale() -> None:
    ri = pd.DataFrame(
        {
            "encoder": ["uni"],
            "confounder": ["species"],
            "value": [0.7],
            "chance": [0.5],
            "so": [7],
            "os": [3],
            "undefined_frac": [0.1],
            "scale": ["share in [0, 1]"],
        }
    )
    out = robustness_table(ri)
    assert list(out.columns) == [
        "encoder",
        "confounder",
        "RI",
        "RI of random neighbours",
        "same class, other domain",
        "other class, same domain",
        "undefined share",
    ]
    assert robustness_scale(ri) == "share in [0, 1]" and robustness_scale(ri.iloc[0:0]) == ""
