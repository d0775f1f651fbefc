"""What the two batched linear solvers share: the penalised logistic objective and batched products.

A group of same-sized fits is held as one padded ``[B, n, D]`` tensor (:class:`Group`); the
penalty is ``φ(‖w‖²)``: ``0.5·‖w‖²`` for ``logreg`` (``kind="l2"``) and ``λ·‖w‖`` for the UNI
probe (``kind="norm"``); the loss is the (weighted) sum of logistic losses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def penalty(q: torch.Tensor, kind: str, lam: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Penalty φ(‖w‖²) and its first two derivatives in q = ‖w‖²."""
    if kind == "l2":
        return 0.5 * q, torch.full_like(q, 0.5), torch.zeros_like(q)
    root = q.clamp_min(1e-200).sqrt()
    return lam * root, 0.5 * lam / root, -0.25 * lam / (root * root * root)


def loss(f: torch.Tensor, y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return (c * (torch.nn.functional.softplus(f) - y * f)).sum(-1)


@dataclass
class Group:
    fits: list[int]
    X: torch.Tensor  # [B, n, D] float32, centred per fit, zero on padding rows
    mu: torch.Tensor  # [B, D] float64
    y: torch.Tensor  # [B, n] float64
    c: torch.Tensor  # [B, n] float64 sample weights, 0 on padding rows


def gather_group(
    Xt: torch.Tensor,
    y: np.ndarray,
    train_sets: list[np.ndarray],
    fits: list[int],
    weights: list[np.ndarray],
    fit_intercept: bool,
) -> Group:
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
    return Group(fits, Xg, mu, torch.tensor(yy, **to64), torch.tensor(cc, **to64))


def initial_bias(g: Group, fit_intercept: bool) -> torch.Tensor:
    """Optimal bias of the model with w = 0: the log-odds of the weighted positive share."""
    if not fit_intercept:
        return torch.zeros(g.y.shape[0], dtype=torch.float64, device=g.y.device)
    share = (g.c * g.y).sum(1) / g.c.sum(1)
    return torch.log(share) - torch.log1p(-share)


def ray_start(u: torch.Tensor, dnorm: torch.Tensor, b: torch.Tensor, g: Group, lam: float) -> torch.Tensor:
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


def matvec(X: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``X[i] @ v[i]`` for a batch: ``[B, n, D] x [B, D] -> [B, n]`` (float64 out).

    On CPU through numpy's BLAS gemv: torch's CPU ``bmm``/``mv`` with a vector operand
    is markedly slower on these memory-bound products.
    """
    v = v.to(X.dtype)
    if X.device.type == "cpu":
        return torch.from_numpy(np.matmul(X.numpy(), v.numpy()[:, :, None])[:, :, 0]).to(torch.float64)
    return torch.bmm(X, v.unsqueeze(-1)).squeeze(-1).to(torch.float64)


def rmatvec(X: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``X[i]ᵀ @ r[i]`` for a batch: ``[B, n, D] x [B, n] -> [B, D]`` (float64 out)."""
    r = r.to(X.dtype)
    if X.device.type == "cpu":
        return torch.from_numpy(np.matmul(r.numpy()[:, None, :], X.numpy())[:, 0, :]).to(torch.float64)
    return torch.bmm(r.unsqueeze(1), X).squeeze(1).to(torch.float64)


def small_rmatvec(A: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``A[i]ᵀ @ r[i]`` for small batched matrices (``bmm`` of a transposed operand is slow on CPU)."""
    return torch.bmm(r.unsqueeze(1), A).squeeze(1)


def solve(A: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    sol, info = torch.linalg.solve_ex(A, rhs.unsqueeze(-1))
    if bool((info != 0).any()):
        eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        scale = A.diagonal(dim1=-2, dim2=-1).abs().amax(-1).clamp_min(1e-300)
        sol = torch.linalg.lstsq(A + 1e-12 * scale[:, None, None] * eye, rhs.unsqueeze(-1)).solution
    return sol.squeeze(-1)
