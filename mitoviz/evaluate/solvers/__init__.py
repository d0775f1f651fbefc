"""Batched solvers of the sweep: linear models (dual Newton, SESOP) and cosine kNN for many fits at once."""

from mitoviz.evaluate.solvers.inputs import Progress, check_index, check_train_sets, check_xy
from mitoviz.evaluate.solvers.knn import knn_predict
from mitoviz.evaluate.solvers.linear import DEFAULT_TOL, NEWTON_MAX_N, LinearFits, fit_linear

__all__ = [
    "DEFAULT_TOL",
    "NEWTON_MAX_N",
    "LinearFits",
    "Progress",
    "check_index",
    "check_train_sets",
    "check_xy",
    "fit_linear",
    "knn_predict",
]
