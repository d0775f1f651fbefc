"""Newton's method in the dual (kernel) space, for small training sets.

``w = Xcᵀα``: one ``n×n`` kernel per fit, a few batched ``(n+1)×(n+1)`` solves in float64, a
backtracking line search per fit. Exact and fast while ``n`` is small (see ``NEWTON_MAX_N``).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from mitoviz.evaluate.solvers.objective import (
    Group,
    initial_bias,
    loss,
    penalty,
    ray_start,
    rmatvec,
    small_rmatvec,
    solve,
)


def newton_dual(
    g: Group, kind: str, lam: float, fit_intercept: bool, tol: float, max_iter: int
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Newton's method on ``α`` with ``w = Xcᵀα``: exact and fast for small training sets."""
    B, n, _ = g.X.shape
    dev = g.X.device
    K = torch.bmm(g.X, g.X.transpose(1, 2)).to(torch.float64)
    alpha = torch.zeros(B, n, dtype=torch.float64, device=dev)
    b = initial_bias(g, fit_intercept)
    n_iter = np.zeros(B, dtype=np.int64)
    active = torch.ones(B, dtype=torch.bool, device=dev)
    Ka = torch.zeros_like(alpha)
    if kind == "norm":
        p0 = torch.sigmoid(b).unsqueeze(1).expand(B, n)
        r0 = g.c * (p0 - g.y)
        Kr = small_rmatvec(K, r0)
        gnorm = (r0 * Kr).sum(1).clamp_min(0).sqrt()
        active = gnorm > lam
        t = ray_start(-Kr, gnorm, b, g, lam)
        alpha = torch.where(active.unsqueeze(1), -t.unsqueeze(1) * r0, alpha)
        Ka = small_rmatvec(K, alpha)
    eye = torch.eye(n, dtype=torch.float64, device=dev)
    bias_on = 1.0 if fit_intercept else 0.0

    def objective(a: torch.Tensor, bb: torch.Tensor, Kaa: torch.Tensor) -> torch.Tensor:
        q = (a * Kaa).sum(1).clamp_min(0)
        return loss(Kaa + bb.unsqueeze(1), g.y, g.c) + penalty(q, kind, lam)[0]

    F = objective(alpha, b, Ka)
    for _ in range(max_iter):
        if not bool(active.any()):
            break
        f = Ka + b.unsqueeze(1)
        p = torch.sigmoid(f)
        r = g.c * (p - g.y)
        s = g.c * p * (1 - p)
        q = (alpha * Ka).sum(1).clamp_min(0)
        _, d1, d2 = penalty(q, kind, lam)
        ga = r + 2 * d1.unsqueeze(1) * alpha
        M = s.unsqueeze(2) * K + 2 * d1[:, None, None] * eye
        if kind == "norm":
            M = M + 4 * d2[:, None, None] * alpha.unsqueeze(2) * Ka.unsqueeze(1)
        Ks = small_rmatvec(K, s)
        A = torch.zeros(B, n + 1, n + 1, dtype=torch.float64, device=dev)
        A[:, :n, :n] = M
        A[:, :n, n] = s * bias_on
        A[:, n, :n] = Ks * bias_on
        A[:, n, n] = s.sum(1) * bias_on + (1 - bias_on)
        rhs = torch.cat([-ga, (-r.sum(1) * bias_on).unsqueeze(1)], 1)
        step = solve(A, rhs)
        da, db = step[:, :n], step[:, n]
        Kda = small_rmatvec(K, da)
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
    w = rmatvec(g.X, alpha)
    return w, b, n_iter
