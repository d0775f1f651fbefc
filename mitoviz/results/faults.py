"""Storage faults: a full disk, a refused permission and a damaged file told apart, and damage moved aside.

Nothing mitoviz finds damaged is deleted: it goes under ``<home>/quarantine/<timestamp>/`` at the same
relative path, with a line in ``REASONS.txt`` saying why, so a person can look at it or put it back.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from mitoviz.errors import StorageError

FULL_CODES = {errno.ENOSPC, errno.EDQUOT}
DENIED_CODES = {errno.EACCES, errno.EPERM, errno.EROFS}
FULL_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded")
DENIED_TEXTS = ("permission denied", "readonly database", "read-only file system")
NEARLY_FULL_BYTES = 2**20  # with less free, an unexplained write error is taken for a full disk
REPAIR_HINT = "`python -m mitoviz check --repair` moves what is damaged aside (nothing is deleted)."


class DiskFull(StorageError):
    """The disk under the home folder has no room left."""


class Damaged(StorageError):
    """A file mitoviz wrote is unreadable or fails its checks."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        todo += [cur.__cause__, cur.__context__]


def _matches(exc: BaseException, codes: set[int], texts: tuple[str, ...]) -> bool:
    for cur in _chain(exc):
        if isinstance(cur, OSError) and cur.errno in codes:
            return True
        if isinstance(cur, OSError | sqlite3.Error) and any(t in str(cur).lower() for t in texts):
            return True
    return False


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is an ENOSPC/EDQUOT or SQLite's "database or disk is full"."""
    return _matches(exc, FULL_CODES, FULL_TEXTS)


def is_denied(exc: BaseException) -> bool:
    return _matches(exc, DENIED_CODES, DENIED_TEXTS)


def failed_path(exc: BaseException, default: Path) -> Path:
    """The file an OSError in the chain names (a failed write names none: then the file of the atomic write's
    "Cannot write PATH: ..." message), else ``default``."""
    for cur in _chain(exc):
        if isinstance(cur, OSError) and cur.filename:
            return Path(os.fsdecode(cur.filename))
    for cur in _chain(exc):
        if isinstance(cur, StorageError) and (found := re.match(r"Cannot write (/.+?): ", cur.what)):
            return Path(found.group(1))
    return Path(default)


def free_bytes(path: Path) -> int:
    """Free bytes on the file system that holds ``path`` (its nearest existing parent)."""
    path = Path(path)
    for candidate in (path, *path.parents):
        with contextlib.suppress(OSError):
            return shutil.disk_usage(candidate).free
    return 0


def disk_full(path: Path) -> DiskFull:
    free = free_bytes(path)
    return DiskFull(
        f"Disk full at {path}: free {free / 1e9:.2f} GB ({free / 1e6:.1f} MB).",
        "Free space on that disk (or move MITOVIZ_HOME to a larger one), then retry: finished work is kept.",
    )


def access_problem(path: Path) -> str | None:
    """"read-only" or "permission denied" when the nearest existing folder of ``path`` cannot be written or read.

    SQLite says only "unable to open database file"; this finds out why."""
    path = Path(path)  # os.path and os.access never raise, where pathlib raises on a folder it may not enter
    for folder in (path if os.path.isdir(path) else path.parent, *path.parents):
        if os.path.exists(folder):
            with contextlib.suppress(OSError):
                if os.statvfs(folder).f_flag & os.ST_RDONLY:
                    return "read-only"
            if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
                return "permission denied"
            if os.path.lexists(path) and not os.access(path, os.R_OK | os.W_OK):
                return "permission denied"
            return None
    return None


def storage_error(exc: BaseException, path: Path, doing: str = "use") -> StorageError:
    """One clear StorageError for an OSError or SQLite error met while ``doing`` something with ``path``."""
    if isinstance(exc, StorageError) and not is_disk_full(exc):
        return exc
    # SQLite reports a disk too full for its journal as "disk I/O error": the free space tells
    if is_disk_full(exc) or (isinstance(exc, sqlite3.Error | OSError) and free_bytes(path) < NEARLY_FULL_BYTES):
        return disk_full(failed_path(exc, path))
    if is_denied(exc) or (isinstance(exc, sqlite3.Error) and access_problem(path)):
        why = access_problem(path) or "permission denied or read-only"
        return StorageError(
            f"Cannot {doing} {path}: {why} ({exc}).",
            "Fix the permissions of the mitoviz home folder (MITOVIZ_HOME), or point it at a writable folder.",
        )
    return StorageError(f"Cannot {doing} {path}: {exc}.", "Check the disk and the permissions of the home folder.")


class Quarantine:
    """One folder ``<home>/quarantine/<timestamp>/`` made on first use; what moves there keeps its path."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self._root: Path | None = None
        self.moved: list[tuple[Path, Path, str]] = []

    @property
    def root(self) -> Path:
        if self._root is None:
            base = self.home / "quarantine"
            stamp = time.strftime("%Y%m%d-%H%M%S")
            for n in range(1000):
                candidate = base / (stamp if n == 0 else f"{stamp}-{n}")
                try:
                    candidate.mkdir(parents=True)
                except FileExistsError:
                    continue
                except OSError as exc:
                    raise storage_error(exc, base, "create the quarantine folder") from exc
                self._root = candidate
                break
            else:
                raise StorageError(f"Cannot find a free quarantine folder under {base}.", "Clean it up by hand.")
        return self._root

    def target(self, path: Path) -> Path:
        path = Path(path)
        try:
            rel = path.resolve().relative_to(self.home.resolve())
        except ValueError:
            rel = Path(path.name)
        return self.root / rel

    def move(self, path: Path, reason: str) -> Path:
        """Move ``path`` (file or folder) aside and note why; returns where it went."""
        path = Path(path)
        dest = self.target(path)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), str(dest))
        except OSError as exc:
            raise storage_error(exc, path, "move aside") from exc
        self.moved.append((path, dest, reason))
        self.note(f"{dest.relative_to(self.root)}: {reason}")
        return dest

    def note(self, line: str) -> None:
        with contextlib.suppress(OSError), open(self.root / "REASONS.txt", "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
