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
from mitoviz.report.domains import default_test_axis, has_drop, in_domain, own_datasets, protocol_name


@pytest.fixture(scope="module")
def table(fits: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    return joined(fits, metrics)


def test_matrix_has_every_train_test_pair(table: pd.DataFrame) -> None:
    out = domain_matrix(
        table, "balanced_accuracy", "cross:species", "species", "8/class", ["uni", "uni+lora"]
    )
    assert len(out) == 2 * 2 * 2 and set(out["label"]) == {"uni", "uni+lora"}
    assert out["in_domain"].sum() == 4
    cell = out[
        (out["label"] == "uni") & (out["train_domain"] == "Human") & (out["test_domain"] == "Canine")
    ].iloc[0]
    assert cell["mean"] == pytest.approx(0.8 + 0.08 - 0.1 + 0.01) and cell["n_seeds"] == 3
    assert domain_matrix(table, "auroc", "cross:lab", "lab", "8/class", ["uni"]).empty
    assert domain_matrix(table.iloc[0:0], "auroc", "cross:species", "species", "8/class", ["uni"]).empty


def test_matrix_for_any_test_axis(table: pd.DataFrame) -> None:
    """Trained per species, tested per lab (a user column): no in-domain cells; pooled: one row per method."""
    out = domain_matrix(table, "balanced_accuracy", "cross:species", "lab", "2/class", ["uni"])
    assert set(out["test_domain"]) == {"lab A", "lab B", "lab C"} and len(out) == 2 * 3
    assert out["in_domain"].isna().all()
    pooled = domain_matrix(table, "auroc", "pooled", "lab", "2/class", ["uni", "virchow2"])
    assert set(pooled["train_domain"]) == {"all"} and len(pooled) == 2 * 3
    assert domain_drop(table, "balanced_accuracy", "pooled", "lab", "2/class").empty


def test_drop_per_method(table: pd.DataFrame) -> None:
    out = domain_drop(table, "balanced_accuracy", "cross:species", "species", "2/class")
    assert set(out["label"]) == {"uni", "virchow2", "uni+lora", "e2e-resnet18 (end-to-end)"}
    np.testing.assert_allclose(out["drop"], 0.1)
    np.testing.assert_allclose(out["drop_sd"], 0.0, atol=1e-12)
    assert (out["n_seeds"] == 3).all()
    assert domain_drop(table, "balanced_accuracy", "cross:lab", "lab", "2/class").empty


def test_in_domain_for_every_kind_of_protocol() -> None:
    train = pd.Series(["A", "A", "not A", "not A", "all", "all"])
    test = pd.Series(["A", "B", "A", "B", "own", "atnorm-br"])
    cross = in_domain("cross:scanner", "scanner", train[:2], test[:2])
    assert cross.tolist() == [True, False]
    assert in_domain("lodo:scanner", "scanner", train[2:4], test[2:4]).tolist() == [False, True]
    assert in_domain("pooled", "dataset", train[4:], test[4:], own=["own"]).tolist() == [True, False]
    assert in_domain("pooled", "dataset", train[4:5], test[4:5], own=["own"]).isna().all()  # no external set
    assert in_domain("cross:scanner", "tumor_type", train[:2], test[:2]).isna().all()
    assert has_drop("pooled", "dataset", {"own", "atnorm-br"}, ["own"])
    assert not has_drop("pooled", "scanner", {"A", "B"}) and has_drop("cross:scanner", "scanner", {"A", "B"})
    assert protocol_name("cross:tumor_type") == "on one tumour type at a time"
    assert protocol_name("lodo:scanner") == "on all but one scanner"
    assert default_test_axis("cross:species", ["scanner", "species"]) == "species"
    assert default_test_axis("pooled", ["scanner", "dataset"]) == "dataset"
    cells = pd.DataFrame({"dataset": ["own", "own", "ext"], "test_only": [False, False, True]})
    assert own_datasets(cells) == ["own"] and own_datasets(cells.drop(columns="dataset")) == []
    assert own_datasets(cells.drop(columns="test_only")) == ["ext", "own"]  # a run without external sets


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
