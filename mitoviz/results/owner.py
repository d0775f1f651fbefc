"""Which process is running a run, and whether it still lives.

While a run is "running" its manifest names its owner (pid, host, the process's start time) and carries a
heartbeat that a daemon thread refreshes every ``HEARTBEAT_S``. On the owner's host a dead pid (or one
reused by another process) means the run was interrupted, at once; anywhere, so does a heartbeat older
than ``STALE_S`` (a process on another host sharing the storage, or one that can no longer write).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HEARTBEAT_S = 10.0
STALE_S = float(os.environ.get("MITOVIZ_RUN_STALE_AFTER", "60"))

_beating: dict[Path, threading.Event] = {}
_guard = threading.Lock()


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks) from /proc, or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return fields[0], fields[19]


def process_started(pid: int) -> str | None:
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def this_process() -> dict[str, Any]:
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "started": process_started(pid)}


def pid_alive(pid: int, started: str | None = None) -> bool:
    """True when ``pid`` runs here, is no zombie and (when known) started when it was recorded."""
    if not Path("/proc/self/stat").exists():  # no procfs: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    stat = _proc_stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return False
    return started is None or stat[1] == started


def owner_alive(manifest: dict[str, Any], now: float | None = None) -> bool:
    """Whether the process that marked the run "running" still runs it."""
    now = time.time() if now is None else now
    owner, beat = manifest.get("owner"), manifest.get("heartbeat")
    if not isinstance(owner, dict) or not isinstance(beat, int | float) or now - beat > STALE_S:
        return False  # no owner recorded (an older run), or nobody has beaten for a while (e.g. a full disk)
    if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int):
        return pid_alive(owner["pid"], owner.get("started"))
    return True


def start_heartbeat(root: Path, beat: Callable[[], bool]) -> None:
    """Call ``beat`` every HEARTBEAT_S seconds from a daemon thread until it returns False or stop_heartbeat."""
    with _guard:
        if root in _beating:
            return
        stop = _beating[root] = threading.Event()

    def loop() -> None:
        try:
            while not stop.wait(HEARTBEAT_S):
                try:
                    if not beat():
                        break
                except Exception:  # a full disk or a moved run must not kill the process; try again later
                    continue
        finally:
            with _guard:
                if _beating.get(root) is stop:
                    del _beating[root]

    threading.Thread(target=loop, name=f"run-heartbeat-{root.name}", daemon=True).start()


def stop_heartbeat(root: Path) -> None:
    with _guard:
        stop = _beating.pop(root, None)
    if stop is not None:
        stop.set()
