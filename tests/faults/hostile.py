"""Hostile rows for the job store, written with sqlite3 directly, as anyone who can write the home could.

The payload is a real pickle: unpickled, it writes a marker file. ``payload_runs_when_unpickled`` proves
that, so a test that finds no marker shows the payload never ran, not that it was harmless.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

MODE_RAW, MODE_BINARY, MODE_PICKLE = 1, 2, 4


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'a').write('payload ran\\n')",))


def payload(marker: Path) -> bytes:
    return pickle.dumps(Payload(marker))


def jkey(key: str) -> bytes:
    """A key as diskcache's JSONDisk stores it (raw zlib-compressed JSON)."""
    return zlib.compress(json.dumps(key).encode(), 1)  # level 1, as JSONDisk writes it: lookups find it


def insert(db: Path, key: bytes, raw: int, mode: int, value: bytes | None, filename: str | None = None) -> None:
    with sqlite3.connect(db) as con:
        now = time.time()
        con.execute("INSERT INTO Cache (key, raw, store_time, expire_time, access_time, tag, size, mode, filename, "
                    "value) VALUES (?, ?, ?, NULL, ?, NULL, 0, ?, ?, ?)", (key, raw, now, now, mode, filename, value))


def plant(jobs: Path, marker: Path, settings_row: bool = True) -> int:
    """Every way a row could make diskcache unpickle or read outside the store; returns how many rows."""
    db = jobs / "cache.db"
    evil = payload(marker)
    insert(db, jkey("job:pickled-value"), 1, MODE_PICKLE, evil)  # a value whose mode byte says pickle
    insert(db, evil, 0, MODE_RAW, jkey("{}"))  # a key stored "pickled" (raw = 0)
    (jobs / "ev" / "il").mkdir(parents=True, exist_ok=True)
    (jobs / "ev" / "il" / "payload.val").write_bytes(evil)
    insert(db, jkey("job:pickled-file"), 1, MODE_PICKLE, None, "ev/il/payload.val")  # a pickle in a value file
    outside = jobs.parent / "outside.val"
    outside.write_bytes(evil)
    insert(db, jkey("job:outside"), 1, MODE_BINARY, None, "../outside.val")  # a value file outside the store
    if settings_row:
        with sqlite3.connect(db) as con:  # diskcache would setattr this onto its disk: value files read from "/"
            con.execute("INSERT INTO Settings (key, value) VALUES ('disk__directory', '/')")
    return 4


def payload_runs_when_unpickled(jobs: Path, marker: Path) -> bool:
    """Plain diskcache (JSONDisk) on a store with these rows runs the payload: the threat is real."""
    code = ("import diskcache, sys; c = diskcache.Cache(sys.argv[1], disk=diskcache.JSONDisk); "
            "c.get('job:pickled-value')")
    subprocess.run([sys.executable, "-c", code, str(jobs)], capture_output=True, timeout=60)
    return marker.exists()
