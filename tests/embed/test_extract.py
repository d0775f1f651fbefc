from dataclasses import replace

import numpy as np
import pytest
import torch

from mitoviz.data.patches import PatchReader, PatchSettings
from mitoviz.embed.extract import embed, embed_layers
from mitoviz.embed.store import EmbeddingStore
from mitoviz.encoders import create_encoder
from mitoviz.errors import Cancelled
from mitoviz.progress import RecordingReporter

PATCH = PatchSettings(96)


class Counted:
    """A real encoder plus a forward hook that counts the patches it embeds."""

    def __init__(self, name, settings):
        self.model = create_encoder(name, settings)
        self.patches = 0
        self.model.register_forward_pre_hook(lambda _, args: setattr(self, "patches", self.patches + len(args[0])))


def _embed(cells, settings, counted, **kw):
    return embed(cells, "handcrafted", PATCH, settings, "cpu", encoder=counted.model, batch_size=16, num_workers=0, **kw)


@pytest.mark.filterwarnings("error::UserWarning")  # e.g. torch's on read-only cached patches, printed into job logs
def test_embeddings_are_aligned_to_cells_and_cached(small_cells, settings):
    counted = Counted("handcrafted", settings)
    first = _embed(small_cells, settings, counted)
    assert first.embeddings.shape == (len(small_cells), 69) and first.ok.all()
    assert counted.patches == len(small_cells) and first.computed_shards == 1
    with PatchReader() as reader:
        pixels, _ = reader.read_cells(small_cells.iloc[[7, 42]], PATCH)
    with torch.inference_mode():
        direct = counted.model(torch.from_numpy(pixels)).numpy()
    np.testing.assert_allclose(first.embeddings[[7, 42]], direct, rtol=1e-5, atol=1e-5)
    counted.patches = 0
    second = _embed(small_cells, settings, counted)
    assert counted.patches == 0 and second.cached_shards == 1 and second.computed_shards == 0
    np.testing.assert_array_equal(first.embeddings, second.embeddings)
    assert second.key == first.key
    # anything that changes the pixels changes the key
    other = embed(small_cells, "handcrafted", PatchSettings(64), settings, "cpu", encoder=counted.model, num_workers=0)
    assert other.key != first.key


def test_interrupted_run_recomputes_only_missing_shards(small_cells, settings):
    counted = Counted("handcrafted", settings)
    with pytest.raises(Cancelled):  # stops after the third batch (= third shard) is written
        _embed(small_cells, settings, counted, reporter=RecordingReporter(cancel_after=3), shard_size=16)
    entry = next(e for e, _ in EmbeddingStore(settings.embeddings_dir).entries())
    assert entry.n_shards == 5 and entry.missing_shards() == [3, 4]
    counted.patches = 0
    result = _embed(small_cells, settings, counted, shard_size=16)
    assert counted.patches == 32 and result.computed_shards == 2 and result.cached_shards == 3
    reference = embed(small_cells, "handcrafted", PATCH, replace(settings, home=settings.home / "fresh"), "cpu",
                      num_workers=0)
    np.testing.assert_allclose(result.embeddings, reference.embeddings, rtol=1e-5, atol=1e-6)


def test_damaged_shard_is_detected_and_recomputed(small_cells, settings):
    counted = Counted("handcrafted", settings)
    first = _embed(small_cells, settings, counted, shard_size=32)
    entry = next(e for e, _ in EmbeddingStore(settings.embeddings_dir).entries())
    path = entry.shard_path(1)
    path.write_bytes(path.read_bytes()[:-8] + b"\x00" * 8)
    counted.patches = 0
    second = _embed(small_cells, settings, counted, shard_size=32)
    assert counted.patches == 32 and second.computed_shards == 1
    np.testing.assert_array_equal(first.embeddings, second.embeddings)


def test_unreadable_images_are_counted_not_dropped(small_cells, settings, tmp_path):
    cells = small_cells.copy()
    broken = tmp_path / "broken.tiff"
    broken.write_bytes(b"not a tiff")
    cells.loc[cells.index[:5], "image"] = str(broken)
    result = embed(cells, "handcrafted", PATCH, settings, "cpu", num_workers=1)
    assert result.n_unreadable == 5 and not result.ok[:5].any() and result.ok[5:].all()
    assert result.embeddings.shape[0] == len(cells)


@pytest.mark.slow
def test_dask_local_cluster_gives_the_local_result(small_cells, settings):
    distributed = pytest.importorskip("distributed")
    local = embed(small_cells, "random-vits16", PATCH, settings, "cpu", num_workers=0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster:
        remote_settings = replace(settings, home=settings.home / "dask-home", dask_address=cluster.scheduler_address)
        reporter = RecordingReporter()
        remote = embed(small_cells, "random-vits16", PATCH, remote_settings, "cpu", reporter=reporter)
        remote_blocks = embed_layers(small_cells, "random-vits16", [3, 12], PATCH, remote_settings, "cpu")
    assert remote.key == local.key and remote.computed_shards == 1
    np.testing.assert_allclose(remote.embeddings, local.embeddings, rtol=1e-4, atol=1e-5)
    assert reporter.updates[-1] == ("embed", len(small_cells), len(small_cells))
    local_blocks = embed_layers(small_cells, "random-vits16", [3, 12], PATCH, settings, "cpu", num_workers=0)
    for block in (3, 12):  # blocks computed by the workers, in one pass per shard
        assert remote_blocks[block].key == local_blocks[block].key and remote_blocks[block].computed_shards == 1
        np.testing.assert_allclose(remote_blocks[block].embeddings, local_blocks[block].embeddings, rtol=1e-4, atol=1e-5)


def test_object_array_shard_with_matching_checksum_is_recomputed_not_loaded(small_cells, settings):
    """Issue 15 item 5: such a shard failed every run; now it counts as damaged and is recomputed."""
    import hashlib
    import io
    import json

    counted = Counted("handcrafted", settings)
    first = _embed(small_cells, settings, counted, shard_size=32)
    entry = next(e for e, _ in EmbeddingStore(settings.embeddings_dir).entries())
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}] * 32, dtype=object), allow_pickle=True)
    entry.shard_path(1).write_bytes(buf.getvalue())
    meta_path = entry.shard_path(1).with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    meta_path.write_text(json.dumps(meta))
    counted.patches = 0
    second = _embed(small_cells, settings, counted, shard_size=32)
    assert counted.patches == 32 and second.computed_shards == 1
    np.testing.assert_array_equal(first.embeddings, second.embeddings)
    assert entry.shard_problem(1) is None
