"""What the Jobs page says about a job record: each stage's line, and the time left for the whole job.

Pure functions of the record (no Streamlit), so they are tested on plain dicts. A record's stages carry
``done``, ``total``, ``unit``, ``rate`` (units/s, None until measured), ``eta`` (s at the last update), ``order``
(position in the run) and ``started``/``updated`` (epoch s). The runner announces every stage at 0 when it plans,
so a running job lists all its stages from the start: the first unfinished one is the current stage, the ones after
it are pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RATE_SHOWN = 0.05  # units/s below which a rate reads as noise rather than progress
SILENT_S = 20.0  # the current stage has reported nothing for this long: say when it last did
STOPPED = ("cancelled", "failed", "interrupted")


@dataclass(frozen=True)
class StageView:
    name: str
    fraction: float
    status: str  # done | current | pending | stopped | not reached
    text: str
    eta: float | None  # seconds left in this stage, when it is current and measured


def duration(seconds: float | None) -> str:
    """``42s``, ``3m 05s``, ``1h 02m``; ``–`` for unknown."""
    if seconds is None:
        return "–"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m {seconds % 60:02d}s"


def ordered(job: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return sorted(job.get("stages", {}).items(), key=lambda kv: kv[1].get("order", 0))


def _finished(stage: dict[str, Any]) -> bool:
    total = stage.get("total") or 0
    return bool(total) and stage.get("done", 0) >= total


def stage_views(job: dict[str, Any], now: float) -> list[StageView]:
    """One line per stage, in run order. Rates and times left only on a running job's current stage: a stopped
    job (cancelled, failed, interrupted) keeps its counts, says where it stopped, and shows no stale ETA."""
    state = job.get("state")
    first = "current" if state == "running" else "stopped" if state in STOPPED else "pending"
    later = "pending" if state in ("running", "queued") else "not reached"
    views: list[StageView] = []
    for name, st in ordered(job):
        done, total, unit = st.get("done", 0), st.get("total") or 0, st.get("unit", "")
        count = f"{done:,} / {total:,} {unit}".strip()
        fraction = min(1.0, done / total) if total else 0.0
        if _finished(st):
            took = (st.get("updated") or 0) - (st.get("started") or 0)
            views.append(StageView(name, 1.0, "done", f"{count} · done" + (f" in {duration(took)}" if took >= 1 else ""),
                                   0.0))
            continue
        status = first if all(v.status == "done" for v in views) else later
        if status != "current":
            said = f"stopped ({state})" if status == "stopped" else status
            views.append(StageView(name, fraction, status, f"{count} · {said}", None))
            continue
        parts, eta = [count], None
        rate = st.get("rate") or 0.0
        if unit and rate >= RATE_SHOWN:
            parts.append(f"{rate:.1f} {unit}/s")
        if st.get("eta") is not None:
            eta = max(0.0, st["eta"] - (now - (st.get("updated") or now)))
            parts.append(f"{duration(eta)} left")
        elif st.get("updated") and now - st["updated"] > SILENT_S:
            parts.append(f"working · last progress {duration(now - st['updated'])} ago")
        else:
            parts.append("estimating…")
        views.append(StageView(name, fraction, "current", " · ".join(parts), eta))
    return views


def time_left(views: list[StageView]) -> str:
    """The whole job's time left: the sum of the unfinished stages' times left. Where some are not measured yet
    (pending stages, a stage that just started), the known part is a lower bound; with none known, "estimating…"."""
    open_ = [v for v in views if v.status in ("current", "pending")]
    if not open_:
        return ""
    known = [v.eta for v in open_ if v.eta is not None]
    if not known:
        return "estimating…"
    total = duration(sum(known))
    return f"about {total} left" if len(known) == len(open_) else f"at least {total} left · estimating the rest…"
