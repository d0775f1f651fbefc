"""Embedding shards as tasks on a Dask cluster, writing into the shared cache folder."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import pandas as pd

from mitoviz.cluster import connect, task_resources
from mitoviz.config import Settings, resolve_device
from mitoviz.data.patches import PatchSettings
from mitoviz.embed.shards import Target, compute_shards, default_batch_size
from mitoviz.embed.store import EmbeddingEntry
from mitoviz.progress import Reporter

_worker_encoders: dict[tuple[str, str, tuple[int, ...] | None], Any] = {}


def _embed_shard_task(
    encoder_name: str,
    layers: tuple[int, ...] | None,
    cells: pd.DataFrame,
    patch: PatchSettings,
    entries: Mapping[Target, EmbeddingEntry],
    write: Mapping[Target, Collection[int]],
    shard: int,
    device: str,
    settings: Settings,
) -> int:
    """Runs on a Dask worker: embed one shard; the encoder is built once per worker process."""
    from mitoviz.encoders import create_encoder

    device = resolve_device(device)  # "auto" or "cuda": this worker's
    key = (encoder_name, device, layers)
    if key not in _worker_encoders:
        _worker_encoders[key] = create_encoder(encoder_name, settings, device=device, layers=layers)
    encoder = _worker_encoders[key]
    first = next(iter(entries.values()))
    compute_shards(
        encoder, cells, patch, entries, [shard], device, default_batch_size(encoder, device), 0, Reporter(),
        offset=first.shard_rows(shard).start, write=write,
    )
    return shard


def compute_shards_on_dask(
    address: str,
    encoder_name: str,
    cells: pd.DataFrame,
    patch: PatchSettings,
    entries: Mapping[Target, EmbeddingEntry],
    shards: list[int],
    device: str,
    settings: Settings,
    reporter: Reporter,
    write: Mapping[Target, Collection[int]] | None = None,
) -> None:
    """Submit one task per missing shard; GPU tasks ask for a ``GPU`` resource when workers offer one.

    ``entries`` maps targets to cache entries as in :func:`compute_shards`: ``{None: entry}`` for the
    encoder's embedding, ``{block: entry}`` for blocks (built on the workers with those ``layers``).
    """
    from distributed import as_completed

    layers = None if None in entries else tuple(sorted(t for t in entries if t is not None))
    write = {t: set(shards) for t in entries} if write is None else write
    first = next(iter(entries.values()))
    client, _ = connect(address, "embed")
    with client:
        resources = task_resources(client, device)
        total = len(cells)
        done = total - first.rows_in(shards)
        futures = [
            client.submit(
                _embed_shard_task, encoder_name, layers, cells.iloc[first.shard_rows(s)], patch, dict(entries),
                {t: [s] if s in w else [] for t, w in write.items()}, s, device, settings,
                resources=resources, pure=False, key=f"embed-{first.key[:12]}-{s}",
            )
            for s in shards
        ]
        try:
            for future in as_completed(futures):
                shard = future.result()
                done += first.rows_in([shard])
                reporter.update("embed", done, total, "cells")
                reporter.check()
        finally:
            for future in futures:
                future.cancel()
