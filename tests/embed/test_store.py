import numpy as np
import pandas as pd
import pytest

from mitoviz.embed.store import EmbeddingStore, embedding_key
from mitoviz.errors import StorageError


def _cells(n=10):
    return pd.DataFrame({"cell_id": [f"c{i}" for i in range(n)], "image": "a.tiff", "x": np.arange(n) * 1.0,
                         "y": 5.0})


def test_key_changes_with_everything_that_changes_the_numbers():
    cells = _cells()
    base = embedding_key({"name": "e", "digest": "d"}, {"size": 224, "mpp": None}, cells)
    assert base == embedding_key({"name": "e", "digest": "d"}, {"size": 224, "mpp": None}, cells.copy())
    moved = cells.copy()
    moved.loc[3, "x"] += 1
    variants = [
        embedding_key({"name": "e", "digest": "other"}, {"size": 224, "mpp": None}, cells),
        embedding_key({"name": "e", "digest": "d"}, {"size": 256, "mpp": None}, cells),
        embedding_key({"name": "e", "digest": "d"}, {"size": 224, "mpp": None}, moved),
        embedding_key({"name": "e", "digest": "d"}, {"size": 224, "mpp": None}, cells.iloc[::-1]),
    ]
    assert len({base, *variants}) == 5


def test_shards_round_trip_and_damage_is_detected(tmp_path):
    store = EmbeddingStore(tmp_path)
    entry = store.entry("ab" * 32, n_cells=10, shard_size=4)
    assert entry.n_shards == 3 and entry.missing_shards() == [0, 1, 2]
    values = np.arange(40, dtype=np.float32).reshape(10, 4)
    ok = np.ones(10, dtype=bool)
    ok[5] = False
    for shard in range(3):
        rows = entry.shard_rows(shard)
        entry.write_shard(shard, values[rows], ok[rows])
    entry.write_manifest(encoder="e", complete=True)
    loaded, loaded_ok = entry.load()
    np.testing.assert_array_equal(loaded, values)
    np.testing.assert_array_equal(loaded_ok, ok)
    # A flipped byte in a shard: detected, reported as missing, never loaded.
    path = entry.shard_path(1)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert entry.missing_shards() == [1]
    with pytest.raises(StorageError, match="incomplete or damaged"):
        entry.load()
    # A truncated shard likewise.
    entry.shard_path(2).write_bytes(entry.shard_path(2).read_bytes()[:20])
    assert entry.missing_shards() == [1, 2]


def test_listing_size_and_evict(tmp_path):
    store = EmbeddingStore(tmp_path)
    for key in ("aa" * 32, "bb" * 32):
        entry = store.entry(key, 2, 2)
        entry.write_shard(0, np.zeros((2, 3), np.float32), np.ones(2, bool))
        entry.write_manifest(encoder=key[:2], complete=True)
    rows = store.listing()
    assert {r["encoder"] for r in rows} == {"aa", "bb"} and all(r["complete"] for r in rows)
    assert store.size_bytes() > 0
    assert store.evict(["aaaa"]) == ["aa" * 32]
    assert [r["encoder"] for r in store.listing()] == ["bb"]
    assert store.evict(older_than_days=1) == []
    assert store.evict() == ["bb" * 32]
