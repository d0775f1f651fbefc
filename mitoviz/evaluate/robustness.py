"""Robustness Index of an embedding space (PathoROB / croma style).

Does the neighbourhood of a cell reflect its biology (class) or its acquisition
(confounder: scanner, centre, tumour type)? For every cell, take its ``k`` nearest
neighbours by cosine similarity (kNN in L2-normalised space), never counting cells of
the same group (slide or image: those share everything and would flatter or spoil the
score). Among them count

- SO: same class, other confounder value (biology beats the confounder), and
- OS: other class, same confounder value (the confounder beats biology).

RI = ΣSO / (ΣSO + ΣOS), pooled over cells: a share in [0, 1], higher = biology
dominates. Cells whose k neighbours hold neither type count towards ``undefined_frac``.
This is the scale of PathoROB and croma, not de Jong et al.'s (where > 1 means biology
dominates); the scale travels with every value.

0.5 is neutral for a balanced design (two equally common confounder values, balanced
classes, as in PathoROB's paired 2×2 sets). Otherwise neighbours drawn at random already
give another value, e.g. 2/3 for three equally common scanners; ``chance`` reports that
value for the data at hand (random neighbours among the eligible cells), so an RI is read
against it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from mitoviz.config import resolve_device
from mitoviz.errors import SpecError

RI_SCALE = (
    "share SO/(SO+OS) in [0, 1]; higher = biology dominates; 0.5 = neutral in a balanced design, "
    "else compare with chance (PathoROB/croma)"
)


@dataclass(frozen=True)
class RobustnessIndex(Mapping[str, Any]):
    """A Robustness Index with the counts it came from and the scale it is on.

    Also a read-only mapping of its fields, so ``{**ri}`` gives a table row.
    """

    value: float
    so: int
    os: int
    undefined_frac: float
    k: int
    n: int
    chance: float
    scale: str = RI_SCALE

    def __getitem__(self, key: str) -> Any:
        if key not in self._fields():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields())

    def __len__(self) -> int:
        return len(self._fields())

    @staticmethod
    def _fields() -> tuple[str, ...]:
        return tuple(f.name for f in fields(RobustnessIndex))


def _codes(values: np.ndarray | list, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise SpecError(f"{what} has {arr.shape[0] if arr.ndim else 0} entries for {n} embeddings.")
    if arr.dtype == object and any(v is None or (isinstance(v, float) and math.isnan(v)) for v in arr):
        raise SpecError(f"{what} has missing values.", "Fill or drop the cells without them.")
    return np.unique(arr, return_inverse=True)[1].astype(np.int64)


def robustness_index(
    X: np.ndarray,
    label: np.ndarray | list,
    confounder: np.ndarray | list,
    group: np.ndarray | list | None = None,
    k: int = 10,
    device: str = "cpu",
    chunk: int = 512,
) -> RobustnessIndex:
    """Robustness Index of embeddings ``X`` ``[N, D]`` (see the module docstring).

    ``label`` is the biological class, ``confounder`` e.g. the scanner, ``group`` the
    slide or image whose other cells are never neighbours (``None``: only the cell
    itself is excluded). Runs as chunked matrix products and top-k on ``device``, so
    50k × 2560 embeddings fit in memory (``chunk`` query rows at a time).
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] < 2:
        raise SpecError(f"Embeddings must be a 2-D array with at least two rows, got shape {X.shape}.")
    if not np.isfinite(X).all():
        raise SpecError("Embeddings contain NaN or infinite values.", "Re-extract the embeddings.")
    n = X.shape[0]
    if int(k) < 1:
        raise SpecError(f"k must be at least 1, got {k}.")
    lab = _codes(label, n, "label")
    conf = _codes(confounder, n, "confounder")
    grp = np.arange(n) if group is None else _codes(group, n, "group")
    if lab.max() < 1:
        raise SpecError("The Robustness Index needs at least two classes.")
    if conf.max() < 1:
        raise SpecError(
            "The Robustness Index needs at least two confounder values (e.g. two scanners).",
            "Pick a confounder that varies in this data set.",
        )
    dev = torch.device(resolve_device(device))
    Xt = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32)).to(dev)
    Xt = Xt / Xt.norm(dim=1, keepdim=True).clamp_min(1e-12)
    lab_t, conf_t, grp_t = (torch.from_numpy(a).to(dev) for a in (lab, conf, grp))
    k_eff = min(int(k), n - 1)
    so = os_ = undefined = 0
    with torch.no_grad():
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            sim = Xt[start:stop] @ Xt.T
            sim.masked_fill_(grp_t[start:stop, None] == grp_t[None, :], -math.inf)  # the cell itself too
            top, nb = sim.topk(k_eff, dim=1)
            valid = torch.isfinite(top)
            same_class = lab_t[nb] == lab_t[start:stop, None]
            same_conf = conf_t[nb] == conf_t[start:stop, None]
            so_i = (valid & same_class & ~same_conf).sum(1)
            os_i = (valid & ~same_class & same_conf).sum(1)
            so += int(so_i.sum())
            os_ += int(os_i.sum())
            undefined += int(((so_i + os_i) == 0).sum())
    total = so + os_
    value = so / total if total else math.nan
    return RobustnessIndex(value, so, os_, undefined / n, k_eff, n, _chance(lab, conf, grp))


def _chance(lab: np.ndarray, conf: np.ndarray, grp: np.ndarray) -> float:
    """RI expected when neighbours are random cells of other groups (pooled like the RI)."""
    n_lab, n_conf = lab.max() + 1, conf.max() + 1
    table = np.zeros((n_lab, n_conf))
    np.add.at(table, (lab, conf), 1)
    per_group = np.zeros((grp.max() + 1, n_lab, n_conf))
    np.add.at(per_group, (grp, lab, conf), 1)
    group_size = np.bincount(grp)
    same_class = table[lab].sum(1) - per_group[grp, lab].sum(1)
    same_class_same_conf = table[lab, conf] - per_group[grp, lab, conf]
    same_conf = table[:, conf].sum(0) - per_group[grp, :, conf].sum(1)
    so = same_class - same_class_same_conf
    os_ = same_conf - same_class_same_conf
    eligible = np.maximum(lab.size - group_size[grp], 1)
    so_share, os_share = (so / eligible).sum(), (os_ / eligible).sum()
    return float(so_share / (so_share + os_share)) if so_share + os_share > 0 else math.nan
