"""Which domain axes a run's results hold: any categorical column can be one, none is assumed.

Results name the axis of every metrics row (``test_axis``: ``all`` for the experiment's own test
cells, else the column whose values split them) and of every domain protocol (``cross:<column>``,
``lodo:<column>``). Pages offer exactly the axes found there.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from mitoviz.report.names import ordered_axes


def facet_axes(table: pd.DataFrame, protocol: str | None = None) -> list[str]:
    """Axes the test results (of ``protocol``, when given) are split by: ``all`` first, then each axis."""
    if table.empty:
        return []
    rows = table if protocol is None else table[table["protocol"] == protocol]
    present = set(rows["test_axis"].astype(str))
    return (["all"] if "all" in present else []) + ordered_axes(present - {"all"})


def result_axes(table: pd.DataFrame) -> list[str]:
    """Domain axes the results split test cells by (``all`` left out)."""
    return [a for a in facet_axes(table) if a != "all"]


def protocol_axes(protocols: Iterable[str]) -> list[str]:
    """Axes of the domain protocols (``cross:scanner``, ``lodo:species`` → scanner, species)."""
    return ordered_axes(p.split(":", 1)[1] for p in protocols if ":" in p)


def present_axes(frame: pd.DataFrame, axes: Iterable[str]) -> list[str]:
    """The given axes that are columns of ``frame`` (cells or per-cell predictions), in order."""
    return [a for a in axes if a in frame.columns]
