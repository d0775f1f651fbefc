"""A diskcache Disk that can only ever read JSON: no code path reaches ``pickle``.

diskcache's own ``JSONDisk`` writes JSON, but reads whatever a row says it holds: a row whose mode byte
says "pickle", or whose key is marked as not raw (pickled), is unpickled, and a pickle runs code. Anyone
who can write ``jobs/cache.db`` (a home folder on shared storage) could run code in the app, the CLI and
the worker. Here every read path is replaced: a value must be a raw blob or a file inside the store
folder holding zlib-compressed JSON, a key must be a raw zlib-compressed JSON blob; anything else raises
``UnsafeRecord`` and is never decoded. ``scan`` finds such rows with plain SQL, without decoding
anything, so the store can quarantine them before diskcache touches them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diskcache
from diskcache.core import ENOVAL, MODE_BINARY, MODE_RAW, UNKNOWN

from mitoviz.errors import StorageError

# Settings diskcache stores in the database and would otherwise take from it (a hostile row could set
# the eviction policy, a tiny size limit that culls our jobs, or the pickle protocol): we always say.
PINNED_SETTINGS: dict[str, Any] = {
    "eviction_policy": "none",
    "size_limit": 2**62,
    "cull_limit": 0,
    "statistics": 0,
    "tag_index": 0,
    "sqlite_auto_vacuum": 1,
    "sqlite_cache_size": 2**13,
    "sqlite_journal_mode": "wal",
    "sqlite_mmap_size": 2**26,
    "sqlite_synchronous": 1,
    "disk_min_file_size": 2**15,
    "disk_pickle_protocol": 0,
    "disk_compress_level": 1,
}
KNOWN_SETTINGS = {*PINNED_SETTINGS, "count", "size", "hits", "misses"}
MAX_RECORD_BYTES = 64 * 2**20


class UnsafeRecord(StorageError):
    """A job store row that is not zlib-compressed JSON (pickled, or damaged): never decoded."""

    reason = ""


def _refuse(what: str) -> UnsafeRecord:
    error = UnsafeRecord(
        f"The job store holds a record that is not JSON ({what}); mitoviz never decodes such records.",
        "`python -m mitoviz check --repair` (or the Jobs page) moves it into the quarantine folder.",
    )
    error.reason = what
    return error


def decode(blob: Any, what: str = "record") -> Any:
    """zlib-compressed JSON → value; anything else is refused."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise _refuse(f"a {what} stored as {type(blob).__name__}")
    try:
        return json.loads(zlib.decompress(bytes(blob), bufsize=2**16).decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise _refuse(f"a {what} that does not decode: {exc}") from exc


def inside(directory: str | Path, filename: Any) -> Path | None:
    """The value file ``filename`` names, if it is a relative path that stays inside ``directory``."""
    if not isinstance(filename, str) or not filename or os.path.isabs(filename):
        return None
    root = Path(directory).resolve()
    path = (root / filename).resolve()
    return path if root in path.parents else None


class JSONOnlyDisk(diskcache.JSONDisk):
    """JSONDisk with every decoding path replaced by one that refuses anything but JSON."""

    def __init__(self, directory: str, compress_level: int = 1, min_file_size: int = 2**15, **_ignored: Any) -> None:
        # Unknown "disk_*" settings a hostile Settings row might add are ignored, not passed on.
        super().__init__(directory, compress_level=int(compress_level), min_file_size=int(min_file_size))

    def put(self, key: Any) -> tuple[Any, bool]:
        return sqlite3.Binary(zlib.compress(json.dumps(key).encode("utf-8"), self.compress_level)), True

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise _refuse("a key stored pickled")
        return decode(key, "key")

    def store(self, value: Any, read: bool, key: Any = UNKNOWN) -> tuple[int, int, str | None, Any]:
        if read:
            raise StorageError("The job store keeps JSON records only, not files.", "This is a bug in mitoviz.")
        data = zlib.compress(json.dumps(value).encode("utf-8"), self.compress_level)
        if len(data) < self.min_file_size:
            return 0, MODE_RAW, None, sqlite3.Binary(data)
        filename, full_path = self.filename(key, value)
        self._write(full_path, iter([data]), "xb")
        return len(data), MODE_BINARY, filename, None

    def fetch(self, mode: int, filename: Any, value: Any, read: bool) -> Any:
        if read:
            raise StorageError("The job store keeps JSON records only, not files.", "This is a bug in mitoviz.")
        if mode == MODE_RAW:
            return decode(value, "value")
        if mode == MODE_BINARY:
            path = inside(self._directory, filename)
            if path is None:
                raise _refuse(f"a value file outside the store: {filename!r}")
            try:
                if path.stat().st_size > MAX_RECORD_BYTES:
                    raise _refuse(f"a value file of {path.stat().st_size:,} bytes")
                return decode(path.read_bytes(), "value")
            except FileNotFoundError:
                raise  # diskcache's own race: the row went between the SELECT and the read
            except OSError as exc:
                raise _refuse(f"an unreadable value file ({exc})") from exc
        raise _refuse(f"a value in mode {mode!r} (3 is text, 4 is pickle)")

    def remove(self, file_path: str) -> None:
        if inside(self._directory, file_path) is not None:  # never delete outside the store
            super().remove(file_path)


class SafeCache(diskcache.Cache):
    """A Cache that takes no setting from its database: diskcache would ``setattr`` every row of the
    Settings table onto the cache and its disk (a row ``disk__directory`` would move where value files are
    read from). Known settings are pinned by the caller; unknown ones are ignored."""

    def __init__(self, directory: str, timeout: float = 60) -> None:
        super().__init__(directory, timeout=timeout, disk=JSONOnlyDisk, **PINNED_SETTINGS)

    def reset(self, key: str, value: Any = ENOVAL, update: bool = True) -> Any:
        if key not in KNOWN_SETTINGS:
            return value
        return super().reset(key, value, update)


@dataclass(frozen=True)
class BadRow:
    rowid: int
    why: str
    filename: str | None


def scan(con: sqlite3.Connection, directory: Path) -> tuple[list[BadRow], list[str]]:
    """Rows and settings a JSONOnlyDisk would refuse or that diskcache would misuse, found by plain SQL.

    Keys are decoded (they are small); values are only looked at (mode, filename, type), never decoded.
    """
    bad = []
    rows = con.execute("SELECT rowid, key, raw, mode, filename, typeof(value) FROM Cache").fetchall()
    for rowid, key, raw, mode, filename, value_type in rows:
        why = ""
        if raw != 1:
            why = "key stored pickled"
        elif mode not in (MODE_RAW, MODE_BINARY):
            why = f"value in mode {mode!r} (4 is pickle)"
        elif mode == MODE_RAW and value_type != "blob":
            why = f"value stored as {value_type}"
        elif mode == MODE_BINARY and inside(directory, filename) is None:
            why = f"value file outside the store ({filename!r})"
        else:
            try:
                decode(key, "key")
            except UnsafeRecord:
                why = "key that does not decode"
        if why:
            bad.append(BadRow(int(rowid), why, filename if isinstance(filename, str) else None))
    settings = [str(k) for (k,) in con.execute("SELECT key FROM Settings").fetchall() if k not in KNOWN_SETTINGS]
    return bad, settings


def scan_values(
    con: sqlite3.Connection, directory: Path, skip: set[int], shape: Callable[[Any, Any], str | None] | None = None,
) -> tuple[list[BadRow], int]:
    """Decode every value ``scan`` let through (as JSON, never anything else) and, with ``shape``, ask it what is
    wrong with each (key, value); returns the refused rows and how many values were read."""
    bad, n = [], 0
    rows = con.execute("SELECT rowid, key, mode, filename, value FROM Cache WHERE raw = 1 AND mode IN (?, ?)",
                       (MODE_RAW, MODE_BINARY)).fetchall()
    for rowid, key, mode, filename, value in rows:
        if rowid in skip:
            continue
        n += 1
        try:
            if mode == MODE_BINARY:
                path = inside(directory, filename)
                value = path.read_bytes() if path is not None else None
            problem = shape(decode(key, "key"), decode(value, "value")) if shape else None
        except UnsafeRecord as exc:
            problem = exc.reason
        except OSError as exc:
            problem = f"unreadable value file ({exc.strerror or exc})"
        if problem:
            bad.append(BadRow(int(rowid), problem, filename))
    return bad, n
