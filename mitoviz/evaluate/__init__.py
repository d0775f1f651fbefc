"""Evaluation on frozen embeddings: classifiers, the batched sweep, metrics, robustness and maps.

The light public API is importable from here (no torch import): the decision rule and the metrics,
per fit and batched over many fits (:func:`binary_metrics_many`, one call for all fits that share
test cells). The sweep (``mitoviz.evaluate.sweep``), the classifiers and the solvers import torch and
are imported from their modules.
"""

from mitoviz.evaluate.decision import THRESHOLD, degenerate, predicted_positive
from mitoviz.evaluate.metrics import METRIC_NAMES, binary_metrics, binary_metrics_many

__all__ = [
    "METRIC_NAMES",
    "THRESHOLD",
    "binary_metrics",
    "binary_metrics_many",
    "degenerate",
    "predicted_positive",
]
