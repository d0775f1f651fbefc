"""Atomic file writes: a reader never sees half a file, whatever is killed when."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from mitoviz.errors import StorageError


def mtime_ns(path: Path) -> int:
    """The file's modification time in ns, 0 when it cannot be read (a change stamp for caches)."""
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return 0


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise StorageError(f"Cannot write {path}: {exc.strerror or exc}.", "Free disk space or fix permissions.") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise StorageError(f"Cannot write {path}: {exc.strerror or exc}.", "Free disk space or fix permissions.") from exc


def write_json_atomic(path: Path, payload: Any) -> None:
    write_atomic(path, json.dumps(payload, indent=1, sort_keys=True, default=str).encode())
