"""The one decision rule, and the batched metrics the runner calls checked fit by fit against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    brier_score_loss,
    cohen_kappa_score,
    f1_score,
    roc_auc_score,
)

from mitoviz.evaluate import THRESHOLD, binary_metrics_many, degenerate, predicted_positive


def test_half_is_the_negative_class() -> None:
    assert THRESHOLD == 0.5
    np.testing.assert_array_equal(
        predicted_positive([0.0, 0.4999, 0.5, 0.5001, 1.0]), [False, False, False, True, True]
    )
    np.testing.assert_array_equal(predicted_positive([0.3, 0.5], threshold=0.3), [False, True])
    assert predicted_positive(np.full((2, 3), 0.5)).shape == (2, 3)


def test_degenerate_whole_array_and_per_fit() -> None:
    assert degenerate([True, True, True]) is True
    assert degenerate(np.array([False, False])) is True
    assert degenerate([True, False]) is False
    assert degenerate(["mitotic figure", "imposter"]) is False
    pred = np.array([[True, True], [True, False], [False, False]])
    np.testing.assert_array_equal(degenerate(pred, axis=1), [True, False, True])
    np.testing.assert_array_equal(degenerate(pred, axis=0), [False, False])


def test_batched_metrics_agree_with_sklearn_fit_by_fit() -> None:
    rng = np.random.default_rng(4)
    y = (rng.random(250) < 0.3).astype(int)
    probs = np.clip(0.5 + 0.25 * (y - 0.5) + 0.3 * rng.standard_normal((9, 250)), 0, 1)
    probs[1] = np.round(probs[1], 1)  # ties, some exactly at 0.5
    probs[2] = 0.5  # every cell exactly at the threshold: all negative, degenerate
    probs[3] = 0.8  # all positive
    many = binary_metrics_many(y, probs)
    assert all(v.shape == (9,) for v in many.values())
    for i, p in enumerate(probs):
        pred = predicted_positive(p).astype(int)
        assert many["balanced_accuracy"][i] == pytest.approx(balanced_accuracy_score(y, pred), abs=1e-12)
        assert many["auroc"][i] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        assert many["f1"][i] == pytest.approx(f1_score(y, pred, zero_division=0), abs=1e-12)
        assert many["accuracy"][i] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
        assert many["brier"][i] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
        assert many["kappa"][i] == pytest.approx(cohen_kappa_score(y, pred), abs=1e-12)
        assert bool(many["degenerate"][i]) == degenerate(pred)
    assert many["degenerate"].tolist()[:4] == [False, False, True, True]
    assert many["accuracy"][2] == pytest.approx(1 - y.mean())  # 0.5 counted as negative
