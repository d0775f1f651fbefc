"""What the Jobs page says about a job record: each stage's line, and the time left for the whole job.

Pure functions of the record (no Streamlit), so they are tested on plain dicts. A record's stages carry
``done``, ``total``, ``unit``, ``order`` (position in the list) and ``updated`` (epoch s). The runner announces
every stage at 0 when it plans, so a job lists all its stages from the start. Stages need not run in list order
(the runner takes the cheapest first, and a trained method reports its current fit's batches beside its count of
fits), so a stage is current when it has progress and is not finished, pending while it has none.

Rates are measured here, from what the page has seen of a stage since its first progress (:func:`observe`): the
record's own ``rate`` and ``eta`` count from when the worker first heard of a stage, which is when the runner
announced it, possibly minutes before it started, and would make later stages look slower than they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RATE_SHOWN = 0.05  # units/s below which a rate reads as noise rather than progress
SILENT_S = 20.0  # the current stage has reported nothing for this long: say when it last did
STOPPED = ("cancelled", "failed", "interrupted")
MEASURED_S = 2.0  # progress seen over at least this long gives a stage its rate
Samples = dict[tuple[str, str], tuple[float, int]]  # (job id, stage) → (update time, done) at its first progress


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


def observe(samples: Samples, job: dict[str, Any]) -> dict[str, float]:
    """Each progressing stage's rate (units/s) since the page first saw it progress. ``samples`` is kept between
    reruns (the page's session state) and updated here; a stage whose count went back (a new fit) starts over."""
    rates = {}
    for name, st in job.get("stages", {}).items():
        key, done, updated = (job.get("id", ""), name), st.get("done", 0), st.get("updated")
        first = samples.get(key)
        if updated is None or done <= 0 or _finished(st):
            continue
        if first is None or done < first[1]:
            samples[key] = (updated, done)
        elif updated - first[0] >= MEASURED_S and done > first[1]:
            rates[name] = (done - first[1]) / (updated - first[0])
    return rates


def stage_views(job: dict[str, Any], now: float, rates: dict[str, float] | None = None) -> list[StageView]:
    """One line per stage, in list order. Rates (from :func:`observe`) and times left only on a running job's
    current stages: a stopped job (cancelled, failed, interrupted) keeps its counts, says where it stopped, and
    shows no stale ETA."""
    state, rates = job.get("state"), rates or {}
    views: list[StageView] = []
    for name, st in ordered(job):
        done, total, unit = st.get("done", 0), st.get("total") or 0, st.get("unit", "")
        count = f"{done:,} / {total:,} {unit}".strip()
        fraction = min(1.0, done / total) if total else 0.0
        if _finished(st):
            views.append(StageView(name, 1.0, "done", f"{count} · done", 0.0))
        elif state == "running" and done > 0:
            views.append(_current(name, st, count, fraction, now, rates.get(name)))
        elif state in STOPPED:
            status = "stopped" if done > 0 else "not reached"
            views.append(StageView(name, fraction, status, f"{count} · " + (f"stopped ({state})" if done else status),
                                   None))
        else:
            views.append(StageView(name, fraction, "pending", f"{count} · pending", None))
    return views


def _current(name: str, st: dict[str, Any], count: str, fraction: float, now: float, rate: float | None
             ) -> StageView:
    parts, eta, unit = [count], None, st.get("unit", "")
    updated = st.get("updated") or now
    if rate:
        parts.append(f"{rate:.1f} {unit}/s" if unit and rate >= RATE_SHOWN else "")
        eta = max(0.0, (st.get("total", 0) - st.get("done", 0)) / rate - (now - updated))
        parts.append(f"{duration(eta)} left")
    elif now - updated > SILENT_S:
        parts.append(f"working · last progress {duration(now - updated)} ago")
    else:
        parts.append("estimating…")
    return StageView(name, fraction, "current", " · ".join(p for p in parts if p), eta)


def job_title(job: dict[str, Any], views: list[StageView], now: float) -> str:
    """A job card's title: name · state · elapsed · time left (running jobs only) · job id."""
    elapsed = (job.get("finished") or now) - job["started"] if job.get("started") else None
    left = time_left(views) if job["state"] == "running" else ""
    return " · ".join(x for x in (job["name"], job["state"], duration(elapsed), left, f"job {job['id']}") if x)


def where_it_is(job: dict[str, Any]) -> str:
    """One line for a terminal listing: the first stage with progress that has not finished (``embed uni 300/895``),
    else the last finished one; every stage is announced at 0 from the start, so the last listed says nothing."""
    stages = ordered(job)
    moving = [(n, st) for n, st in stages if st.get("done", 0) > 0 and not _finished(st)]
    finished = [(n, st) for n, st in stages if _finished(st)]
    name, st = (moving or finished[-1:] or [(None, {})])[0]
    return f"{name} {st['done']}/{st['total']}" if name else ""


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
