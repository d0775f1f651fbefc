"""Content-addressed embedding cache: ``.npy`` shards plus a JSON manifest per key.

A key covers everything that changes the numbers (encoder spec, weights digest, patch settings,
cells, preprocessing code version; for features of one block, the block), so an unchanged key is never
recomputed. Shards are written atomically and carry a checksum and their shape; a shard whose bytes,
record or contents are not what was written (a float32 matrix of the shard's rows) is damaged: it is
recomputed, never loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mitoviz.errors import StorageError
from mitoviz.files import write_atomic, write_json_atomic

# Bump when patch reading or preprocessing changes the pixels an encoder sees.
PREPROCESS_VERSION = 1
SHARD_SIZE = 256


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def cells_fingerprint(cells: pd.DataFrame) -> str:
    """Digest of what decides the pixels of each cell: id, image and centre, in table order."""
    h = hashlib.sha256()
    cols = cells[["cell_id", "image", "x", "y"]]
    for row in cols.itertuples(index=False):
        h.update(f"{row.cell_id}\t{row.image}\t{row.x!r}\t{row.y!r}\n".encode())
    return h.hexdigest()


def embedding_key(encoder_key: dict[str, Any], patch: dict[str, Any], cells: pd.DataFrame) -> str:
    return _digest(
        {
            "encoder": encoder_key,
            "patch": patch,
            "cells": cells_fingerprint(cells),
            "preprocess_version": PREPROCESS_VERSION,
        }
    )


@dataclass
class EmbeddingEntry:
    """One cached embedding set: ``shards`` of ``shard_size`` rows, for ``n_cells`` cells."""

    root: Path
    key: str
    n_cells: int
    shard_size: int

    @property
    def n_shards(self) -> int:
        return max(1, -(-self.n_cells // self.shard_size))

    def shard_rows(self, shard: int) -> slice:
        return slice(shard * self.shard_size, min((shard + 1) * self.shard_size, self.n_cells))

    def rows_in(self, shards: list[int]) -> int:
        return sum(self.shard_rows(s).stop - self.shard_rows(s).start for s in shards)

    def shard_path(self, shard: int) -> Path:
        return self.root / f"shard_{shard:05d}.npy"

    def _meta_path(self, shard: int) -> Path:
        return self.root / f"shard_{shard:05d}.json"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            return {}

    def write_manifest(self, **info: Any) -> None:
        current = self.manifest()
        current.update(info, key=self.key, n_cells=self.n_cells, shard_size=self.shard_size)
        write_json_atomic(self.manifest_path, current)

    def write_shard(self, shard: int, values: np.ndarray, ok: np.ndarray) -> None:
        rows = self.shard_rows(shard)
        expected = rows.stop - rows.start
        if values.shape[0] != expected or ok.shape[0] != expected:
            raise ValueError(f"shard {shard} expects {expected} rows, got {values.shape[0]}")
        values = np.ascontiguousarray(values, dtype=np.float32)
        with tempfile.SpooledTemporaryFile() as buf:
            np.save(buf, values, allow_pickle=False)
            buf.seek(0)
            data = buf.read()
        write_atomic(self.shard_path(shard), data)
        meta = {
            "rows": expected,
            "dim": int(values.shape[1]),
            "sha256": hashlib.sha256(data).hexdigest(),
            "unreadable": np.flatnonzero(~ok).tolist(),
        }
        write_json_atomic(self._meta_path(shard), meta)

    def shard_problem(self, shard: int) -> str | None:
        """What is wrong with a shard on disk (None: it is sound and can be loaded).

        Sound means: its record is readable, its checksum matches, and its contents are a float32
        matrix of this shard's rows (of the set's width, once the set is complete) — never an object
        array or anything else ``np.load`` would refuse or misread.
        """
        rows = self.shard_rows(shard)
        expected_rows = rows.stop - rows.start
        try:
            meta = json.loads(self._meta_path(shard).read_text())
            data = self.shard_path(shard).read_bytes()
        except (OSError, ValueError):
            return "not written (or its record is unreadable)"
        if not isinstance(meta, dict) or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            return "its checksum does not match its record"
        try:
            buf = io.BytesIO(data)
            version = np.lib.format.read_magic(buf)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            shape, fortran, dtype = read_header[version](buf)
        except (ValueError, KeyError, OSError) as exc:
            return f"not a .npy array ({exc})"
        if dtype != np.dtype(np.float32) or fortran or len(shape) != 2 or shape[0] != expected_rows:
            return f"holds {dtype} {shape}, not a float32 matrix of {expected_rows} rows"
        if len(data) - buf.tell() != shape[0] * shape[1] * 4:
            return "its array data is cut short"
        dim = self.manifest().get("dim")  # recorded when the set was completed
        unreadable = meta.get("unreadable")
        if meta.get("dim") != shape[1] or (dim is not None and dim != shape[1]):
            return f"holds {shape[1]} columns where the set has {meta.get('dim') if dim is None else dim}"
        if not isinstance(unreadable, list) or not all(
            type(i) is int and 0 <= i < expected_rows for i in unreadable
        ):
            return "its record of unreadable cells is malformed"
        return None

    def shard_ok(self, shard: int) -> bool:
        """True when the shard is on disk, matches its checksum and holds the expected float matrix."""
        return self.shard_problem(shard) is None

    def missing_shards(self) -> list[int]:
        return [s for s in range(self.n_shards) if not self.shard_ok(s)]

    def complete(self) -> bool:
        return not self.missing_shards()

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """All embeddings [n_cells, dim] and a mask of cells that were read (False = unreadable)."""
        if bad := self.missing_shards():
            raise StorageError(
                f"Embeddings {self.key[:12]} are incomplete or damaged (shards {bad[:5]}).",
                "Run the job again: it recomputes only those shards.",
            )
        parts, ok = [], np.ones(self.n_cells, dtype=bool)
        for shard in range(self.n_shards):
            parts.append(np.load(self.shard_path(shard), mmap_mode="r", allow_pickle=False))
            meta = json.loads(self._meta_path(shard).read_text())
            ok[np.asarray(meta["unreadable"], dtype=int) + self.shard_rows(shard).start] = False
        return np.concatenate(parts, axis=0), ok


class EmbeddingStore:
    """The cache folder: one sub-folder per key."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def entry(self, key: str, n_cells: int, shard_size: int = SHARD_SIZE) -> EmbeddingEntry:
        existing = self.root / key[:2] / key / "manifest.json"
        if existing.is_file():
            with contextlib.suppress(OSError, ValueError, KeyError):
                shard_size = int(json.loads(existing.read_text())["shard_size"])
        return EmbeddingEntry(self.root / key[:2] / key, key, n_cells, shard_size)

    def find(self, key: str) -> EmbeddingEntry | None:
        path = self.root / key[:2] / key / "manifest.json"
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return EmbeddingEntry(path.parent, key, int(manifest["n_cells"]), int(manifest["shard_size"]))

    def entries(self) -> Iterable[tuple[EmbeddingEntry, dict[str, Any]]]:
        for manifest_path in sorted(self.root.glob("*/*/manifest.json")):
            entry = self.find(manifest_path.parent.name)
            if entry is not None:
                yield entry, entry.manifest()

    def listing(self) -> list[dict[str, Any]]:
        """One row per cached embedding set: key, encoder, data set, cells, size, completeness."""
        rows = []
        for entry, manifest in self.entries():
            size = sum(p.stat().st_size for p in entry.root.iterdir() if p.is_file())
            rows.append(
                {
                    "key": entry.key,
                    "encoder": manifest.get("encoder", ""),
                    "dataset": manifest.get("dataset", ""),
                    "cells": entry.n_cells,
                    "dim": manifest.get("dim"),
                    "bytes": size,
                    "complete": bool(manifest.get("complete")),
                    "created": manifest.get("created", ""),
                }
            )
        return rows

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()) if self.root.exists() else 0

    def evict(self, keys: Iterable[str] | None = None, older_than_days: float | None = None) -> list[str]:
        """Delete the given keys (or everything older than the age given); return what went."""
        gone = []
        cutoff = time.time() - older_than_days * 86400 if older_than_days is not None else None
        wanted = set(keys) if keys is not None else None
        for entry, _ in list(self.entries()):
            match_key = wanted is None or entry.key in wanted or any(entry.key.startswith(k) for k in wanted)
            match_age = cutoff is None or entry.manifest_path.stat().st_mtime < cutoff
            if match_key and match_age:
                shutil.rmtree(entry.root, ignore_errors=True)
                gone.append(entry.key)
        return gone
