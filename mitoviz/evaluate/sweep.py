"""The fast sweep: every budget × seed fit of one encoder's embeddings in one batched call.

Linear models ("logreg", "linear-probe") are solved for many training sets at once in
torch; "knn" shares one cosine-similarity matrix between all fits; everything else (SVM,
the Nielsen pipelines, any scikit-learn estimator) falls back to a loop of scikit-learn
fits. The batched solvers minimise exactly the objective of the reference estimator:

- ``logreg``: scikit-learn's ``LogisticRegression`` (L2), ``0.5·‖w‖² + C·Σ_i cw_i·logloss_i``
  with the bias unpenalised and ``cw`` the class weights.
- ``linear-probe``: the UNI / FMC probe, ``mean_i CE_i + (1/C)·0.5·‖W‖₂`` (norm, not
  squared) for ``W`` of a zero-initialised ``nn.Linear(D, 2)``, default ``C = 2·D/100``. For
  two classes this equals ``mean_i logloss_i + λ·‖v‖`` with ``v = w₁ − w₀`` and
  ``λ = 0.5 / (C·√2)`` (the minimum-norm ``W`` for a given ``v`` is ``±v/2``).

Two exact solvers share that objective, chosen per group of same-sized fits:

- Newton's method in the dual (kernel) space for small training sets: ``w = Xcᵀα``, one
  ``n×n`` kernel per fit, a few batched ``(n+1)×(n+1)`` solves in float64.
- For larger training sets, sequential subspace optimisation (SESOP): each iteration adds
  the preconditioned gradient to a subspace of the last ``m`` directions and minimises the
  objective exactly over that subspace and the bias with a small Newton solve. It costs two
  passes over the data per iteration, like L-BFGS, but converges in far fewer iterations:
  features are centred per fit (the free bias absorbs the mean, so the solution is
  unchanged) and the gradient is preconditioned with the leading principal components of
  the training rows (shared by all fits of the call).

Training sets with a single class raise :class:`~mitoviz.errors.BudgetError` before any
work is done (a probability model cannot be fitted to one class; reporting a constant would
hide that the budget was too small). kNN with fewer training cells than ``n_neighbors``
uses all of them and says so with a :class:`KNeighborsCappedWarning`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from mitoviz.errors import BudgetError, SpecError
from mitoviz.evaluate.classifiers import (
    KNeighborsCappedWarning,
    batched_config,
    make_classifier,
    resolve_device,
)

Progress = Callable[[int, int], None]
Objective = Literal["logreg", "linear-probe"]
Method = Literal["auto", "newton", "sesop"]

#: Largest training-set size solved by dual Newton when ``method="auto"``; larger sets use SESOP.
NEWTON_MAX_N = 640
#: Solver tolerance: largest change of any training logit in the last iteration (SESOP), or
#: the Newton decrement relative to the objective (dual Newton uses ``tol**2``).
DEFAULT_TOL = 1e-3
#: Memory allowed for one group of gathered training rows (bytes).
GROUP_BYTES = 1 << 30

#: Cosine distance below float32 resolution: the same point (its vote outweighs all others).
_SAME_POINT = 1e-6
_PCA_RANK = 128
_PCA_ROWS = 2048
_PCA_POWER = 2
_SUBSPACE = 16


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


# --------------------------------------------------------------------------- validation


def _check_xy(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _check_index(idx: np.ndarray, n: int, what: str) -> np.ndarray:
    idx = np.asarray(idx)
    if idx.ndim != 1 or idx.size == 0:
        raise SpecError(f"{what} must be a non-empty 1-D array of row indices.")
    if not np.issubdtype(idx.dtype, np.integer):
        raise SpecError(f"{what} must hold integer row indices, got {idx.dtype}.")
    if idx.min() < -n or idx.max() >= n:
        raise SpecError(f"{what} has indices outside the {n} embedding rows.")
    return np.where(idx < 0, idx + n, idx).astype(np.int64)


def _check_train_sets(train_sets: Sequence[np.ndarray], y: np.ndarray) -> list[np.ndarray]:
    if len(train_sets) == 0:
        raise SpecError("No training sets given.", "Pass at least one array of training indices.")
    out = []
    for i, tr in enumerate(train_sets):
        tr = _check_index(tr, y.size, f"Training set {i}")
        n_pos = int(y[tr].sum())
        if n_pos in (0, tr.size):
            only = "positive" if n_pos else "negative"
            raise BudgetError(
                f"Training set {i} ({tr.size} cells) holds only {only} cells; a classifier needs both classes.",
                "Draw at least one cell of each class per fit (raise the budget or sample per class).",
            )
        out.append(tr)
    return out


# --------------------------------------------------------------------------- linear solvers


def _phi(q: torch.Tensor, kind: str, lam: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Penalty φ(‖w‖²) and its first two derivatives in q = ‖w‖²."""
    if kind == "l2":
        return 0.5 * q, torch.full_like(q, 0.5), torch.zeros_like(q)
    root = q.clamp_min(1e-200).sqrt()
    return lam * root, 0.5 * lam / root, -0.25 * lam / (root * root * root)


