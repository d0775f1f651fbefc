"""The one decision rule: which class a probability predicts, and when a fit is degenerate.

The predicted class is positive when ``prob > THRESHOLD`` (strictly greater). That is what
scikit-learn's ``predict`` does for logistic regression (decision value > 0) and what an argmax
does for kNN votes, so a probability of exactly 0.5 is the negative class. Metrics, galleries,
bundles and exports all call :func:`predicted_positive`; nothing else compares a probability
with 0.5.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

THRESHOLD = 0.5


def predicted_positive(prob: ArrayLike, threshold: float = THRESHOLD) -> np.ndarray:
    """Boolean array: True where ``prob`` predicts the positive class (``prob > threshold``)."""
    return np.asarray(prob, dtype=np.float64) > threshold


def degenerate(pred: ArrayLike, axis: int | None = None) -> bool | np.ndarray:
    """Whether the predictions are all one class (PRISM's degeneracy: a constant, not a classifier).

    ``pred`` holds predicted classes (booleans from :func:`predicted_positive`, or labels). With
    ``axis=None`` the whole array is one fit and the answer is a bool; with an axis, one answer per
    fit along it (e.g. ``axis=1`` for ``[n_fits, n_test]``).
    """
    p = np.asarray(pred)
    whole = axis is None
    if whole:
        p, axis = p.ravel(), 0
    if p.shape[axis] == 0:
        same = np.ones(np.delete(p.shape, axis), dtype=bool)
    else:
        same = (p == np.take(p, [0], axis=axis)).all(axis=axis)
    return bool(same) if whole else same
