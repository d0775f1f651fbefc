"""Embedding shards as tasks on a Dask cluster, writing into the shared cache folder."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mitoviz.config import Settings
from mitoviz.data.patches import PatchSettings
from mitoviz.embed.store import EmbeddingEntry
from mitoviz.errors import MitovizError
from mitoviz.progress import Reporter

_worker_encoders: dict[tuple[str, str], Any] = {}


def _embed_shard_task(
    encoder_name: str,
    cells: pd.DataFrame,
    patch: PatchSettings,
    entry: EmbeddingEntry,
    shard: int,
    device: str,
    settings: Settings,
) -> int:
    """Runs on a Dask worker: embed one shard; the encoder is built once per worker process."""
    from mitoviz.embed.extract import compute_shards, default_batch_size
    from mitoviz.encoders import create_encoder

    key = (encoder_name, device)
    if key not in _worker_encoders:
        _worker_encoders[key] = create_encoder(encoder_name, settings, device=device)
    encoder = _worker_encoders[key]
    compute_shards(
        encoder, cells, patch, entry, [shard], device, default_batch_size(encoder, device), 0, Reporter(),
        offset=entry.shard_rows(shard).start,
    )
    return shard


def compute_shards_on_dask(
    address: str,
    encoder_name: str,
    cells: pd.DataFrame,
    patch: PatchSettings,
    entry: EmbeddingEntry,
    shards: list[int],
    device: str,
    settings: Settings,
    reporter: Reporter,
) -> None:
    """Submit one task per missing shard; GPU tasks ask for a ``GPU`` resource when workers offer one."""
    from distributed import Client, as_completed

    try:
        client = Client(address, timeout=10)
    except OSError as exc:
        raise MitovizError(
            f"Cannot reach the Dask scheduler at {address} ({exc}).",
            "Start the cluster, or unset MITOVIZ_DASK_ADDRESS to compute on this machine.",
        ) from exc
    with client:
        workers = client.scheduler_info(n_workers=-1).get("workers", {}).values()
        wants_gpu = device.startswith("cuda") and any("GPU" in w.get("resources", {}) for w in workers)
        resources = {"GPU": 1} if wants_gpu else None
        total = len(cells)
        done = total - entry.rows_in(shards)
        futures = [
            client.submit(
                _embed_shard_task, encoder_name, cells.iloc[entry.shard_rows(s)], patch,
                entry, s, device, settings, resources=resources, pure=False, key=f"embed-{entry.key[:12]}-{s}",
            )
            for s in shards
        ]
        try:
            for future in as_completed(futures):
                shard = future.result()
                done += entry.rows_in([shard])
                reporter.update("embed", done, total, "cells")
                reporter.check()
        finally:
            for future in futures:
                future.cancel()

