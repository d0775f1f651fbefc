"""Tables for the embedding maps: points, their colours, a brushed selection and its stratified pages.

A map belongs to whatever produced its features: an encoder (``uni``, ``uni@12``) or a trained method
that stores its own (``uni+lora``, ``e2e-resnet18``); its ``encoder`` column names that method as the fits
do, so any name present is handled alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from mitoviz.evaluate.stats import agreement_levels
from mitoviz.report.names import axis_name

NOT_TESTED = "not in the test set"
VERDICTS = ("correct", "wrong", NOT_TESTED)


def map_colours(axes: Sequence[str]) -> dict[str, str]:
    """What an embedding map can be coloured by (column → display name): each axis, then the cell's facts."""
    return {
        **{a: axis_name(a) for a in axes},
        "truth": "label",
        "correctness": "correct under a budget",
        "agreement_level": "rater agreement",
    }


def map_points(maps: pd.DataFrame, cells: pd.DataFrame, axes: Sequence[str]) -> pd.DataFrame:
    """Map coordinates joined to each cell's id, truth, domain axes, rater agreement (share and level), slide."""
    columns = ["cell", "cell_id", "label", *[a for a in axes if a in cells.columns], "agreement", "slide"]
    facts = cells.reindex(columns=columns).rename(columns={"label": "truth"})
    facts["agreement_level"] = agreement_levels(facts["agreement"].to_numpy(dtype=float))
    return maps.merge(facts, on="cell")


def map_fits(fits: pd.DataFrame, methods: Iterable[str], budget: str, seed: int,
             classifier: str | None = None) -> pd.DataFrame:
    """The pooled fit behind each map's correctness: one per method at ``budget`` and ``seed``.

    A method with several probe classifiers uses ``classifier``; a trained method has one (its head).
    """
    chosen = fits[(fits["protocol"] == "pooled") & fits["method"].isin(list(methods)) & (fits["budget"] == budget)
                  & (fits["seed"] == seed)]
    if classifier is not None:
        several = chosen.groupby("method")["classifier"].transform("nunique") > 1
        chosen = chosen[~several | (chosen["classifier"] == classifier)]
    return chosen.drop_duplicates("method")


def map_correctness(points: pd.DataFrame, per_cell: pd.DataFrame) -> pd.DataFrame:
    """Points with ``correctness`` (correct / wrong / not in the test set) from each map's own method."""
    verdict = per_cell.assign(correctness=np.where(per_cell["correct"], "correct", "wrong"))
    verdict = verdict[["cell", "method", "correctness"]].drop_duplicates(["cell", "method"])
    out = points.merge(verdict.rename(columns={"method": "encoder"}), on=["cell", "encoder"], how="left")
    out["correctness"] = out["correctness"].fillna(NOT_TESTED)
    return out


def map_sample(points: pd.DataFrame, encoder: str, limit: int) -> pd.DataFrame:
    """One map's points, a fixed random sample of at most ``limit``."""
    frame = points[points["encoder"] == encoder]
    return frame.sample(limit, random_state=0) if len(frame) > limit else frame


def in_box(points: pd.DataFrame, u: tuple[float, float], v: tuple[float, float]) -> pd.DataFrame:
    """Points inside a rectangle selected on a map."""
    return points[points["u"].between(*u) & points["v"].between(*v)]


def cell_rows(cells: pd.DataFrame, ids: Iterable[int]) -> pd.DataFrame:
    """CellTable rows of the given cell indices, in that order."""
    return cells.set_index("cell").loc[list(ids)].reset_index()


def stratified_order(selected: pd.DataFrame, by: Sequence[str], seed: int = 0) -> pd.DataFrame:
    """The selection reordered so that every page of it is a stratified sample over ``by`` (class × domain).

    Within each stratum the cells are shuffled (fixed ``seed``); one cell of every stratum comes first, then
    the rest interleave in proportion to the strata's sizes (the k-th cell of a stratum of n sits at k/n).
    A page of at least as many cells as strata therefore shows every class and domain value present, and
    pages are consecutive slices of one order: together complete, never overlapping.
    """
    if selected.empty:
        return selected
    rng = np.random.default_rng(seed)
    shuffled = selected.iloc[rng.permutation(len(selected))]
    strata = shuffled[list(by)].astype(str).apply(tuple, axis=1) if by else pd.Series(0, index=shuffled.index)
    rank = strata.groupby(strata, sort=False).cumcount().to_numpy()
    size = strata.map(strata.value_counts()).to_numpy()
    position = np.where(rank == 0, -1.0, rank / size)
    return shuffled.iloc[np.lexsort((rng.random(len(shuffled)), position))]


def page_of(ordered: pd.DataFrame, page: int, size: int, group: str | None = None) -> pd.DataFrame:
    """Page ``page`` (1-based) of a :func:`stratified_order`, grouped by ``group`` (the class) for display;
    within a group the stratified order stays, so domains alternate instead of running in blocks."""
    rows = ordered.iloc[(page - 1) * size : page * size]
    return rows.sort_values(group, kind="stable") if group else rows


def map_order(encoders: Iterable[str], kinds: dict[str, str]) -> list[str]:
    """Maps in the order the page offers them: frozen encoders first, then trained methods' own features."""
    return sorted(encoders, key=lambda e: (kinds.get(e, "probe") != "probe", e))


def n_pages(n: int, size: int) -> int:
    """Pages of ``size`` needed for ``n`` items (at least one)."""
    return max(1, -(-n // size))


def _counts(values: pd.Series) -> str:
    counts = values.fillna("unknown").astype(str).value_counts()
    return " · ".join(f"{name} {n:,}" for name, n in sorted(counts.items()))


def selection_summary(selected: pd.DataFrame, axes: Sequence[str], page: int, size: int, by: Sequence[str]) -> str:
    """``312 cells selected: imposter 192 · mitotic figure 120; scanner: A 100 · B 112 · C 100; showing 1–24
    of 312 (page 1 of 13), stratified over label × scanner``."""
    n = len(selected)
    parts = [f"{n:,} cells selected: {_counts(selected['truth'])}"]
    parts += [f"{axis_name(a)}: {_counts(selected[a])}" for a in axes if a in selected.columns]
    start, stop = (page - 1) * size + 1, min(page * size, n)
    over = " × ".join("label" if c == "truth" else axis_name(c) for c in by)
    shown = f"showing {start:,}–{stop:,} of {n:,} (page {page} of {n_pages(n, size)})"
    return "; ".join(parts) + f"; {shown}" + (f", stratified over {over}" if over else "")
