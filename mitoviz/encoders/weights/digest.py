"""The sha256 of a weights file, part of every embedding's cache key; cached so multi-GB files hash once."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from mitoviz.config import Settings
from mitoviz.errors import StorageError

DIGEST_CACHE = "weights-sha256.json"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def file_sha256(path: Path, settings: Settings) -> str:
    """sha256 of a (possibly multi-GB) file, cached by path, size and mtime under the cache folder."""
    path = Path(path).resolve()
    stat = path.stat()
    cache_file = settings.cache_dir / DIGEST_CACHE
    cache = _read_json(cache_file)
    entry = cache.get(str(path))
    if (
        isinstance(entry, dict)
        and entry.get("size") == stat.st_size
        and entry.get("mtime_ns") == stat.st_mtime_ns
    ):
        return str(entry["sha256"])
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    cache = _read_json(cache_file)  # re-read: another worker may have added entries meanwhile
    cache[str(path)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, cache_file)
    except OSError as exc:
        raise StorageError(
            f"Cannot write {cache_file}: {exc}.", "Make the mitoviz home folder writable."
        ) from exc
    return digest
