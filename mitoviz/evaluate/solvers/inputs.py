"""Checks shared by the sweep and the batched solvers: embeddings, 0/1 labels, row indices, training sets.

Training sets with a single class raise :class:`~mitoviz.errors.BudgetError` before any work is done
(a probability model cannot be fitted to one class; reporting a constant would hide that the budget
was too small).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mitoviz.errors import BudgetError, SpecError

#: ``progress(done, total)``, called as fits finish.
Progress = Callable[[int, int], None]


def check_xy(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise SpecError(f"Embeddings must be a non-empty 2-D array [cells, dims], got shape {X.shape}.")
    if y.shape != (X.shape[0],):
        raise SpecError(
            f"{y.shape[0] if y.ndim else 0} labels for {X.shape[0]} embeddings.",
            "Pass one 0/1 label per embedding row.",
        )
    if y.dtype == bool:
        y = y.astype(np.int64)
    if not np.isin(y, (0, 1)).all():
        raise SpecError("Labels must be 0/1 (1 = positive class).", "Map the class names to 0/1 first.")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    if not np.isfinite(X).all():
        raise SpecError("Embeddings contain NaN or infinite values.", "Re-extract the embeddings.")
    return X, y.astype(np.int64)


def check_index(idx: np.ndarray, n: int, what: str) -> np.ndarray:
    idx = np.asarray(idx)
    if idx.ndim != 1 or idx.size == 0:
        raise SpecError(f"{what} must be a non-empty 1-D array of row indices.")
    if not np.issubdtype(idx.dtype, np.integer):
        raise SpecError(f"{what} must hold integer row indices, got {idx.dtype}.")
    if idx.min() < -n or idx.max() >= n:
        raise SpecError(f"{what} has indices outside the {n} embedding rows.")
    return np.where(idx < 0, idx + n, idx).astype(np.int64)


def check_train_sets(train_sets: Sequence[np.ndarray], y: np.ndarray) -> list[np.ndarray]:
    if len(train_sets) == 0:
        raise SpecError("No training sets given.", "Pass at least one array of training indices.")
    out = []
    for i, tr in enumerate(train_sets):
        tr = check_index(tr, y.size, f"Training set {i}")
        n_pos = int(y[tr].sum())
        if n_pos in (0, tr.size):
            only = "positive" if n_pos else "negative"
            raise BudgetError(
                f"Training set {i} ({tr.size} cells) holds only {only} cells; "
                "a classifier needs both classes.",
                "Draw at least one cell of each class per fit (raise the budget or sample per class).",
            )
        out.append(tr)
    return out
