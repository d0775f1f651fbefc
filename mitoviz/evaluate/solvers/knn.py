"""Cosine kNN for many training sets sharing one test set: one similarity matrix for all fits.

kNN with fewer training cells than ``n_neighbors`` uses all of them and says so with a
:class:`~mitoviz.evaluate.classifiers.KNeighborsCappedWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from mitoviz.config import resolve_device
from mitoviz.errors import SpecError
from mitoviz.evaluate.classifiers import KNeighborsCappedWarning
from mitoviz.evaluate.solvers.inputs import check_index, check_train_sets, check_xy

#: Cosine distance below float32 resolution: the same point (its vote outweighs all others).
_SAME_POINT = 1e-6


def knn_predict(
    X: np.ndarray,
    y: np.ndarray,
    train_sets: Sequence[np.ndarray],
    test_idx: np.ndarray,
    *,
    n_neighbors: int = 20,
    weights: Literal["uniform", "distance"] = "uniform",
    device: str | torch.device = "cpu",
    chunk: int = 1024,
) -> np.ndarray:
    """Cosine kNN for many training sets sharing one test set: P(positive) ``[n_fits, n_test]``.

    One similarity matrix between the test cells and the union of all training cells is
    computed in chunks and shared by all fits. Matches scikit-learn's
    ``KNeighborsClassifier(metric="cosine")``: uniform votes or weights ``1/distance``
    (cosine distance ``1 - cos``; exact matches, distance 0 up to float32 rounding,
    outvote all others).
    """
    X, y = check_xy(X, y)
    sets = check_train_sets(train_sets, y)
    test = check_index(test_idx, y.size, "Test index")
    if weights not in ("uniform", "distance"):
        raise SpecError(f"weights must be 'uniform' or 'distance', got {weights!r}.")
    if int(n_neighbors) < 1:
        raise SpecError(f"n_neighbors must be at least 1, got {n_neighbors}.")
    dev = torch.device(resolve_device(device))
    small = [i for i, tr in enumerate(sets) if tr.size < n_neighbors]
    if small:
        warnings.warn(
            f"{len(small)} training set(s) have fewer than n_neighbors={n_neighbors} cells "
            f"(smallest {min(sets[i].size for i in small)}); kNN used all their cells as neighbours.",
            KNeighborsCappedWarning,
            stacklevel=2,
        )
    union, inverse = np.unique(np.concatenate(sets), return_inverse=True)
    offsets = np.cumsum([0] + [tr.size for tr in sets])
    cols = [torch.from_numpy(inverse[offsets[i] : offsets[i + 1]]).to(dev) for i in range(len(sets))]
    labels = [torch.from_numpy(y[tr]).to(dev, torch.float64) for tr in sets]

    def normalised(rows: np.ndarray) -> torch.Tensor:
        t = torch.as_tensor(np.ascontiguousarray(X[rows], dtype=np.float32)).to(dev)
        return t / t.norm(dim=1, keepdim=True).clamp_min(1e-12)

    Xu = normalised(union)
    out = np.empty((len(sets), test.size))
    with torch.no_grad():
        for start in range(0, test.size, chunk):
            Q = normalised(test[start : start + chunk])
            S = Q @ Xu.T
            for i in range(len(sets)):
                k = min(int(n_neighbors), sets[i].size)
                sim, pos = S[:, cols[i]].topk(k, dim=1)
                votes = labels[i][pos]
                if weights == "uniform":
                    prob = votes.mean(1)
                else:
                    dist = (1.0 - sim.to(torch.float64)).clamp_min(0.0)
                    exact = dist <= _SAME_POINT
                    wgt = torch.where(exact.any(1, keepdim=True), exact.to(torch.float64), 1.0 / dist)
                    prob = (wgt * votes).sum(1) / wgt.sum(1)
                out[i, start : start + Q.shape[0]] = prob.cpu().numpy()
    return out
