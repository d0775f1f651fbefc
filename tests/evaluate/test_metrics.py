"""Metrics against scikit-learn, the vectorised version against the per-fit one."""

from __future__ import annotations

import math
import warnings

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

from mitoviz.errors import SpecError
from mitoviz.evaluate.metrics import METRIC_NAMES, binary_metrics, binary_metrics_many


def _cases(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    cases = []
    for n, pos_share in [(50, 0.5), (200, 0.1), (33, 0.7)]:
        y = (rng.random(n) < pos_share).astype(int)
        y[:2] = [0, 1]
        p = np.clip(0.5 + 0.3 * (y - 0.5) + 0.3 * rng.standard_normal(n), 0, 1)
        cases.append((y, p))
        cases.append((y, np.round(p, 1)))  # many ties, some exactly at the threshold
    return cases


def _ece_reference(y: np.ndarray, p: np.ndarray, bins: int = 15) -> float:
    pred = p > 0.5
    conf = np.where(pred, p, 1 - p)
    correct = pred == (y == 1)
    total = 0.0
    for m in range(bins):
        lo, hi = m / bins, (m + 1) / bins
        inside = (conf > lo) & (conf <= hi) if m else (conf >= lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return total


@pytest.mark.parametrize("case", range(6))
def test_binary_metrics_agree_with_sklearn(case: int) -> None:
    y, p = _cases()[case]
    m = binary_metrics(y, p)
    pred = (p > 0.5).astype(int)
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred), abs=1e-12)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["f1"] == pytest.approx(f1_score(y, pred, zero_division=0), abs=1e-12)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert m["kappa"] == pytest.approx(cohen_kappa_score(y, pred), abs=1e-12)
    assert m["kappa"] == pytest.approx(cohen_kappa_score(y, pred, weights="quadratic"), abs=1e-12)
    assert m["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert m["ece"] == pytest.approx(_ece_reference(y, p), abs=1e-12)
    assert m["n"] == y.size and m["n_pos"] == int(y.sum())
    assert set(m) == set(METRIC_NAMES)


def test_vectorised_metrics_equal_per_fit_metrics() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.3).astype(int)
    probs = rng.random((7, 300))
    probs[2] = 0.9  # degenerate: every cell predicted positive
    probs[3] = np.round(probs[3], 1)
    many = binary_metrics_many(y, probs)
    for i in range(probs.shape[0]):
        one = binary_metrics(y, probs[i])
        for key in METRIC_NAMES:
            assert many[key][i] == pytest.approx(one[key], abs=1e-12, nan_ok=True), key
    per_fit_y = np.stack([rng.permutation(y) for _ in range(7)])
    many = binary_metrics_many(per_fit_y, probs)
    for i in range(7):
        assert many["auroc"][i] == pytest.approx(roc_auc_score(per_fit_y[i], probs[i]), abs=1e-12)


def test_threshold_is_strict_and_configurable() -> None:
    y = np.array([0, 1, 0, 1])
    p = np.array([0.5, 0.5, 0.2, 0.8])
    assert binary_metrics(y, p)["accuracy"] == pytest.approx(0.75)  # 0.5 counts as negative
    assert binary_metrics(y, p, threshold=0.1)["accuracy"] == pytest.approx(0.5)


def test_ece_known_values() -> None:
    y = np.array([1] * 9 + [0])
    assert binary_metrics(y, np.full(10, 0.9))["ece"] == pytest.approx(0.0, abs=1e-12)
    assert binary_metrics(np.zeros(5, int), np.full(5, 0.8))["ece"] == pytest.approx(0.8)
    # two bins: confidence 0.6 (3 of 4 right) and 0.95 (1 of 2 right)
    y = np.array([1, 1, 1, 0, 1, 0])
    p = np.array([0.6, 0.6, 0.6, 0.6, 0.95, 0.95])
    expected = 4 / 6 * abs(0.75 - 0.6) + 2 / 6 * abs(0.5 - 0.95)
    assert binary_metrics(y, p)["ece"] == pytest.approx(expected)


def test_undefined_metrics_are_nan_not_zero() -> None:
    y = np.ones(6, int)
    p = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.55])
    m = binary_metrics(y, p)
    assert math.isnan(m["auroc"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, (p > 0.5).astype(int)))
    all_pos = binary_metrics(y, np.full(6, 0.9))
    assert math.isnan(all_pos["kappa"])
    assert all_pos["degenerate"] is True
    none_pos = binary_metrics(np.array([0, 1, 1]), np.array([0.1, 0.2, 0.3]))
    assert none_pos["f1"] == 0.0 and none_pos["degenerate"] is True
    assert binary_metrics(np.array([0, 1, 1]), np.array([0.1, 0.7, 0.3]))["degenerate"] is False


@pytest.mark.parametrize(
    ("y", "p"),
    [
        (np.array([0, 2, 1]), np.array([0.1, 0.2, 0.3])),
        (np.array([0, 1, 1]), np.array([0.1, 1.2, 0.3])),
        (np.array([0, 1, 1]), np.array([0.1, np.nan, 0.3])),
        (np.array([0, 1]), np.array([0.1, 0.2, 0.3])),
        (np.array([], int), np.array([])),
    ],
)
def test_bad_metric_input_raises_spec_error(y: np.ndarray, p: np.ndarray) -> None:
    with pytest.raises(SpecError):
        binary_metrics(y, p)
