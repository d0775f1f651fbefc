"""The per-shard computation: patches read in worker processes, batched forward passes, shards written.

Both the local path (``extract.py``) and the Dask backend (``dask_backend.py``) call
:func:`compute_shards`. One forward pass can fill several cache entries at once: the ordinary embedding
(target ``None``) or the embeddings of several blocks of the same encoder (targets ``6``, ``12``, …).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from mitoviz.data.patches import PatchReader, PatchSettings
from mitoviz.embed.store import EmbeddingEntry
from mitoviz.progress import Reporter

Target = int | None  # None: the encoder's embedding; an int: the embedding of that block

_reader: PatchReader | None = None


def _process_reader() -> PatchReader:
    """One reader per process (DataLoader workers, Dask workers), keeping slides open."""
    global _reader
    if _reader is None:
        _reader = PatchReader()
    return _reader


class PatchDataset(Dataset):
    """Cell patches as uint8 [H, W, 3] tensors, with a flag for unreadable images."""

    def __init__(self, cells: pd.DataFrame, patch: PatchSettings, offset: int = 0) -> None:
        self.offset = offset
        self.images = cells["image"].astype(str).to_numpy()
        self.xs = cells["x"].to_numpy(dtype=float)
        self.ys = cells["y"].to_numpy(dtype=float)
        self.patch = patch

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor, bool]:
        from mitoviz.errors import PatchError

        i = index - self.offset
        try:
            pixels = _process_reader().read(self.images[i], self.xs[i], self.ys[i], self.patch)
            writable = np.require(pixels, requirements=["C", "W"])  # cached patches are read-only
            return index, torch.from_numpy(writable), True
        except PatchError:
            return index, torch.full((self.patch.size, self.patch.size, 3), 255, dtype=torch.uint8), False


def default_workers(device: str) -> int:
    cores = os.cpu_count() or 1
    return max(1, min(8 if device.startswith("cuda") else 4, cores - 1))


def default_batch_size(encoder: Any, device: str) -> int:
    if not device.startswith("cuda"):
        return 32
    params = sum(p.numel() for p in encoder.parameters()) if hasattr(encoder, "parameters") else 0
    return 64 if params > 500e6 else 256


def _batches(entry: EmbeddingEntry, shards: list[int], batch_size: int) -> list[list[int]]:
    """Index batches in shard order; a batch never crosses a shard boundary."""
    out = []
    for shard in shards:
        rows = entry.shard_rows(shard)
        out.extend(list(range(s, min(s + batch_size, rows.stop))) for s in range(rows.start, rows.stop, batch_size))
    return out


class Forward:
    """Runs the encoder on uint8 batches with the device's best settings; halves the batch on OOM.

    Returns ``{target: float32 array}``: ``{None: [B, dim]}`` for an ordinary encoder, one entry per
    block for an encoder built with ``layers``.
    """

    def __init__(self, encoder: torch.nn.Module, device: str) -> None:
        self.encoder = encoder.eval().to(device)
        self.device = device
        self.cuda = device.startswith("cuda")
        if getattr(encoder, "channels_last", False):
            self.encoder = self.encoder.to(memory_format=torch.channels_last)

    def __call__(self, batch: torch.Tensor) -> dict[Target, np.ndarray]:
        try:
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda):
                out = self.encoder(batch.to(self.device, non_blocking=True))
            outs = out if isinstance(out, dict) else {None: out}
            return {k: v.float().cpu().numpy() for k, v in outs.items()}
        except torch.cuda.OutOfMemoryError:
            if len(batch) == 1:
                raise
            torch.cuda.empty_cache()
            half = len(batch) // 2
            first, second = self(batch[:half]), self(batch[half:])
            return {k: np.concatenate([first[k], second[k]]) for k in first}


def compute_shards(
    encoder: torch.nn.Module,
    cells: pd.DataFrame,
    patch: PatchSettings,
    entries: EmbeddingEntry | Mapping[Target, EmbeddingEntry],
    shards: list[int],
    device: str,
    batch_size: int,
    num_workers: int,
    reporter: Reporter,
    done_before: int = 0,
    offset: int = 0,
    total: int | None = None,
    write: Mapping[Target, Collection[int]] | None = None,
) -> None:
    """Embed the cells of ``shards`` and write each shard of each target as soon as it is complete.

    ``entries`` is one cache entry (the encoder's embedding) or one per target the encoder returns
    (its blocks), all over the same cells and shards. ``write`` limits which shards each target writes
    (those it is missing); by default every target writes every shard. ``cells`` holds the table's rows
    from position ``offset`` on (a Dask task gets one shard's rows).
    """
    targets = {None: entries} if isinstance(entries, EmbeddingEntry) else dict(entries)
    first = next(iter(targets.values()))
    if any((e.n_cells, e.shard_size) != (first.n_cells, first.shard_size) for e in targets.values()):
        raise ValueError("compute_shards: every entry must cover the same cells in the same shards")
    wanted = {t: set(shards if write is None else write.get(t, ())) for t in targets}
    forward = Forward(encoder, device)
    total = len(cells) if total is None else total
    loader = DataLoader(
        PatchDataset(cells, patch, offset),
        batch_sampler=_batches(first, shards, batch_size),
        num_workers=num_workers,
        pin_memory=forward.cuda,
        prefetch_factor=4 if num_workers else None,
        persistent_workers=False,
    )
    pending: dict[int, tuple[dict[Target, list[np.ndarray]], list[np.ndarray]]] = {}
    done = done_before
    for idx, pixels, ok in loader:
        reporter.check()
        shard = int(idx[0]) // first.shard_size
        values = forward(pixels)
        parts, flags = pending.setdefault(shard, ({t: [] for t in targets}, []))
        for target in targets:
            parts[target].append(values[target])
        flags.append(ok.numpy())
        done += len(idx)
        rows = first.shard_rows(shard)
        if sum(len(f) for f in flags) == rows.stop - rows.start:
            shard_ok = np.concatenate(flags)
            for target, entry in targets.items():
                if shard in wanted[target]:
                    entry.write_shard(shard, np.concatenate(parts[target]), shard_ok)
            del pending[shard]
        reporter.update("embed", done, total, "cells")
