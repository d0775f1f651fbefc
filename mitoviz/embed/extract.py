"""Batched embedding extraction: patches read in worker processes, the model never waits.

``embed`` returns embeddings aligned to the cells' order. Work is cut into shards of the
content-addressed cache; finished shards are never recomputed, so an interrupted run resumes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from mitoviz.config import Settings, resolve_device
from mitoviz.data.patches import PatchReader, PatchSettings
from mitoviz.embed.store import SHARD_SIZE, EmbeddingEntry, EmbeddingStore, embedding_key
from mitoviz.progress import Reporter

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
            return index, torch.from_numpy(np.ascontiguousarray(pixels)), True
        except PatchError:
            return index, torch.full((self.patch.size, self.patch.size, 3), 255, dtype=torch.uint8), False


@dataclass
class EmbedResult:
    key: str
    embeddings: np.ndarray
    ok: np.ndarray
    computed_shards: int
    cached_shards: int
    seconds: float

    @property
    def n_unreadable(self) -> int:
        return int((~self.ok).sum())


def default_workers(device: str) -> int:
    cores = os.cpu_count() or 1
    return max(1, min(8 if device.startswith("cuda") else 4, cores - 1))


def _batches(entry: EmbeddingEntry, shards: list[int], batch_size: int) -> list[list[int]]:
    """Index batches in shard order; a batch never crosses a shard boundary."""
    out = []
    for shard in shards:
        rows = entry.shard_rows(shard)
        out.extend(list(range(s, min(s + batch_size, rows.stop))) for s in range(rows.start, rows.stop, batch_size))
    return out


class _Forward:
    """Runs the encoder on uint8 batches with the device's best settings; halves the batch on OOM."""

    def __init__(self, encoder: torch.nn.Module, device: str) -> None:
        self.encoder = encoder.eval().to(device)
        self.device = device
        self.cuda = device.startswith("cuda")
        if getattr(encoder, "channels_last", False):
            self.encoder = self.encoder.to(memory_format=torch.channels_last)

    def __call__(self, batch: torch.Tensor) -> np.ndarray:
        try:
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda):
                out = self.encoder(batch.to(self.device, non_blocking=True))
            return out.float().cpu().numpy()
        except torch.cuda.OutOfMemoryError:
            if len(batch) == 1:
                raise
            torch.cuda.empty_cache()
            half = len(batch) // 2
            return np.concatenate([self(batch[:half]), self(batch[half:])])


def compute_shards(
    encoder: torch.nn.Module,
    cells: pd.DataFrame,
    patch: PatchSettings,
    entry: EmbeddingEntry,
    shards: list[int],
    device: str,
    batch_size: int,
    num_workers: int,
    reporter: Reporter,
    done_before: int = 0,
    offset: int = 0,
    total: int | None = None,
) -> None:
    """Embed the cells of ``shards`` and write each shard as soon as it is complete.

    ``cells`` holds the table's rows from position ``offset`` on (a Dask task gets one shard's rows).
    """
    forward = _Forward(encoder, device)
    total = len(cells) if total is None else total
    loader = DataLoader(
        PatchDataset(cells, patch, offset),
        batch_sampler=_batches(entry, shards, batch_size),
        num_workers=num_workers,
        pin_memory=forward.cuda,
        prefetch_factor=4 if num_workers else None,
        persistent_workers=False,
    )
    pending: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    shard_of = {shard: entry.shard_rows(shard) for shard in shards}
    done = done_before
    for idx, pixels, ok in loader:
        reporter.check()
        shard = int(idx[0]) // entry.shard_size
        values = forward(pixels)
        parts = pending.setdefault(shard, ([], []))
        parts[0].append(values)
        parts[1].append(ok.numpy())
        done += len(idx)
        rows = shard_of[shard]
        if sum(len(v) for v in parts[0]) == rows.stop - rows.start:
            entry.write_shard(shard, np.concatenate(parts[0]), np.concatenate(parts[1]))
            del pending[shard]
        reporter.update("embed", done, total, "cells")


def embed(
    cells: pd.DataFrame,
    encoder_name: str,
    patch: PatchSettings,
    settings: Settings,
    device: str | None = None,
    reporter: Reporter | None = None,
    batch_size: int | None = None,
    num_workers: int | None = None,
    encoder: torch.nn.Module | None = None,
    dataset: str = "",
    shard_size: int = SHARD_SIZE,
) -> EmbedResult:
    """Embeddings of ``cells`` by ``encoder_name``, from the cache where possible.

    With ``settings.dask_address`` set, missing shards run as tasks on that Dask cluster.
    """
    from mitoviz.encoders import cache_identity, create_encoder

    reporter = reporter or Reporter()
    device = resolve_device(device or settings.device)
    started = time.monotonic()
    key = embedding_key(cache_identity(encoder_name, settings), patch.to_dict(), cells)
    entry = EmbeddingStore(settings.embeddings_dir).entry(key, len(cells), shard_size)
    missing = entry.missing_shards()
    cached = entry.n_shards - len(missing)
    if missing:
        entry.write_manifest(
            encoder=encoder_name, dataset=dataset, patch=patch.to_dict(), complete=False,
            created=time.strftime("%Y-%m-%d %H:%M:%S"),
        )
        done_before = len(cells) - entry.rows_in(missing)
        if cached:
            reporter.log(f"{encoder_name}: {cached} of {entry.n_shards} shards cached, computing {len(missing)}")
        if settings.dask_address:
            from mitoviz.embed.dask import compute_shards_on_dask

            compute_shards_on_dask(
                settings.dask_address, encoder_name, cells, patch, entry, missing, device, settings, reporter
            )
        else:
            model = encoder if encoder is not None else create_encoder(encoder_name, settings, device=device)
            compute_shards(
                model, cells, patch, entry, missing, device,
                batch_size or default_batch_size(model, device),
                default_workers(device) if num_workers is None else num_workers,
                reporter, done_before,
            )
    values, ok = entry.load()
    if missing or not entry.manifest().get("complete"):
        entry.write_manifest(
            encoder=encoder_name, dataset=dataset, patch=patch.to_dict(), dim=int(values.shape[1]),
            complete=True, unreadable=int((~ok).sum()),
        )
    reporter.update("embed", len(cells), len(cells), "cells")
    return EmbedResult(key, values, ok, len(missing), cached, time.monotonic() - started)


def default_batch_size(encoder: Any, device: str) -> int:
    if not device.startswith("cuda"):
        return 32
    params = sum(p.numel() for p in encoder.parameters()) if hasattr(encoder, "parameters") else 0
    return 64 if params > 500e6 else 256