def _loss(f: torch.Tensor, y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return (c * (torch.nn.functional.softplus(f) - y * f)).sum(-1)


@dataclass
class _Group:
    fits: list[int]
    X: torch.Tensor  # [B, n, D] float32, centred per fit, zero on padding rows
    mu: torch.Tensor  # [B, D] float64
    y: torch.Tensor  # [B, n] float64
    c: torch.Tensor  # [B, n] float64 sample weights, 0 on padding rows


def _gather_group(
    Xt: torch.Tensor,
    y: np.ndarray,
    train_sets: list[np.ndarray],
    fits: list[int],
    weights: list[np.ndarray],
    fit_intercept: bool,
) -> _Group:
    dev = Xt.device
    n_max = max(train_sets[i].size for i in fits)
    B = len(fits)
    idx = np.zeros((B, n_max), dtype=np.int64)
    mask = np.zeros((B, n_max), dtype=bool)
    yy = np.zeros((B, n_max))
    cc = np.zeros((B, n_max))
    for j, i in enumerate(fits):
        n = train_sets[i].size
        idx[j, :n] = train_sets[i]
        mask[j, :n] = True
        yy[j, :n] = y[train_sets[i]]
        cc[j, :n] = weights[i]
    mask_t = torch.from_numpy(mask).to(dev)
    padded = not bool(mask.all())
    Xg = Xt[torch.from_numpy(idx).to(dev)]
    if padded:
        Xg.mul_(mask_t.unsqueeze(-1).to(Xg.dtype))
    if fit_intercept:
        counts = mask_t.sum(1, keepdim=True).to(torch.float64)
        mu = Xg.sum(1).to(torch.float64) / counts
        Xg.sub_(mu.unsqueeze(1).to(Xg.dtype))
        if padded:
            Xg.mul_(mask_t.unsqueeze(-1).to(Xg.dtype))
    else:
        mu = torch.zeros(B, Xt.shape[1], dtype=torch.float64, device=dev)
    to64 = {"dtype": torch.float64, "device": dev}
    return _Group(fits, Xg, mu, torch.tensor(yy, **to64), torch.tensor(cc, **to64))


def _initial_bias(g: _Group, fit_intercept: bool) -> torch.Tensor:
    """Optimal bias of the model with w = 0: the log-odds of the weighted positive share."""
    if not fit_intercept:
        return torch.zeros(g.y.shape[0], dtype=torch.float64, device=g.y.device)
    share = (g.c * g.y).sum(1) / g.c.sum(1)
    return torch.log(share) - torch.log1p(-share)


def _ray_start(u: torch.Tensor, dnorm: torch.Tensor, b: torch.Tensor, g: _Group, lam: float) -> torch.Tensor:
    """Step t ≥ 0 minimising loss(b + t·u) + λ·t·‖d‖ along a descent ray (norm penalty start)."""
    t = torch.zeros_like(b)
    for _ in range(50):
        f = b.unsqueeze(1) + t.unsqueeze(1) * u
        p = torch.sigmoid(f)
        d1 = (g.c * (p - g.y) * u).sum(1) + lam * dnorm
        d2 = (g.c * p * (1 - p) * u * u).sum(1).clamp_min(1e-300)
        t_new = (t - d1 / d2).clamp_min(0.5 * t)
        if torch.all((t_new - t).abs() <= 1e-10 * (1 + t.abs())):
            t = t_new
            break
        t = t_new
    return t


def _matvec(X: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``X[i] @ v[i]`` for a batch: ``[B, n, D] x [B, D] -> [B, n]`` (float64 out).

    On CPU through numpy's BLAS gemv: torch's CPU ``bmm``/``mv`` with a vector operand
    is markedly slower on these memory-bound products.
    """
    v = v.to(X.dtype)
    if X.device.type == "cpu":
        return torch.from_numpy(np.matmul(X.numpy(), v.numpy()[:, :, None])[:, :, 0]).to(torch.float64)
    return torch.bmm(X, v.unsqueeze(-1)).squeeze(-1).to(torch.float64)


def _rmatvec(X: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``X[i]ᵀ @ r[i]`` for a batch: ``[B, n, D] x [B, n] -> [B, D]`` (float64 out)."""
    r = r.to(X.dtype)
    if X.device.type == "cpu":
        return torch.from_numpy(np.matmul(r.numpy()[:, None, :], X.numpy())[:, 0, :]).to(torch.float64)
    return torch.bmm(r.unsqueeze(1), X).squeeze(1).to(torch.float64)


def _bt(A: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``A[i]ᵀ @ r[i]`` for small batched matrices (``bmm`` of a transposed operand is slow on CPU)."""
    return torch.bmm(r.unsqueeze(1), A).squeeze(1)


@contextmanager
def _sesop_threads(dev: torch.device) -> Iterator[None]:
    """On CPU, run numpy's BLAS (the data passes) on one thread.

    Its busy-waiting threads and torch's OpenMP threads slow each other down several-fold
    when both are active on few cores. (torch's own thread count is left alone: changing
    it mid-process has broken later batched LU solves in torch 2.14 with MKL.)
    """
    if dev.type != "cpu":
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def _solve(A: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    sol, info = torch.linalg.solve_ex(A, rhs.unsqueeze(-1))
    if bool((info != 0).any()):
        eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        scale = A.diagonal(dim1=-2, dim2=-1).abs().amax(-1).clamp_min(1e-300)
        sol = torch.linalg.lstsq(A + 1e-12 * scale[:, None, None] * eye, rhs.unsqueeze(-1)).solution
    return sol.squeeze(-1)


def _newton_dual(
    g: _Group, kind: str, lam: float, fit_intercept: bool, tol: float, max_iter: int
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Newton's method on ``α`` with ``w = Xcᵀα``: exact and fast for small training sets."""
    B, n, _ = g.X.shape
    dev = g.X.device
    K = torch.bmm(g.X, g.X.transpose(1, 2)).to(torch.float64)
    alpha = torch.zeros(B, n, dtype=torch.float64, device=dev)
    b = _initial_bias(g, fit_intercept)
    n_iter = np.zeros(B, dtype=np.int64)
    active = torch.ones(B, dtype=torch.bool, device=dev)
    Ka = torch.zeros_like(alpha)
    if kind == "norm":
        p0 = torch.sigmoid(b).unsqueeze(1).expand(B, n)
        r0 = g.c * (p0 - g.y)
        Kr = _bt(K, r0)
        gnorm = (r0 * Kr).sum(1).clamp_min(0).sqrt()
        active = gnorm > lam
        t = _ray_start(-Kr, gnorm, b, g, lam)
        alpha = torch.where(active.unsqueeze(1), -t.unsqueeze(1) * r0, alpha)
        Ka = _bt(K, alpha)
    eye = torch.eye(n, dtype=torch.float64, device=dev)
    bias_on = 1.0 if fit_intercept else 0.0

    def objective(a: torch.Tensor, bb: torch.Tensor, Kaa: torch.Tensor) -> torch.Tensor:
        q = (a * Kaa).sum(1).clamp_min(0)
        return _loss(Kaa + bb.unsqueeze(1), g.y, g.c) + _phi(q, kind, lam)[0]

    F = objective(alpha, b, Ka)
    for _ in range(max_iter):
        if not bool(active.any()):
            break
        f = Ka + b.unsqueeze(1)
        p = torch.sigmoid(f)
        r = g.c * (p - g.y)
        s = g.c * p * (1 - p)
        q = (alpha * Ka).sum(1).clamp_min(0)
        _, d1, d2 = _phi(q, kind, lam)
        ga = r + 2 * d1.unsqueeze(1) * alpha
        M = s.unsqueeze(2) * K + 2 * d1[:, None, None] * eye
        if kind == "norm":
            M = M + 4 * d2[:, None, None] * alpha.unsqueeze(2) * Ka.unsqueeze(1)
        Ks = _bt(K, s)
        A = torch.zeros(B, n + 1, n + 1, dtype=torch.float64, device=dev)
        A[:, :n, :n] = M
        A[:, :n, n] = s * bias_on
        A[:, n, :n] = Ks * bias_on
        A[:, n, n] = s.sum(1) * bias_on + (1 - bias_on)
        rhs = torch.cat([-ga, (-r.sum(1) * bias_on).unsqueeze(1)], 1)
        step = _solve(A, rhs)
        da, db = step[:, :n], step[:, n]
        Kda = _bt(K, da)
        slope = (ga * Kda).sum(1) + r.sum(1) * db
        dec = -slope
        done = active & (dec <= tol * tol * (1 + F.abs()))
        active = active & ~done
        n_iter += active.cpu().numpy()
        if not bool(active.any()):
            break
        t = torch.where(active, 1.0, 0.0).to(torch.float64)
        for _ in range(40):
            F_new = objective(alpha + t.unsqueeze(1) * da, b + t * db, Ka + t.unsqueeze(1) * Kda)
            bad = active & (F_new > F + 1e-4 * t * slope) & (t > 1e-12)
            if not bool(bad.any()):
                break
            t = torch.where(bad, 0.5 * t, t)
        stalled = active & (t <= 1e-12)
        move = active & ~stalled
        active = move
        alpha = torch.where(move.unsqueeze(1), alpha + t.unsqueeze(1) * da, alpha)
        Ka = torch.where(move.unsqueeze(1), Ka + t.unsqueeze(1) * Kda, Ka)
        b = torch.where(move, b + t * db, b)
        F = objective(alpha, b, Ka)
    else:
        if bool(active.any()):
            warnings.warn(
                f"Batched Newton did not converge in {max_iter} iterations.", ConvergenceWarning, stacklevel=3
            )
    w = _rmatvec(g.X, alpha)
    return w, b, n_iter


@dataclass(frozen=True)
class _Preconditioner:
    V: torch.Tensor  # [D, r] float64, orthonormal leading principal directions
    e: torch.Tensor  # [r] variance per row along V
    e_rest: float  # mean variance per row in the orthogonal complement

    def apply(self, grad: torch.Tensor, a: torch.Tensor, s_sum: torch.Tensor) -> torch.Tensor:
        """Approximately solve (a·I + s_sum·Cov) d = grad for each fit."""
        coeff = grad @ self.V
        top = (coeff / (a.unsqueeze(1) + s_sum.unsqueeze(1) * self.e)) @ self.V.T
        rest = (grad - coeff @ self.V.T) / (a + s_sum * self.e_rest).clamp_min(1e-300).unsqueeze(1)
        return top + rest


def _preconditioner(Xt: torch.Tensor, rows: np.ndarray, seed: int = 0) -> _Preconditioner:
    """Leading principal directions of (a sample of) the training rows: randomised SVD."""
    rng = np.random.default_rng(seed)
    if rows.size > _PCA_ROWS:
        rows = rng.choice(rows, _PCA_ROWS, replace=False)
    Xs = Xt[torch.from_numpy(np.sort(rows)).to(Xt.device)].to(torch.float32)
    Xs = Xs - Xs.mean(0, keepdim=True)
    m, D = Xs.shape
    r = min(_PCA_RANK, D, m)
    if 2 * r >= D:
        cov = (Xs.T @ Xs).double() / m
        e, V = torch.linalg.eigh(cov)
        e, V = e.flip(0).clamp_min(0), V.flip(1)
        e_rest = float(e[r]) if r < D else float(e[-1])
        return _Preconditioner(V[:, :r].contiguous(), e[:r].contiguous(), max(e_rest, 1e-12 * float(e[0])))
    gen = torch.Generator(device="cpu").manual_seed(seed)
    omega = torch.randn(D, r + 16, generator=gen).to(Xs.device)
    Y = Xs @ omega
    Q, _ = torch.linalg.qr(Xs.T @ Y)
    for _ in range(_PCA_POWER):
        Q, _ = torch.linalg.qr(Xs.T @ (Xs @ Q))
    Z = Xs @ Q
    _, sv, Vh = torch.linalg.svd(Z.double(), full_matrices=False)
    V = (Q.double() @ Vh.T)[:, :r]
    e = (sv[:r] ** 2) / m
    e_rest = float(sv[r] ** 2) / m if sv.numel() > r else float(e[-1])
    return _Preconditioner(V.contiguous(), e.contiguous(), max(e_rest, 1e-12 * float(e[0])))


def _sesop(
    g: _Group,
    kind: str,
    lam: float,
    fit_intercept: bool,
    tol: float,
    max_iter: int,
    pre: _Preconditioner,
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Preconditioned sequential subspace optimisation for larger training sets.

    Column 0 of the subspace is the bias; columns 1.. hold the last directions ``d`` in
    weight space (``Dm``) and their logits ``X·d`` (``XA``), so the exact minimisation over
    the subspace never touches the data.
    """
    B, n, D = g.X.shape
    dev = g.X.device
    f64 = {"dtype": torch.float64, "device": dev}
    Xg = g.X
    w = torch.zeros(B, D, **f64)
    b = _initial_bias(g, fit_intercept)
    f = b.unsqueeze(1).expand(B, n).clone()  # logits of the training rows, bias included
    active = torch.ones(B, dtype=torch.bool, device=dev)
    n_iter = np.zeros(B, dtype=np.int64)
    real = g.c > 0

    if kind == "norm":
        gr = _rmatvec(Xg, g.c * (torch.sigmoid(f) - g.y))
        gnorm = gr.norm(dim=1)
        active = gnorm > lam
        u = -_matvec(Xg, gr)
        t = torch.where(active, _ray_start(u, gnorm, b, g, lam), 0.0)
        w = -t.unsqueeze(1) * gr
        f = f + t.unsqueeze(1) * u

    m = _SUBSPACE + 1
    Dm = torch.zeros(B, D, m, **f64)
    XA = torch.zeros(B, n, m, **f64)
    XA[:, :, 0] = 1.0 if fit_intercept else 0.0
    change = torch.zeros(B, **f64)
    for it in range(max_iter):
        if not bool(active.any()):
            break
        p = torch.sigmoid(f)
        q = (w * w).sum(1)
        _, d1, _ = _phi(q, kind, lam)
        grad = _rmatvec(Xg, g.c * (p - g.y)) + 2 * d1.unsqueeze(1) * w
        s_sum = (g.c * p * (1 - p)).sum(1)
        d = -pre.apply(grad, 2 * d1 if kind == "l2" else torch.zeros_like(d1), s_sum)
        slot = 1 + it % _SUBSPACE
        Dm[:, :, slot] = d
        XA[:, :, slot] = _matvec(Xg, d)
        k = min(it + 2, m)
        Dk, Ak = Dm[:, :, :k], XA[:, :, :k]
        G = torch.bmm(Dk.transpose(1, 2).contiguous(), Dk)
        Dw = _bt(Dk, w)
        t = _subspace_newton(f, Ak, G, Dw, q, g, kind, lam, fit_intercept)
        t = torch.where(active.unsqueeze(1), t, 0.0)
        df = torch.bmm(Ak, t.unsqueeze(-1)).squeeze(-1)
        change = torch.where(real, df.abs(), 0.0).amax(1)
        w = w + torch.bmm(Dk, t.unsqueeze(-1)).squeeze(-1)
        f = f + df
        b = b + t[:, 0]
        n_iter += active.cpu().numpy()
        active = active & (change > tol)
    if bool(active.any()):
        warnings.warn(
            f"Batched SESOP did not converge in {max_iter} iterations "
            f"(largest logit change {float(change.max()):.2e}).",
            ConvergenceWarning,
            stacklevel=3,
        )
    return w, b, n_iter


def _subspace_newton(
    f0: torch.Tensor,
    A: torch.Tensor,
    G: torch.Tensor,
    Dw: torch.Tensor,
    q0: torch.Tensor,
    g: _Group,
    kind: str,
    lam: float,
    fit_intercept: bool,
    iters: int = 4,
) -> torch.Tensor:
    """Minimise the objective over ``f0 + A·t`` with ``‖w + D·t‖² = q0 + 2tᵀDw + tᵀGt``.

    A damped Newton method in the (k)-dim subspace; needs only the logits ``A`` of the
    subspace directions, never the data itself.
    """
    B, _, k = A.shape
    dev = A.device
    AT = A.transpose(1, 2).contiguous()
    theta = torch.zeros(B, k, dtype=torch.float64, device=dev)
    jitter = 1e-13 * torch.eye(k, dtype=torch.float64, device=dev)
    if not fit_intercept:
        jitter[0, 0] = 1.0

    def value(th: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f = f0 + torch.bmm(A, th.unsqueeze(-1)).squeeze(-1)
        Gt = torch.bmm(G, th.unsqueeze(-1)).squeeze(-1)
        qv = (q0 + (th * (2 * Dw + Gt)).sum(1)).clamp_min(0)
        return _loss(f, g.y, g.c) + _phi(qv, kind, lam)[0], f, qv

    F, f, qv = value(theta)
    for _ in range(iters):
        p = torch.sigmoid(f)
        s = g.c * p * (1 - p)
        _, d1, d2 = _phi(qv, kind, lam)
        dq = 2 * (Dw + torch.bmm(G, theta.unsqueeze(-1)).squeeze(-1))
        grad = _bt(A, g.c * (p - g.y)) + d1.unsqueeze(1) * dq
        H = torch.bmm(AT, s.unsqueeze(-1) * A) + 2 * d1[:, None, None] * G
        if kind == "norm":
            H = H + d2[:, None, None] * dq.unsqueeze(2) * dq.unsqueeze(1)
        scale = H.diagonal(dim1=-2, dim2=-1).amax(-1).clamp_min(1e-300)
        step = _solve(H + scale[:, None, None] * jitter, -grad)
        slope = (grad * step).sum(1)
        live = -slope > 1e-14 * (1 + F.abs())
        if not bool(live.any()):
            break
        t = live.to(torch.float64)
        F_new, f_new, q_new = value(theta + t.unsqueeze(1) * step)
        bad = live & ~(F_new <= F + 1e-4 * t * slope)
        while bool(bad.any()):
            t = torch.where(bad, 0.5 * t, t)
            t = torch.where(t < 1e-10, 0.0, t)
            F_new, f_new, q_new = value(theta + t.unsqueeze(1) * step)
            bad = (t > 0) & ~(F_new <= F + 1e-4 * t * slope)
        theta = theta + t.unsqueeze(1) * step
        F, f, qv = F_new, f_new, q_new
        if bool((-slope < 1e-9 * (1 + F.abs())).all()):
            break
    return theta


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
            per_fit = n * D * 4 + (6 * (n + 1) ** 2 * 8 if solver else 3 * n * (_SUBSPACE + 1) * 8)
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
    X, y = _check_xy(X, y)
    sets = _check_train_sets(train_sets, y)
    dev = resolve_device(device)
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
        pre = _preconditioner(Xt, np.unique(np.concatenate(sesop_rows)))

    coef = np.zeros((len(sets), D))
    intercept = np.zeros(len(sets))
    n_iter = np.zeros(len(sets), dtype=np.int64)
    methods = [""] * len(sets)
    done = 0
    with torch.no_grad():
        for grp in groups:
            g = _gather_group(Xt, y, sets, grp, weights, fit_intercept)
            if newton[grp[0]]:
                w, b, its = _newton_dual(g, kind, lam, fit_intercept, tol, max_iter)
                name = "newton-dual"
            else:
                assert pre is not None
                with _sesop_threads(dev):
                    w, b, its = _sesop(g, kind, lam, fit_intercept, tol, max_iter, pre)
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


# --------------------------------------------------------------------------- kNN


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
    progress: Progress | None = None,
) -> np.ndarray:
    """Cosine kNN for many training sets sharing one test set: P(positive) ``[n_fits, n_test]``.

    One similarity matrix between the test cells and the union of all training cells is
    computed in chunks and shared by all fits. Matches scikit-learn's
    ``KNeighborsClassifier(metric="cosine")``: uniform votes or weights ``1/distance``
    (cosine distance ``1 - cos``; exact matches, distance 0 up to float32 rounding,
    outvote all others).
    """
    X, y = _check_xy(X, y)
    sets = _check_train_sets(train_sets, y)
    test = _check_index(test_idx, y.size, "Test index")
    if weights not in ("uniform", "distance"):
        raise SpecError(f"weights must be 'uniform' or 'distance', got {weights!r}.")
    if int(n_neighbors) < 1:
        raise SpecError(f"n_neighbors must be at least 1, got {n_neighbors}.")
    dev = resolve_device(device)
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
            if progress is not None:
                progress(min(start + chunk, test.size), test.size)
    return out


# --------------------------------------------------------------------------- the sweep


def _sklearn_loop(
    X: np.ndarray,
    y: np.ndarray,
    sets: list[np.ndarray],
    tests: list[np.ndarray],
    estimator: BaseEstimator,
    n_jobs: int,
    progress: Progress | None,
) -> list[np.ndarray]:
    def one(i: int) -> np.ndarray:
        est = clone(estimator).fit(X[sets[i]], y[sets[i]])
        col = list(est.classes_).index(1)
        return est.predict_proba(X[tests[i]])[:, col]

    if n_jobs == 1:
        out = []
        for i in range(len(sets)):
            out.append(one(i))
            if progress is not None:
                progress(i + 1, len(sets))
        return out
    from joblib import Parallel, delayed

    out = Parallel(n_jobs=n_jobs)(delayed(one)(i) for i in range(len(sets)))
    if progress is not None:
        progress(len(sets), len(sets))
    return list(out)


def _probabilities(
    fits: LinearFits, X: np.ndarray, tests: list[np.ndarray], dev: torch.device
) -> list[np.ndarray]:
    """Test probabilities of each fit, one matmul per distinct test set."""
    out: list[np.ndarray] = [np.empty(0)] * len(tests)
    by_test: dict[bytes, list[int]] = {}
    for i, te in enumerate(tests):
        by_test.setdefault(te.tobytes(), []).append(i)
    for members in by_test.values():
        te = tests[members[0]]
        Xte = torch.as_tensor(np.ascontiguousarray(X[te], dtype=np.float32)).to(dev)
        W = torch.as_tensor(fits.coef[members].T, dtype=torch.float32).to(dev)
        logits = (Xte @ W).to(torch.float64).cpu().numpy() + fits.intercept[members]
        probs = 1.0 / (1.0 + np.exp(-logits))
        for j, i in enumerate(members):
            out[i] = probs[:, j]
    return out


@overload
def sweep(
    X: np.ndarray,
    y: np.ndarray,
    train_sets: Sequence[np.ndarray],
    test_idx: np.ndarray,
    classifier: str | BaseEstimator = ...,
    params: Mapping[str, Any] | None = ...,
    device: str = ...,
    progress: Progress | None = ...,
    *,
    engine: Literal["auto", "batched", "sklearn"] = ...,
    n_jobs: int = ...,
) -> np.ndarray: ...


@overload
def sweep(
    X: np.ndarray,
    y: np.ndarray,
    train_sets: Sequence[np.ndarray],
    test_idx: Sequence[np.ndarray],
    classifier: str | BaseEstimator = ...,
    params: Mapping[str, Any] | None = ...,
    device: str = ...,
    progress: Progress | None = ...,
    *,
    engine: Literal["auto", "batched", "sklearn"] = ...,
    n_jobs: int = ...,
) -> list[np.ndarray]: ...


def sweep(
    X: np.ndarray,
    y: np.ndarray,
    train_sets: Sequence[np.ndarray],
    test_idx: np.ndarray | Sequence[np.ndarray],
    classifier: str | BaseEstimator = "logreg",
    params: Mapping[str, Any] | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
    *,
    engine: Literal["auto", "batched", "sklearn"] = "auto",
    n_jobs: int = 1,
) -> np.ndarray | list[np.ndarray]:
    """Fit one classifier per training set and return P(positive) on the test cells.

    ``test_idx`` is either one index array shared by all fits (returns an array
    ``[n_fits, n_test]``) or one array per fit, e.g. for cross-domain protocols (returns a
    list of 1-D arrays). ``classifier`` is a registry name (see
    :data:`mitoviz.evaluate.classifiers.CLASSIFIERS`) or any scikit-learn classifier, which
    is cloned per fit. ``params`` go to :func:`~mitoviz.evaluate.classifiers.make_classifier`.
    ``engine="auto"`` uses the batched path where one exists ("logreg", "linear-probe",
    "knn"), ``"sklearn"`` forces the loop of scikit-learn fits (``n_jobs`` processes),
    ``"batched"`` fails if there is no batched path. ``progress(done, total)`` is called as
    fits finish.
    """
    X, y = _check_xy(X, y)
    sets = _check_train_sets(train_sets, y)
    if isinstance(test_idx, np.ndarray):
        shared = test_idx.ndim == 1
    else:
        shared = len(test_idx) > 0 and np.ndim(test_idx[0]) == 0  # a plain list of row indices
    if shared:
        tests = [_check_index(np.asarray(test_idx), y.size, "Test index")] * len(sets)
    else:
        seq = list(test_idx)  # type: ignore[arg-type]
        if len(seq) != len(sets):
            raise SpecError(
                f"{len(seq)} test sets for {len(sets)} training sets.",
                "Pass one test index array shared by all fits, or one per fit.",
            )
        tests = [_check_index(np.asarray(te), y.size, f"Test set {i}") for i, te in enumerate(seq)]
    if engine not in ("auto", "batched", "sklearn"):
        raise SpecError(f"Unknown engine {engine!r}.", "Use 'auto', 'batched' or 'sklearn'.")
    dev = resolve_device(device)
    params = dict(params or {})

    if isinstance(classifier, str):
        estimator = make_classifier(classifier, **params)
        config = batched_config(classifier, params) if engine != "sklearn" else None
    else:
        estimator = clone(classifier).set_params(**params) if params else classifier
        config = None
    if engine == "batched" and config is None:
        raise SpecError(
            f"No batched implementation for {classifier!r} with these parameters.",
            "Use engine='auto' to fall back to scikit-learn fits.",
        )

    if config is None:
        probs = _sklearn_loop(X, y, sets, tests, estimator, n_jobs, progress)
    elif config["kind"] == "knn":
        probs = [np.empty(0)] * len(sets)
        by_test: dict[bytes, list[int]] = {}
        for i, te in enumerate(tests):
            by_test.setdefault(te.tobytes(), []).append(i)
        done = 0
        for members in by_test.values():
            p = knn_predict(
                X,
                y,
                [sets[i] for i in members],
                tests[members[0]],
                n_neighbors=config["n_neighbors"],
                weights=config["weights"],
                device=dev,
            )
            for j, i in enumerate(members):
                probs[i] = p[j]
            done += len(members)
            if progress is not None:
                progress(done, len(sets))
    else:
        fits = fit_linear(
            X,
            y,
            sets,
            config["kind"],
            C=config["C"],
            class_weight=config.get("class_weight"),
            fit_intercept=config.get("fit_intercept", True),
            device=dev,
            progress=progress,
        )
        probs = _probabilities(fits, X, tests, dev)
    if shared:
        return np.stack(probs)
    return probs
