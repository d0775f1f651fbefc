"""Batched embedding extraction on this machine (or on a Dask cluster), from the cache where possible.

``embed`` returns an encoder's embeddings aligned to the cells' order; ``embed_layers`` returns the
embeddings of several of its blocks (features from any depth), one cached entry per block, all missing
blocks computed in one forward pass. Work is cut into shards of the content-addressed cache; finished
shards are never recomputed, so an interrupted run resumes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd
import torch

from mitoviz.config import Settings, resolve_device
from mitoviz.data.patches import PatchSettings
from mitoviz.embed.shards import Target, compute_shards, default_batch_size, default_workers
from mitoviz.embed.store import SHARD_SIZE, EmbeddingEntry, EmbeddingStore, embedding_key
from mitoviz.encoders.depth import Layers, method_name, split_method
from mitoviz.errors import SpecError
from mitoviz.progress import Reporter

__all__ = ["EmbedOptions", "EmbedResult", "default_batch_size", "default_workers", "embed", "embed_layers"]


@dataclass
class EmbedResult:
    """One embedding set aligned to the cells: values, which cells were read, and what the cache did."""

    key: str
    embeddings: np.ndarray
    ok: np.ndarray
    computed_shards: int
    cached_shards: int
    seconds: float

    @property
    def n_unreadable(self) -> int:
        return int((~self.ok).sum())


class EmbedOptions(TypedDict, total=False):
    """How to compute embeddings, not which: the keyword options of :func:`embed_layers`."""

    reporter: Reporter | None
    batch_size: int | None
    num_workers: int | None
    encoder: torch.nn.Module | None  # a model already built (for blocks: with those ``layers``)
    dataset: str  # for the cache listing
    shard_size: int


@dataclass
class _Run:
    """What every target of one call shares: the cells, settings and how to compute."""

    cells: pd.DataFrame
    name: str
    patch: PatchSettings
    settings: Settings
    device: str
    reporter: Reporter | None = None
    batch_size: int | None = None
    num_workers: int | None = None
    encoder: torch.nn.Module | None = None
    dataset: str = ""

    def __post_init__(self) -> None:
        self.reporter = self.reporter or Reporter()

    def compute(self, entries: dict[Target, EmbeddingEntry], missing: dict[Target, list[int]]) -> None:
        """Compute the union of the missing shards once, each target writing only the shards it lacks."""
        shards = sorted(set().union(*missing.values()))
        first = next(iter(entries.values()))
        for target, entry in entries.items():
            if missing[target]:
                entry.write_manifest(
                    encoder=method_name(self.name, target), dataset=self.dataset, patch=self.patch.to_dict(),
                    complete=False, created=time.strftime("%Y-%m-%d %H:%M:%S"),
                    **({"block": target} if target is not None else {}),
                )
        cached = first.n_shards - len(shards)
        if cached:
            self.reporter.log(f"{self.name}: {cached} of {first.n_shards} shards cached, computing {len(shards)}")
        blocks = None if None in entries else tuple(t for t in entries if missing[t])
        entries = {t: e for t, e in entries.items() if missing[t]}
        if self.settings.dask_address:
            from mitoviz.embed.dask_backend import compute_shards_on_dask

            compute_shards_on_dask(
                self.settings.dask_address, self.name, self.cells, self.patch, entries, shards, self.device,
                self.settings, self.reporter, write=missing,
            )
            return
        model = self.encoder
        if model is None:
            from mitoviz.encoders import create_encoder

            model = create_encoder(self.name, self.settings, device=self.device, layers=blocks)
        elif blocks is not None and not set(blocks) <= set(getattr(model, "layers", None) or ()):
            raise SpecError(
                f"The encoder given for blocks {list(blocks)} of {self.name} gives blocks "
                f"{list(getattr(model, 'layers', None) or [])}.",
                "Pass an encoder built with create_encoder(..., layers=...) for those blocks, or none.",
            )
        compute_shards(
            model, self.cells, self.patch, entries, shards, self.device,
            self.batch_size or default_batch_size(model, self.device),
            default_workers(self.device) if self.num_workers is None else self.num_workers,
            self.reporter, len(self.cells) - first.rows_in(shards), write=missing,
        )

    def results(self, identities: Mapping[Target, dict[str, Any]], shard_size: int) -> dict[Target, EmbedResult]:
        """Each target's embeddings, computing what the cache lacks (targets grouped by shard size)."""
        started = time.monotonic()
        store = EmbeddingStore(self.settings.embeddings_dir)
        entries = {
            t: store.entry(embedding_key(ident, self.patch.to_dict(), self.cells), len(self.cells), shard_size)
            for t, ident in identities.items()
        }
        missing = {t: e.missing_shards() for t, e in entries.items()}
        for size in sorted({e.shard_size for e in entries.values()}):  # an older entry keeps its shard size
            group = {t: e for t, e in entries.items() if e.shard_size == size}
            if any(missing[t] for t in group):
                self.compute(group, {t: missing[t] for t in group})
        out = {}
        for target, entry in entries.items():
            values, ok = entry.load()
            if missing[target] or not entry.manifest().get("complete"):
                entry.write_manifest(
                    encoder=method_name(self.name, target), dataset=self.dataset, patch=self.patch.to_dict(),
                    dim=int(values.shape[1]), complete=True, unreadable=int((~ok).sum()),
                )
            out[target] = EmbedResult(
                entry.key, values, ok, len(missing[target]), entry.n_shards - len(missing[target]),
                time.monotonic() - started,
            )
        self.reporter.update("embed", len(self.cells), len(self.cells), "cells")
        return out


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
    layers: int | list[int] | None = None,
) -> EmbedResult:
    """Embeddings of ``cells`` by ``encoder_name``, from the cache where possible.

    ``encoder_name`` may name one block as a method does (``"uni@12"``), or ``layers`` may give that one
    block; then this is :func:`embed_layers` for that block. With ``settings.dask_address`` set, missing
    shards run as tasks on that Dask cluster.
    """
    name, block = split_method(encoder_name)
    if layers is not None:
        numbers = [layers] if isinstance(layers, int) else list(layers)
        if len(numbers) != 1 or (block is not None and numbers != [block]):
            raise SpecError(
                f"embed() gives one embedding; {encoder_name!r} with layers={layers!r} asks for more.",
                "Call embed_layers() for several blocks.",
            )
        block = numbers[0]
    options = EmbedOptions(
        reporter=reporter, batch_size=batch_size, num_workers=num_workers, encoder=encoder, dataset=dataset
    )
    if block is not None:
        return embed_layers(cells, name, [block], patch, settings, device, shard_size=shard_size, **options)[block]
    from mitoviz.encoders import cache_identity

    run = _Run(cells, name, patch, settings, _device(device, settings), **options)
    return run.results({None: cache_identity(name, settings)}, shard_size)[None]


