"""Binary classification metrics for one fit or many fits at once, and seed summaries.

Conventions (shared by :func:`binary_metrics` and :func:`binary_metrics_many`):

- ``y_true`` holds 0/1 (or bool) labels, 1 = the positive class (e.g. mitotic figure);
  ``prob`` is the predicted probability of the positive class.
- The predicted label comes from :func:`mitoviz.evaluate.decision.predicted_positive`
  (``prob > threshold``, strictly greater), so ties at 0.5 go to the negative class.
- Metrics undefined on the data are NaN, never silently 0: ``auroc`` when ``y_true``
  holds one class only. ``balanced_accuracy`` then averages the recall of the classes
  present (as scikit-learn does), ``f1`` of the positive class is 0 when it has no true
  positives, ``kappa`` is NaN when labels and predictions are the same single class.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from mitoviz.errors import SpecError
from mitoviz.evaluate.decision import THRESHOLD, degenerate, predicted_positive

ECE_BINS = 15

METRIC_NAMES: tuple[str, ...] = (
    "balanced_accuracy",
    "auroc",
    "f1",
    "accuracy",
    "kappa",
    "ece",
    "brier",
    "n",
    "n_pos",
    "degenerate",
)


def _check_inputs(y_true: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    p = np.asarray(probs, dtype=np.float64)
    if y.dtype == bool:
        y = y.astype(np.int8)
    if y.size and not np.isin(y, (0, 1)).all():
        raise SpecError(
            "Labels for binary metrics must be 0/1 (1 = positive class).",
            "Map the class names to 0/1 before computing metrics.",
        )
    if p.shape[-1] != y.shape[-1]:
        raise SpecError(
            f"{p.shape[-1]} probabilities for {y.shape[-1]} labels.",
            "Pass one probability per test cell.",
        )
    if p.shape[-1] == 0:
        raise SpecError("No test cells to compute metrics on.", "Check the test split.")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise SpecError("Probabilities must be finite and within [0, 1].", "Pass P(positive), not logits.")
    return y.astype(np.float64), p


def binary_metrics_many(
    y_true: np.ndarray, probs: np.ndarray, threshold: float = THRESHOLD
) -> dict[str, np.ndarray]:
    """Metrics of many fits on the same test cells, vectorised over fits.

    ``probs`` is ``[n_fits, n_test]``; ``y_true`` is ``[n_test]`` (shared) or
    ``[n_fits, n_test]``. Returns one array of length ``n_fits`` per metric, equal to
    calling :func:`binary_metrics` per fit.

    - ``balanced_accuracy`` = mean recall of the classes present in ``y_true``.
    - ``auroc`` = Mann-Whitney U / (n_pos * n_neg) with average ranks for ties
      (identical to the trapezoidal ROC area); NaN when one class only.
    - ``f1`` of the positive class; ``kappa`` = Cohen's kappa (for two classes the
      linear and quadratic weighted kappas are the same number).
    - ``ece`` (Guo et al. 2017, top-label): confidence = probability of the predicted
      class; cells go into 15 equal-width bins ``((m-1)/15, m/15]`` of confidence;
      ECE = sum over bins of (bin size / n) * |accuracy in bin - mean confidence in bin|.
    - ``brier`` = mean squared difference between ``prob`` and the 0/1 label.
    - ``degenerate`` = all predicted labels are the same class (PRISM's degeneracy):
      a chance-level fit at a tiny budget, not a classifier.
    """
    y, p = _check_inputs(y_true, probs)
    if p.ndim != 2:
        raise SpecError("probs must be a 2-D array [n_fits, n_test].", "Stack one row per fit.")
    y2 = np.broadcast_to(y, p.shape)
    n = p.shape[1]
    pred = predicted_positive(p, threshold)
    pos = y2 == 1
    n_pos = pos.sum(axis=1).astype(np.float64)
    n_neg = n - n_pos
    tp = (pred & pos).sum(axis=1).astype(np.float64)
    fp = (pred & ~pos).sum(axis=1).astype(np.float64)
    fn = n_pos - tp
    tn = n_neg - fp

    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.where(n_pos > 0, tp / n_pos, np.nan)
        tnr = np.where(n_neg > 0, tn / n_neg, np.nan)
        balanced = np.nanmean(np.stack([tpr, tnr]), axis=0)
        f1_den = 2 * tp + fp + fn
        f1 = np.where(f1_den > 0, 2 * tp / np.where(f1_den > 0, f1_den, 1), 0.0)
        accuracy = (tp + tn) / n
        pred_pos = tp + fp
        expected = (n_pos * pred_pos + n_neg * (n - pred_pos)) / (n * n)
        kappa = np.where(expected < 1, (accuracy - expected) / (1 - expected), np.nan)

    ranks = stats.rankdata(p, axis=1)
    rank_sum = (ranks * pos).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auroc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    auroc = np.where((n_pos > 0) & (n_neg > 0), auroc, np.nan)

    confidence = np.where(pred, p, 1 - p)
    correct = (pred == pos).astype(np.float64)
    bins = np.clip(np.ceil(confidence * ECE_BINS).astype(np.int64) - 1, 0, ECE_BINS - 1)
    rows = np.repeat(np.arange(p.shape[0]), n)
    flat = rows * ECE_BINS + bins.ravel()
    size = np.bincount(flat, minlength=p.shape[0] * ECE_BINS)
    conf_sum = np.bincount(flat, weights=confidence.ravel(), minlength=size.size)
    acc_sum = np.bincount(flat, weights=correct.ravel(), minlength=size.size)
    ece = np.abs(acc_sum - conf_sum).reshape(p.shape[0], ECE_BINS).sum(axis=1) / n

    brier = ((p - y2) ** 2).mean(axis=1)
    return {
        "balanced_accuracy": balanced,
        "auroc": auroc,
        "f1": f1,
        "accuracy": accuracy,
        "kappa": kappa,
        "ece": ece,
        "brier": brier,
        "n": np.full(p.shape[0], n, dtype=np.int64),
        "n_pos": n_pos.astype(np.int64),
        "degenerate": degenerate(pred, axis=1),
    }


def binary_metrics(y_true: np.ndarray, prob: np.ndarray, threshold: float = THRESHOLD) -> dict[str, float]:
    """Metrics of one fit: see :func:`binary_metrics_many` for the definitions.

    Keys: balanced_accuracy, auroc, f1, accuracy, kappa, ece, brier (floats, NaN where
    undefined), n, n_pos (ints) and degenerate (bool).
    """
    prob = np.asarray(prob)
    if prob.ndim != 1:
        raise SpecError("prob must be a 1-D array of P(positive).", "Use binary_metrics_many for many fits.")
    many = binary_metrics_many(y_true, prob[None, :], threshold)
    out: dict[str, float] = {}
    for key, value in many.items():
        item = value[0].item()
        out[key] = item
    return out
