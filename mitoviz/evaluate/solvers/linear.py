"""Binary linear models for many training sets at once, in torch.

The batched solvers minimise exactly the objective of the reference estimator:

- ``logreg``: scikit-learn's ``LogisticRegression`` (L2), ``0.5·‖w‖² + C·Σ_i cw_i·logloss_i``
  with the bias unpenalised and ``cw`` the class weights.
- ``linear-probe``: the UNI / FMC probe, ``mean_i CE_i + (1/C)·0.5·‖W‖₂`` (norm, not
  squared) for ``W`` of a zero-initialised ``nn.Linear(D, 2)``, default ``C = 2·D/100``. For
  two classes this equals ``mean_i logloss_i + λ·‖v‖`` with ``v = w₁ − w₀`` and
  ``λ = 0.5 / (C·√2)`` (the minimum-norm ``W`` for a given ``v`` is ``±v/2``).

Two exact solvers share that objective, chosen per group of same-sized fits: dual Newton
(:mod:`~mitoviz.evaluate.solvers.newton`) for small training sets, SESOP
(:mod:`~mitoviz.evaluate.solvers.sesop`) for larger ones.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from mitoviz.config import resolve_device
from mitoviz.errors import SpecError
from mitoviz.evaluate.solvers.inputs import Progress, check_train_sets, check_xy
from mitoviz.evaluate.solvers.newton import newton_dual
from mitoviz.evaluate.solvers.objective import gather_group
from mitoviz.evaluate.solvers.sesop import SUBSPACE, preconditioner, sesop, sesop_threads

Objective = Literal["logreg", "linear-probe"]
Method = Literal["auto", "newton", "sesop"]

#: Largest training-set size solved by dual Newton when ``method="auto"``; larger sets use SESOP.
NEWTON_MAX_N = 640
#: Solver tolerance: largest change of any training logit in the last iteration (SESOP), or
#: the Newton decrement relative to the objective (dual Newton uses ``tol**2``).
DEFAULT_TOL = 1e-3
#: Memory allowed for one group of gathered training rows (bytes).
GROUP_BYTES = 1 << 30


@dataclass(frozen=True)
class LinearFits:
    """Fitted linear models, one row per training set: ``P(y=1|x) = sigmoid(x·coef + intercept)``."""

    coef: np.ndarray
    intercept: np.ndarray
    n_iter: np.ndarray
    method: tuple[str, ...]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(positive) of every fit for every row of ``X``: ``[n_fits, n_rows]``."""
        logits = np.asarray(X, dtype=np.float64) @ self.coef.T + self.intercept
        return (1.0 / (1.0 + np.exp(-logits))).T


def _linear_weights(
    objective: Objective, y: np.ndarray, tr: np.ndarray, C: float, class_weight: Any
) -> np.ndarray:
    yt = y[tr]
    if objective == "linear-probe":
        return np.full(tr.size, 1.0 / tr.size)
    cw = np.ones(tr.size)
    if class_weight == "balanced":
        counts = np.bincount(yt, minlength=2)
        cw = (tr.size / (2.0 * counts))[yt]
    elif isinstance(class_weight, Mapping):
        cw = np.array([float(class_weight.get(int(v), 1.0)) for v in yt])
    elif class_weight is not None:
        raise SpecError(f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}.")
    return C * cw


def _groups(sizes: np.ndarray, newton: np.ndarray, D: int, max_bytes: int) -> list[list[int]]:
    """Fits of one solver and similar size, few enough that their working memory fits."""
    groups: list[list[int]] = []
    for solver in (True, False):
        members = np.flatnonzero(newton == solver)
        cur: list[int] = []
        for i in members[np.argsort(sizes[members], kind="stable")]:
            n = int(sizes[i])
            per_fit = n * D * 4 + (6 * (n + 1) ** 2 * 8 if solver else 3 * n * (SUBSPACE + 1) * 8)
            if cur and (n > 1.25 * sizes[cur[0]] + 8 or (len(cur) + 1) * per_fit > max_bytes):
                groups.append(cur)
                cur = []
            cur.append(int(i))
        if cur:
            groups.append(cur)
    return groups