def _device(device: str | None, settings: Settings) -> str:
    """Resolved here, or for a Dask cluster only checked (its workers resolve it)."""
    return resolve_device(device or settings.device, here=not settings.dask_address)


def embed_layers(
    cells: pd.DataFrame,
    encoder_name: str,
    layers: Layers,
    patch: PatchSettings,
    settings: Settings,
    device: str | None = None,
    **options: Unpack[EmbedOptions],
) -> dict[int, EmbedResult]:
    """Embeddings of ``cells`` from blocks ``layers`` of ``encoder_name`` (numbers from 1, or ``"all"``).

    One cached entry per block, keyed apart from the encoder's ordinary embedding; the blocks missing
    from the cache are computed together, in one forward pass per batch. Results are keyed by block;
    a method using block ``b`` is named ``method_name(encoder_name, b)`` (``uni@12``). Encoders
    without blocks (handcrafted features, CONCH v1.5) raise SpecError.
    """
    from mitoviz.encoders import block_identities, resolve_encoder_layers

    blocks = resolve_encoder_layers(encoder_name, layers, settings)
    shard_size = options.pop("shard_size", SHARD_SIZE)
    run = _Run(cells, encoder_name, patch, settings, _device(device, settings), **options)
    results = run.results(block_identities(encoder_name, blocks, settings), shard_size)
    return {int(b): r for b, r in results.items() if b is not None}

