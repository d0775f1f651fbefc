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


# ---- damaged contents: the checksum matches (it was rewritten to match), the contents are wrong ----


def _npy(array: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _rewrite(entry, shard: int, data: bytes | None = None, **meta_changes) -> None:
    """Replace a shard's bytes and/or record, then make the recorded checksum match again."""
    import hashlib
    import json

    if data is not None:
        entry.shard_path(shard).write_bytes(data)
    meta_path = entry.shard_path(shard).with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta.update(meta_changes, sha256=hashlib.sha256(entry.shard_path(shard).read_bytes()).hexdigest())
    meta_path.write_text(json.dumps(meta))


BAD_CONTENTS = {
    "object array": lambda: _npy(np.array([{"a": 1}] * 4, dtype=object)),
    "object matrix": lambda: _npy(np.full((4, 4), None, dtype=object)),
    "float64": lambda: _npy(np.zeros((4, 4), np.float64)),
    "int32": lambda: _npy(np.zeros((4, 4), np.int32)),
    "wrong rows": lambda: _npy(np.zeros((3, 4), np.float32)),
    "one dimension": lambda: _npy(np.zeros(16, np.float32)),
    "fortran order": lambda: _npy(np.asfortranarray(np.arange(16, dtype=np.float32).reshape(4, 4))),
    "cut short": lambda: _npy(np.zeros((4, 4), np.float32))[:-8],
    "not npy": lambda: b"just some bytes, checksum rewritten",
    "empty": lambda: b"",
}


@pytest.fixture
def written(tmp_path):
    entry = EmbeddingStore(tmp_path).entry("cd" * 32, n_cells=10, shard_size=4)
    values = np.arange(40, dtype=np.float32).reshape(10, 4)
    for shard in range(3):
        rows = entry.shard_rows(shard)
        entry.write_shard(shard, values[rows], np.ones(rows.stop - rows.start, bool))
    entry.write_manifest(encoder="e", complete=True, dim=4)
    assert entry.missing_shards() == []
    return entry


@pytest.mark.parametrize("kind", list(BAD_CONTENTS))
def test_a_shard_with_a_matching_checksum_but_bad_contents_is_damaged(kind, written):
    _rewrite(written, 1, BAD_CONTENTS[kind]())
    assert written.missing_shards() == [1]
    assert written.shard_problem(1) and written.shard_problem(0) is None
    with pytest.raises(StorageError, match="incomplete or damaged"):
        written.load()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"dim": 5}, "columns"),
        ({"unreadable": [7]}, "unreadable"),
        ({"unreadable": "all"}, "unreadable"),
        ({"unreadable": [True]}, "unreadable"),
    ],
)
def test_a_shard_whose_record_disagrees_with_it_is_damaged(change, problem, written):
    _rewrite(written, 2, **change)
    assert written.missing_shards() == [2] and problem in written.shard_problem(2)


def test_a_shard_of_another_width_than_the_set_is_damaged(written):
    _rewrite(written, 0, _npy(np.zeros((4, 6), np.float32)), dim=6)  # consistent with its record, not the set
    assert written.missing_shards() == [0] and "6 columns where the set has 4" in written.shard_problem(0)


def test_a_record_that_is_not_an_object_is_damaged(written):
    written.shard_path(1).with_suffix(".json").write_text("[1, 2]")
    assert written.missing_shards() == [1]
