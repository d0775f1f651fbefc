"""The New benchmark page's checks, cached: planning reads every annotation file, so a page that replanned on
every click took seconds per widget change (and longer beside a running job). A plan is kept for as long as the
spec and the files it reads are unchanged."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from mitoviz.config import Settings
from mitoviz.errors import MitovizError
from mitoviz.files import mtime_ns

HOUR_S = 3600.0
CAPPED = " capped in "  # the planner's per-replicate note on a capped budget; grouped into one note here


@dataclass(frozen=True)
class Checked:
    """A planned spec and its estimate, or the error that stopped the plan."""

    plan: Any = None
    estimate: Any = None
    error: MitovizError | None = None


def data_stamp(sources: list[str], known: dict[str, Path | None]) -> tuple[int, ...]:
    """Changes when an annotation file (or folder) the spec names changes: a preset's found path, else the path."""
    paths = [known.get(s) or Path(s) for s in sources]
    return tuple(mtime_ns(p) for p in paths if p is not None)


Planner = Callable[[Any, Settings], tuple[Any, Any]]  # (spec, settings) → (plan, estimate); may raise MitovizError


@st.cache_resource(show_spinner="Checking the plan…", max_entries=16, ttl=600)
def _check(spec_json: str, stamp: tuple[object, ...], _spec: Any, _cfg: Settings, _planner: Planner) -> Checked:
    try:
        return Checked(*_planner(_spec, _cfg))
    except MitovizError as exc:
        return Checked(error=exc)


def check(spec: Any, cfg: Settings, known: dict[str, Path | None], planner: Planner) -> Checked:
    """``planner(spec, cfg)`` (plan and estimate an ExperimentSpec; the page passes it: planning sits above ui/),
    or why it cannot run; cached by the spec, the settings and the files it reads."""
    sources = [*spec.datasets, *spec.test_datasets]
    stamp = (repr(cfg), *data_stamp(sources, known))
    return _check(json.dumps(spec.to_dict(), sort_keys=True, default=str), stamp, spec, cfg, planner)


def capped_note(fits: list[Any]) -> str | None:
    """One note for every capped budget draw (instead of one line per budget, domain and replicate)."""
    where: dict[str, set[str]] = defaultdict(set)
    for fit in fits:
        if fit.capped:
            where[fit.budget.label].add("the pooled training set" if fit.train_domain == "all" else fit.train_domain)
    if not where:
        return None
    listed = "; ".join(f"{budget} in {', '.join(sorted(domains))}" for budget, domains in where.items())
    return (f"Budgets larger than a class in the training pool take the whole class and are marked as capped: "
            f"{listed}.")


def notes(plan: Any) -> list[str]:
    """The planner's notes for the page, capped budgets grouped into one."""
    lines = [w for w in plan.warnings if not (w.startswith("Budget ") and CAPPED in w)]
    capped = capped_note(plan.fits)
    return [*lines, capped] if capped else lines


def cost_rows(estimate: Any, duration: Callable[[float], str]) -> list[dict[str, Any]]:
    """The estimate part by part, the most expensive first: time, share of the whole, GPU memory per fit."""
    def memory(name: str) -> str:
        gb = estimate.memory_gb.get(name.removeprefix("train "))
        return "" if gb is None else f"{gb:.1f}"

    return [{"part": name, "time": duration(seconds), "share": seconds / max(estimate.seconds, 1e-9),
             "GPU memory per fit (GB)": memory(name)}
            for name, seconds in sorted(estimate.parts.items(), key=lambda kv: -kv[1])]


def cost_warning(estimate: Any, duration: Callable[[float], str]) -> str | None:
    """Where the time goes when a benchmark would take more than an hour here, and how to make it shorter."""
    if estimate.seconds <= HOUR_S:
        return None
    parts = sorted(estimate.parts.items(), key=lambda kv: -kv[1])
    top = ", ".join(f"{name} {duration(seconds)} ({seconds / estimate.seconds:.0%})" for name, seconds in parts[:3]
                    if seconds >= 0.01 * estimate.seconds)
    advice = ("the CPU-sized CNN instead of the published recipe, fewer trained methods or epochs, "
              if parts[0][0].startswith("train ") else "fewer encoders, ")
    return (f"**This benchmark would take {estimate.label} on this machine ({estimate.device}).** Where the time "
            f"goes: {top}. To make it shorter: {advice}fewer budgets or seeds, or a machine with a GPU.")
