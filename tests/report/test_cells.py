"""Per-cell tables: the gallery's verdicts agree with the metrics; filters and maps on any axis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mitoviz.evaluate import binary_metrics
from mitoviz.report import (
    cell_predictions,
    cell_rows,
    disagreement_patterns,
    disagreements,
    in_box,
    labelled,
    map_colours,
    map_correctness,
    map_points,
    map_sample,
    misclassified,
    n_tested,
    pattern_cells,
)

POSITIVE = "mitotic figure"


def _fits(methods: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "fit_id": [m for m, _ in methods],
            "method": [m for m, _ in methods],
            "kind": [k for _, k in methods],
            "classifier": "logreg",
            "budget": "2/class",
            "seed": 0,
            "protocol": "pooled",
            "train_domain": "all",
        }
    )


def _predictions(probs: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"fit_id": f, "cell": c, "prob": p} for f, row in probs.items() for c, p in enumerate(row)]
    )


def test_gallery_and_metrics_give_the_same_verdict(cells: pd.DataFrame) -> None:
    """Exactly 0.5 is the negative class in both, so a 0.50 mitosis is wrong in the gallery too."""
    rng = np.random.default_rng(3)
    probs = {
        "uni": np.round(rng.random(12), 1).tolist(),
        "half": [0.5] * 12,
        "ties": [0.5 if i % 2 else 0.51 for i in range(12)],
    }
    per_cell = cell_predictions(_predictions(probs), _fits([(f, "probe") for f in probs]), cells, POSITIVE)
    y = (cells["label"] == POSITIVE).to_numpy().astype(int)
    for fit, p in probs.items():
        rows = per_cell[per_cell["fit_id"] == fit].sort_values("cell")
        metrics = binary_metrics(y, np.array(p))
        assert rows["correct"].mean() == pytest.approx(metrics["accuracy"]), fit
        assert not rows["predicted_positive"].to_numpy()[np.array(p) == 0.5].any()
    half = per_cell[per_cell["fit_id"] == "half"]
    assert (
        half["correct"] == ~half["is_positive"]
    ).all()  # every 0.50 mitosis is wrong, every imposter right
    assert binary_metrics(y, np.array(probs["half"]))["degenerate"] is True


def test_a_subset_of_fits_keeps_the_names_the_whole_run_gives(cells: pd.DataFrame) -> None:
    """Two probe classifiers in the run name each probe 'uni · <classifier>', even where only one has landed."""
    fits = pd.concat([_fits([("uni", "probe")]), _fits([("uni", "probe")]).assign(fit_id="uni-knn", classifier="knn")])
    run_wide = labelled(fits)
    assert sorted(run_wide["label"]) == ["uni · knn", "uni · logreg"]
    per_cell = cell_predictions(_predictions({"uni": [0.9] * 12}), run_wide[run_wide["fit_id"] == "uni"], cells,
                                POSITIVE)
    assert set(per_cell["label"]) == {"uni · logreg"}


def test_misclassified_filters_on_any_axis(cells: pd.DataFrame) -> None:
    probs = {"uni": [0.2, 0.9, 0.8, 0.45, 0.6, 0.1, 0.3, 0.95, 0.7, 0.05, 0.5, 0.55]}
    per_cell = cell_predictions(_predictions(probs), _fits([("uni", "probe")]), cells, POSITIVE)
    wrong = misclassified(per_cell, "uni")
    assert wrong["wrong_confidence"].is_monotonic_decreasing
    assert set(wrong["cell"]) == set(per_cell.loc[~per_cell["correct"], "cell"])
    missed = misclassified(per_cell, "uni", "missed")
    assert missed["is_positive"].all() and set(missed["cell"]) == {0, 3, 6, 9}
    false = misclassified(per_cell, "uni", "false positive")
    assert not false["is_positive"].any() and set(false["cell"]) == {1, 2, 4, 7, 8, 11}
    only = misclassified(per_cell, "uni", filters={"lab": ["lab B"], "species": []})
    assert set(only["lab"]) == {"lab B"} and len(only) > 0
    assert misclassified(per_cell, "uni", confidence=(0.9, 1.0))["wrong_confidence"].min() >= 0.9
    assert n_tested(per_cell, "uni") == 12
    with pytest.raises(ValueError, match="error must be"):
        misclassified(per_cell, "uni", "all")


@pytest.mark.parametrize(("trained", "name"), [("e2e", "CNN"), ("lora", "trained")])
def test_disagreements_between_frozen_and_trained(cells: pd.DataFrame, trained: str, name: str) -> None:
    truth = (cells["label"] == POSITIVE).to_numpy()
    right = np.where(truth, 0.9, 0.1)
    wrong = 1 - right
    a, b, t = right.copy(), right.copy(), right.copy()
    a[:2], b[:2] = wrong[:2], wrong[:2]  # cells 0, 1: frozen all wrong, trained right
    t[5] = wrong[5]  # cell 5: trained wrong, frozen all right
    a[7] = wrong[7]  # cell 7: frozen split: neither pattern
    probs = {"uni": a.tolist(), "virchow2": b.tolist(), "other": t.tolist()}
    per_cell = cell_predictions(
        _predictions(probs),
        _fits([("uni", "probe"), ("virchow2", "probe"), ("other", trained)]),
        cells,
        POSITIVE,
    )
    first, second = disagreement_patterns(per_cell)
    assert (first, second) == (f"frozen all wrong, {name} right", f"{name} wrong, frozen all right")
    out = disagreements(per_cell)
    assert dict(zip(out["cell"], out["pattern"], strict=True)) == {0: first, 1: first, 5: second}
    rows = pattern_cells(per_cell, out, first)
    assert rows["cell"].tolist() == [0, 1]
    assert disagreements(per_cell[per_cell["kind"] == "probe"]).empty
    assert disagreements(per_cell.iloc[0:0]).empty


def test_map_tables_use_the_axes_given(cells: pd.DataFrame) -> None:
    maps = pd.DataFrame(
        {
            "encoder": ["uni"] * 12 + ["virchow2"] * 12,
            "method": "pca",
            "cell": list(range(12)) * 2,
            "u": np.tile(np.arange(12.0), 2),
            "v": np.tile(np.arange(12.0) * 2, 2),
        }
    )
    points = map_points(maps, cells, ["lab", "scanner"])
    assert {"truth", "lab", "cell_id", "agreement", "agreement_level"} <= set(points.columns)
    assert "scanner" not in points.columns
    assert set(points["agreement_level"]) <= {"all agree", "majority", "split"}
    assert list(map_colours(["lab"])) == ["lab", "truth", "correctness", "agreement_level"]
    probs = {"uni": [0.9] * 6, "virchow2": [0.1] * 6}
    per_cell = cell_predictions(
        _predictions(probs), _fits([("uni", "probe"), ("virchow2", "probe")]), cells, POSITIVE
    )
    coloured = map_correctness(points, per_cell)
    assert len(coloured) == len(points)
    uni = coloured[coloured["encoder"] == "uni"].set_index("cell")["correctness"]
    assert uni[0] == "correct" and uni[1] == "wrong" and uni[6] == "not in the test set"
    assert len(map_sample(points, "uni", 5)) == 5 and map_sample(points, "uni", 5).equals(
        map_sample(points, "uni", 5)
    )
    assert len(map_sample(points, "uni", 50)) == 12
    assert in_box(points, (2.0, 4.0), (0.0, 6.0))["u"].tolist() == [2.0, 3.0, 2.0, 3.0]
    assert cell_rows(cells, [5, 2])["cell_id"].tolist() == ["c5", "c2"]
