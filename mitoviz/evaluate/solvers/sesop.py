"""Sequential subspace optimisation (SESOP), for larger training sets.

Each iteration adds the preconditioned gradient to a subspace of the last ``SUBSPACE`` directions
and minimises the objective exactly over that subspace and the bias with a small Newton solve. It
costs two passes over the data per iteration, like L-BFGS, but converges in far fewer iterations:
features are centred per fit (the free bias absorbs the mean, so the solution is unchanged) and the
gradient is preconditioned with the leading principal components of the training rows (shared by
all fits of the call).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from mitoviz.evaluate.solvers.objective import (
    Group,
    initial_bias,
    loss,
    matvec,
    penalty,
    ray_start,
    rmatvec,
    small_rmatvec,
    solve,
)

_PCA_RANK = 128
_PCA_ROWS = 2048
_PCA_POWER = 2
#: Directions kept in the subspace (besides the bias).
SUBSPACE = 16


@contextmanager
def sesop_threads(dev: torch.device) -> Iterator[None]:
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


@dataclass(frozen=True)
class Preconditioner:
    V: torch.Tensor  # [D, r] float64, orthonormal leading principal directions
    e: torch.Tensor  # [r] variance per row along V
    e_rest: float  # mean variance per row in the orthogonal complement

    def apply(self, grad: torch.Tensor, a: torch.Tensor, s_sum: torch.Tensor) -> torch.Tensor:
        """Approximately solve (a·I + s_sum·Cov) d = grad for each fit."""
        coeff = grad @ self.V
        top = (coeff / (a.unsqueeze(1) + s_sum.unsqueeze(1) * self.e)) @ self.V.T
        rest = (grad - coeff @ self.V.T) / (a + s_sum * self.e_rest).clamp_min(1e-300).unsqueeze(1)
        return top + rest


def preconditioner(Xt: torch.Tensor, rows: np.ndarray, seed: int = 0) -> Preconditioner:
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
        return Preconditioner(V[:, :r].contiguous(), e[:r].contiguous(), max(e_rest, 1e-12 * float(e[0])))
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
    return Preconditioner(V.contiguous(), e.contiguous(), max(e_rest, 1e-12 * float(e[0])))


def sesop(
    g: Group,
    kind: str,
    lam: float,
    fit_intercept: bool,
    tol: float,
    max_iter: int,
    pre: Preconditioner,
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
    b = initial_bias(g, fit_intercept)
    f = b.unsqueeze(1).expand(B, n).clone()  # logits of the training rows, bias included
    active = torch.ones(B, dtype=torch.bool, device=dev)
    n_iter = np.zeros(B, dtype=np.int64)
    real = g.c > 0

    if kind == "norm":
        gr = rmatvec(Xg, g.c * (torch.sigmoid(f) - g.y))
        gnorm = gr.norm(dim=1)
        active = gnorm > lam
        u = -matvec(Xg, gr)
        t = torch.where(active, ray_start(u, gnorm, b, g, lam), 0.0)
        w = -t.unsqueeze(1) * gr
        f = f + t.unsqueeze(1) * u

    m = SUBSPACE + 1
    Dm = torch.zeros(B, D, m, **f64)
    XA = torch.zeros(B, n, m, **f64)
    XA[:, :, 0] = 1.0 if fit_intercept else 0.0
    change = torch.zeros(B, **f64)
    for it in range(max_iter):
        if not bool(active.any()):
            break
        p = torch.sigmoid(f)
        q = (w * w).sum(1)
        _, d1, _ = penalty(q, kind, lam)
        grad = rmatvec(Xg, g.c * (p - g.y)) + 2 * d1.unsqueeze(1) * w
        s_sum = (g.c * p * (1 - p)).sum(1)
        d = -pre.apply(grad, 2 * d1 if kind == "l2" else torch.zeros_like(d1), s_sum)
        slot = 1 + it % SUBSPACE
        Dm[:, :, slot] = d
        XA[:, :, slot] = matvec(Xg, d)
        k = min(it + 2, m)
        Dk, Ak = Dm[:, :, :k], XA[:, :, :k]
        G = torch.bmm(Dk.transpose(1, 2).contiguous(), Dk)
        Dw = small_rmatvec(Dk, w)
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
    g: Group,
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
        return loss(f, g.y, g.c) + penalty(qv, kind, lam)[0], f, qv

    F, f, qv = value(theta)
    for _ in range(iters):
        p = torch.sigmoid(f)
        s = g.c * p * (1 - p)
        _, d1, d2 = penalty(qv, kind, lam)
        dq = 2 * (Dw + torch.bmm(G, theta.unsqueeze(-1)).squeeze(-1))
        grad = small_rmatvec(A, g.c * (p - g.y)) + d1.unsqueeze(1) * dq
        H = torch.bmm(AT, s.unsqueeze(-1) * A) + 2 * d1[:, None, None] * G
        if kind == "norm":
            H = H + d2[:, None, None] * dq.unsqueeze(2) * dq.unsqueeze(1)
        scale = H.diagonal(dim1=-2, dim2=-1).amax(-1).clamp_min(1e-300)
        step = solve(H + scale[:, None, None] * jitter, -grad)
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