def fit_linear(
    X: np.ndarray,
    y: np.ndarray,
    train_sets: Sequence[np.ndarray],
    objective: Objective = "logreg",
    *,
    C: float | None = None,
    class_weight: str | Mapping[int, float] | None = None,
    fit_intercept: bool = True,
    device: str | torch.device = "cpu",
    method: Method = "auto",
    tol: float = DEFAULT_TOL,
    max_iter: int = 1000,
    progress: Progress | None = None,
) -> LinearFits:
    """Fit one binary linear model per training set, all at once.

    ``objective="logreg"`` minimises scikit-learn's L2 logistic regression objective (``C``
    default 1.0, ``class_weight`` as in scikit-learn); ``"linear-probe"`` the UNI probe
    objective (``C`` default ``2·D/100``; no class weights). ``method`` picks the solver:
    dual Newton for sets of at most :data:`NEWTON_MAX_N` cells, SESOP above (``"auto"``).
    """
    X, y = check_xy(X, y)
    sets = check_train_sets(train_sets, y)
    dev = torch.device(resolve_device(device))
    D = X.shape[1]
    if objective == "logreg":
        C_val = 1.0 if C is None else float(C)
        kind, lam = "l2", 1.0
    elif objective == "linear-probe":
        if class_weight is not None:
            raise SpecError(
                "The UNI linear probe has no class weights.", "Use classifier='logreg' for weighting."
            )
        if not fit_intercept:
            raise SpecError("The UNI linear probe always fits a bias.")
        C_val = 2 * D / 100 if C is None else float(C)
        kind, lam = "norm", 0.5 / (C_val * math.sqrt(2.0))
    else:
        raise SpecError(f"Unknown linear objective {objective!r}.", "Use 'logreg' or 'linear-probe'.")
    if not C_val > 0:
        raise SpecError(f"C must be positive, got {C_val}.")
    if method not in ("auto", "newton", "sesop"):
        raise SpecError(f"Unknown solver method {method!r}.", "Use 'auto', 'newton' or 'sesop'.")
    weights = [_linear_weights(objective, y, tr, C_val, class_weight) for tr in sets]

    with warnings.catch_warnings():
        # read-only arrays (memory-mapped embeddings) are only read here
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        Xt = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32)).to(dev)
    sizes = np.array([tr.size for tr in sets])
    newton = np.array([method == "newton" or (method == "auto" and n <= NEWTON_MAX_N) for n in sizes])
    groups = _groups(sizes, newton, D, GROUP_BYTES)

    pre = None
    sesop_rows = [sets[i] for i in np.flatnonzero(~newton)]
    if sesop_rows:
        pre = preconditioner(Xt, np.unique(np.concatenate(sesop_rows)))

    coef = np.zeros((len(sets), D))
    intercept = np.zeros(len(sets))
    n_iter = np.zeros(len(sets), dtype=np.int64)
    methods = [""] * len(sets)
    done = 0
    with torch.no_grad():
        for grp in groups:
            g = gather_group(Xt, y, sets, grp, weights, fit_intercept)
            if newton[grp[0]]:
                w, b, its = newton_dual(g, kind, lam, fit_intercept, tol, max_iter)
                name = "newton-dual"
            else:
                assert pre is not None
                with sesop_threads(dev):
                    w, b, its = sesop(g, kind, lam, fit_intercept, tol, max_iter, pre)
                name = "sesop"
            b = b - (g.mu * w).sum(1)
            coef[grp] = w.cpu().numpy()
            intercept[grp] = b.cpu().numpy()
            n_iter[grp] = its
            for i in grp:
                methods[i] = name
            done += len(grp)
            del g
            if progress is not None:
                progress(done, len(sets))
    return LinearFits(coef, intercept, n_iter, tuple(methods))
