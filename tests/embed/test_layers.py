"""Embeddings of several blocks: one cache entry per block (its own key), all missing blocks computed in
one forward pass, ``<encoder>@<block>`` names, resumption, and refusals for encoders without blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mitoviz.config import Settings
from mitoviz.data.patches import PatchReader, PatchSettings
from mitoviz.embed.extract import embed, embed_layers
from mitoviz.embed.store import EmbeddingStore
from mitoviz.encoders import create_encoder
from mitoviz.errors import Cancelled, SpecError
from mitoviz.progress import RecordingReporter

PATCH = PatchSettings(96)
VIT = "random-vits16"  # 12 blocks, no weights needed


class Passes:
    """A real encoder built with ``layers``, counting its forward passes and the patches they saw."""

    def __init__(self, settings: Settings, layers: list[int]) -> None:
        self.model = create_encoder(VIT, settings, layers=layers)
        self.calls = self.patches = 0

        def count(_: object, args: tuple[torch.Tensor, ...]) -> None:
            self.calls += 1
            self.patches += len(args[0])

        self.model.register_forward_pre_hook(count)


def _layers(cells: pd.DataFrame, settings: Settings, blocks, passes: Passes | None = None, **kw):
    model = passes.model if passes is not None else None
    return embed_layers(cells, VIT, blocks, PATCH, settings, "cpu", encoder=model, batch_size=16, num_workers=0, **kw)


@pytest.mark.slow
def test_blocks_are_the_encoders_block_outputs_one_entry_each(small_cells: pd.DataFrame, settings: Settings) -> None:
    passes = Passes(settings, [3, 12])
    results = _layers(small_cells, settings, [12, 3], passes)

    assert sorted(results) == [3, 12]
    batches = -(-len(small_cells) // 16)
    assert passes.calls == batches and passes.patches == len(small_cells)  # both blocks from one pass
    with PatchReader() as reader:
        pixels, _ = reader.read_cells(small_cells.iloc[[5, 40]], PATCH)
    direct = passes.model(torch.from_numpy(pixels))
    for block in (3, 12):
        r = results[block]
        assert r.embeddings.shape == (len(small_cells), 384) and r.ok.all() and r.computed_shards == 1
        np.testing.assert_allclose(r.embeddings[[5, 40]], direct[block].numpy(), rtol=1e-5, atol=1e-5)
    ordinary = embed(small_cells, VIT, PATCH, settings, "cpu", num_workers=0)
    keys = {results[3].key, results[12].key, ordinary.key}
    assert len(keys) == 3  # the last block has its own key: it is not the (normed) final embedding
    assert not np.allclose(results[12].embeddings, ordinary.embeddings)

    manifests = {m.get("encoder"): m for _, m in EmbeddingStore(settings.embeddings_dir).entries()}
    assert manifests[f"{VIT}@3"]["block"] == 3 and manifests[f"{VIT}@12"]["complete"]
    assert manifests[VIT]["complete"] and "block" not in manifests[VIT]


@pytest.mark.slow
def test_cached_blocks_are_not_recomputed_and_new_ones_come_in_one_pass(
    small_cells: pd.DataFrame, settings: Settings
) -> None:
    first = _layers(small_cells, settings, [3, 12])
    passes = Passes(settings, [3, 6, 12])
    again = _layers(small_cells, settings, [3, 6, 12], passes)
    assert again[3].cached_shards == again[12].cached_shards == 1 and again[3].computed_shards == 0
    assert again[6].computed_shards == 1 and passes.patches == len(small_cells)  # block 6 alone, one pass
    np.testing.assert_array_equal(again[12].embeddings, first[12].embeddings)

    passes.calls = 0
    warm = _layers(small_cells, settings, [3, 6, 12], passes)
    assert passes.calls == 0 and all(r.computed_shards == 0 for r in warm.values())


def test_method_names_and_all(small_cells: pd.DataFrame, settings: Settings) -> None:
    results = _layers(small_cells, settings, "all")
    assert sorted(results) == list(range(1, 13))
    one = embed(small_cells, f"{VIT}@7", PATCH, settings, "cpu", num_workers=0)
    same = embed(small_cells, VIT, PATCH, settings, "cpu", num_workers=0, layers=7)
    assert one.key == same.key == results[7].key and one.computed_shards == 0
    np.testing.assert_array_equal(one.embeddings, results[7].embeddings)
    with pytest.raises(SpecError, match="embed_layers"):
        embed(small_cells, VIT, PATCH, settings, "cpu", layers=[3, 7])


def test_interrupted_blocks_resume_from_their_shards(small_cells: pd.DataFrame, settings: Settings) -> None:
    with pytest.raises(Cancelled):
        _layers(small_cells, settings, [2, 4], reporter=RecordingReporter(cancel_after=3), shard_size=16)
    entries = [e for e, _ in EmbeddingStore(settings.embeddings_dir).entries()]
    assert len(entries) == 2 and all(e.missing_shards() == list(range(3, e.n_shards)) for e in entries)
    passes = Passes(settings, [2, 4])
    resumed = _layers(small_cells, settings, [2, 4], passes, shard_size=16)
    assert passes.patches == entries[0].rows_in(list(range(3, entries[0].n_shards)))
    assert resumed[2].cached_shards == resumed[4].cached_shards == 3
    fresh = _layers(small_cells, settings.__class__(**{**settings.__dict__, "home": settings.home / "fresh"}), [2, 4])
    for b in (2, 4):
        np.testing.assert_allclose(resumed[b].embeddings, fresh[b].embeddings, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("name", "message"), [("handcrafted", "computed features"), ("xcit-dino-bm", "blocks")])
def test_encoders_without_blocks_refuse(name: str, message: str, small_cells: pd.DataFrame, settings: Settings) -> None:
    with pytest.raises(SpecError, match=f"cannot give features from single blocks.*{message}"):
        embed_layers(small_cells, name, [1], PATCH, settings, "cpu")
    assert not list(EmbeddingStore(settings.embeddings_dir).entries())


def test_an_encoder_without_the_blocks_is_refused(small_cells: pd.DataFrame, settings: Settings) -> None:
    with pytest.raises(SpecError, match="gives blocks"):
        _layers(small_cells, settings, [3, 12], Passes(settings, [3]))
