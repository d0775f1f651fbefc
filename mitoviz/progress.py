"""How long work reports where it is and learns that it was cancelled.

Compute code takes a :class:`Reporter`; the CLI draws a progress bar from it, the job worker
writes it into the job record, tests count calls. The base class does nothing.
"""

from __future__ import annotations

import time

from mitoviz.errors import Cancelled


class Reporter:
    def update(self, stage: str, done: int, total: int, unit: str = "") -> None:
        """``done`` of ``total`` units of ``stage`` are finished."""

    def log(self, message: str) -> None:
        """A line for the log tail."""

    def on_run(self, run_id: str) -> None:
        """The results run this work writes into (so a resumed job finds it)."""

    def cancelled(self) -> bool:
        return False

    def check(self) -> None:
        """Raise :class:`Cancelled` when the user asked to stop."""
        if self.cancelled():
            raise Cancelled()


class RecordingReporter(Reporter):
    """Keeps every update and log line in memory (for tests and small scripts)."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.updates: list[tuple[str, int, int]] = []
        self.lines: list[str] = []
        self.cancel_after = cancel_after
        self.started = time.monotonic()

    def update(self, stage: str, done: int, total: int, unit: str = "") -> None:
        self.updates.append((stage, done, total))

    def log(self, message: str) -> None:
        self.lines.append(message)

    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.updates) >= self.cancel_after
