"""Intervals and paired comparisons from a run's per-cell predictions, one chart (facet) at a time.

A *point* is (protocol, train domain, test axis, test domain, budget); a *facet* is what one chart shows:
one protocol, one training domain and one test axis, i.e. every budget and test domain of them.
:func:`facet_trust` runs :func:`mitoviz.evaluate.stats.bootstrap_metrics` once per point (seeds, then
each seed's test slides) for the methods tested there; that one call serves every method's interval,
every paired difference and the Holm-corrected matrix, all on the same redrawn seeds and slides.

Inputs per point, as the statistics want them: one row per (seed, test cell) that every compared method
predicted; methods whose seeds differ (a run still in progress) are bootstrapped apart and not compared.
:func:`precompute_facets` does every facet of a finished run and stores the tables in the run
(:data:`TABLES`); :func:`stored` gives them back while they still describe the run's fits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mitoviz.data.cells import ALL, EXTERNAL
from mitoviz.errors import SpecError
from mitoviz.evaluate import stats
from mitoviz.report.methods import labelled
from mitoviz.report.names import DATASET
from mitoviz.results import Run

POINT_KEYS = ["protocol", "train_domain", "test_axis", "test_domain", "budget", "metric"]
POINT_COLUMNS = [
    *POINT_KEYS,
    "label",
    "method",
    "estimate",
    "low",
    "high",
    "seed_sd",
    "n_seeds",
    "n_resamples",
    "n_cells",
    "n_slides",
]
#: ``seeds``: each method's value per seed on the rows it shares with the methods it is compared with.
SEED_COLUMNS = [*POINT_KEYS, "label", "seed", "value"]
PAIR_COLUMNS = [
    *POINT_KEYS,
    "a",
    "b",
    "difference",
    "low",
    "high",
    "p_value",
    "p_holm",
    "real",
    "excludes_zero",
    "comparisons",
]
TABLES = {"points": "trust_points", "seeds": "trust_seeds", "pairs": "trust_pairs"}
RANDOM_STATE = 0
ALPHA = 0.05


@dataclass(frozen=True)
class Trust:
    """Bootstrap results of some points: ``points`` (one row per method: estimate and interval), ``seeds``
    (each method's value per seed) and ``pairs`` (every ordered pair of methods compared at the point)."""

    points: pd.DataFrame
    seeds: pd.DataFrame
    pairs: pd.DataFrame

    @classmethod
    def empty(cls) -> Trust:
        return cls(
            pd.DataFrame(columns=POINT_COLUMNS),
            pd.DataFrame(columns=SEED_COLUMNS),
            pd.DataFrame(columns=PAIR_COLUMNS),
        )

    @classmethod
    def concat(cls, parts: Iterable[Trust]) -> Trust:
        parts, empty = list(parts), cls.empty()

        def joined(name: str) -> pd.DataFrame:
            frames = [getattr(p, name) for p in parts if len(getattr(p, name))]
            return pd.concat(frames, ignore_index=True) if frames else getattr(empty, name)

        return cls(*(joined(name) for name in TABLES))

    def where(self, **equal: object) -> Trust:
        """The rows whose key columns equal the given values (``metric="auroc", budget="8/class"``)."""

        def keep(frame: pd.DataFrame) -> pd.DataFrame:
            mask = np.ones(len(frame), dtype=bool)
            for column, value in equal.items():
                mask &= (frame[column] == value).to_numpy()
            return frame[mask].reset_index(drop=True)

        return Trust(keep(self.points), keep(self.seeds), keep(self.pairs))


@dataclass(frozen=True)
class CellInfo:
    """Per cell (indexed by the run's integer ``cell``): truth, slide code and the test-domain columns."""

    y: np.ndarray
    slide: np.ndarray
    external: np.ndarray
    columns: pd.DataFrame

    @classmethod
    def of(cls, cells: pd.DataFrame, positive: str) -> CellInfo:
        index = cells["cell"].to_numpy(dtype=np.int64) if "cell" in cells else np.arange(len(cells))
        n = int(index.max()) + 1 if len(index) else 0
        # A slide is named within its data set: two sets may both have a slide "001".
        slides = cells["slide"].astype(str)
        if DATASET in cells:
            slides = cells[DATASET].astype(str) + "\x1f" + slides
        y, slide, external = np.zeros(n, bool), np.full(n, -1, np.int64), np.zeros(n, bool)
        y[index] = (cells["label"] == positive).to_numpy()
        slide[index] = pd.factorize(slides)[0]
        if EXTERNAL in cells:
            external[index] = cells[EXTERNAL].fillna(False).to_numpy(dtype=bool)
        columns = cells.drop(columns=[c for c in ("cell", "label", EXTERNAL) if c in cells]).set_index(index)
        return cls(y, slide, external, columns.reindex(pd.RangeIndex(n)))

    def domain_mask(self, test_axis: str, test_domain: str) -> np.ndarray:
        """The cells a metrics row of (test axis, test domain) scores: the experiment's own test cells for
        ``all`` and for every axis but ``dataset``, whose rows include external test sets."""
        if test_axis == ALL:
            return ~self.external
        if test_axis not in self.columns:
            raise SpecError(
                f"The cells have no column {test_axis!r} to split test results by.",
                f"Use one of: {', '.join(self.columns.columns)}.",
            )
        match = (self.columns[test_axis].astype(str) == str(test_domain)).to_numpy()
        return match if test_axis == DATASET else match & ~self.external

    def domains(self, test_axis: str, tested: np.ndarray) -> list[str]:
        """The test domains of an axis among the ``tested`` cells, sorted."""
        if test_axis == ALL:
            return [ALL]
        scope = np.ones_like(self.external) if test_axis == DATASET else ~self.external
        values = self.columns[test_axis].astype(str).to_numpy()
        return sorted(set(values[tested & scope]))


def by_fit(predictions: pd.DataFrame, fit_ids: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each fit's (cells, probabilities), sorted by cell (one hash lookup; no sort when already in order, as
    the store writes them)."""
    ids = list(fit_ids)
    found = pc.index_in(pa.array(predictions["fit_id"]), value_set=pa.array(ids, type=pa.string()))
    position = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    keep = position >= 0
    position = position[keep]
    cell = predictions["cell"].to_numpy(dtype=np.int64)[keep]
    prob = predictions["prob"].to_numpy(dtype=np.float64)[keep]
    step = np.diff(position)
    if (step < 0).any() or ((step == 0) & (np.diff(cell) <= 0)).any():
        order = np.lexsort((cell, position))
        position, cell, prob = position[order], cell[order], prob[order]
    bounds = np.searchsorted(position, np.arange(len(ids) + 1))
    return {
        fid: (cell[bounds[i] : bounds[i + 1]], prob[bounds[i] : bounds[i + 1]]) for i, fid in enumerate(ids)
    }


def method_rows(fits: pd.DataFrame, preds: dict, mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """One method's rows at a point, sorted by (seed, cell): seed, cell, probability."""
    parts = []
    for seed, fit_id in sorted(zip(fits["seed"], fits["fit_id"], strict=True)):
        cell, prob = preds[fit_id]
        inside = mask[cell]
        parts.append((np.full(int(inside.sum()), seed), cell[inside], prob[inside]))
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))


def shared_rows(
    rows: dict[str, tuple[np.ndarray, ...]],
) -> list[tuple[list[str], np.ndarray, np.ndarray, np.ndarray]]:
    """Methods that share their seeds, with the (seed, cell) rows all of them predicted and their probs
    ``[n_methods, n_rows]``: (labels, seed, cell, probs)."""
    by_seeds: dict[tuple, list[str]] = {}
    for label, (seed, _, _) in rows.items():
        if seed.size:
            by_seeds.setdefault(tuple(np.unique(seed).tolist()), []).append(label)
    out = []
    for seeds, labels in by_seeds.items():
        keys = {}
        for label in labels:
            seed, cell, _ = rows[label]
            keys[label] = np.searchsorted(seeds, seed).astype(np.int64) * (1 << 32) + cell
        common = keys[labels[0]]
        for label in labels[1:]:
            if not np.array_equal(common, keys[label]):  # usually every method predicted the same cells
                common = np.intersect1d(common, keys[label], assume_unique=True)
        if not common.size:
            continue
        probs = np.stack(
            [
                rows[label][2]
                if keys[label].size == common.size
                else rows[label][2][np.searchsorted(keys[label], common)]
                for label in labels
            ]
        )
        out.append((labels, np.asarray(seeds)[common >> 32], common & ((1 << 32) - 1), probs))
    return out


def _point_tables(
    boot: stats.Bootstrap,
    key: dict[str, object],
    methods: dict[str, str],
    n_cells: float,
    n_slides: float,
    alpha: float,
) -> tuple[list[dict], list[dict], list[dict]]:
    points, seeds, pairs = [], [], []
    for metric in boot.metrics:
        at = {**key, "metric": metric}
        for m, label in enumerate(boot.methods):
            interval = boot.interval(metric, label)
            points.append(
                {
                    **at,
                    "label": label,
                    "method": methods[label],
                    **interval._asdict(),
                    "n_cells": n_cells,
                    "n_slides": n_slides,
                }
            )
            k = boot.metrics.index(metric)
            seeds += [
                {**at, "label": label, "seed": s, "value": v}
                for s, v in zip(boot.seeds.tolist(), boot.per_seed[:, m, k].tolist(), strict=True)
            ]
        if len(boot.methods) < 2:
            continue
        matrix = boot.matrix(metric, alpha)
        n = len(boot.methods)
        for i in range(n):
            for j in range(n):
                if i != j:
                    low, high = float(matrix.low[i, j]), float(matrix.high[i, j])
                    pairs.append(
                        {
                            **at,
                            "a": boot.methods[i],
                            "b": boot.methods[j],
                            "difference": float(matrix.difference[i, j]),
                            "low": low,
                            "high": high,
                            "p_value": float(matrix.p_value[i, j]),
                            "p_holm": float(matrix.p_holm[i, j]),
                            "real": bool(matrix.real[i, j]),
                            "excludes_zero": bool(low > 0 or high < 0),
                            "comparisons": n * (n - 1) // 2,
                        }
                    )
    return points, seeds, pairs


def facet_trust(
    fits: pd.DataFrame,
    predictions: pd.DataFrame,
    info: CellInfo,
    metrics: Sequence[str],
    protocol: str,
    train_domain: str,
    test_axis: str = ALL,
    *,
    budgets: Sequence[str] | None = None,
    test_domains: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    confidence: float = 0.95,
    alpha: float = ALPHA,
    n_resamples: int | None = None,
    random_state: int | None = RANDOM_STATE,
) -> Trust:
    """Bootstrap every point of one facet for ``metrics`` (those :mod:`~mitoviz.evaluate.stats` can).

    ``fits``: the run's fits (a ``label`` column is added when missing); ``predictions``: at least those of
    the facet's fits. ``budgets``, ``test_domains``, ``labels`` restrict what is computed. Resamples default
    to :func:`stats.resamples_for` the facet's methods, so the Holm-corrected matrix can reach ``alpha``.
    """
    unknown = [m for m in metrics if m not in stats.METRIC_RANGE]
    if unknown:
        raise SpecError(f"No bootstrap interval for {unknown}.", f"Use some of {list(stats.METRIC_RANGE)}.")
    fits = labelled(fits)
    facet = fits[(fits["protocol"] == protocol) & (fits["train_domain"] == train_domain)]
    if labels is not None:
        facet = facet[facet["label"].isin(list(labels))]
    if facet.empty or not metrics:
        return Trust.empty()
    n_resamples = n_resamples or stats.resamples_for(max(2, facet["label"].nunique()), alpha)
    preds = by_fit(predictions, facet["fit_id"].tolist())
    tested = np.zeros(len(info.y), bool)
    for cell, _ in preds.values():
        tested[cell] = True
    methods = dict(zip(facet["label"], facet["method"].astype(str), strict=False))
    tables: tuple[list, list, list] = ([], [], [])
    options = {"confidence": confidence, "n_resamples": n_resamples, "random_state": random_state}
    for test_domain in test_domains if test_domains is not None else info.domains(test_axis, tested):
        mask = info.domain_mask(test_axis, test_domain)
        for budget, at_budget in facet.groupby("budget", sort=False):
            if budgets is not None and budget not in budgets:
                continue
            rows = {label: method_rows(group, preds, mask) for label, group in at_budget.groupby("label")}
            key = {
                "protocol": protocol,
                "train_domain": train_domain,
                "test_axis": test_axis,
                "test_domain": test_domain,
                "budget": budget,
            }
            for names, seed, cell, probs in shared_rows(rows):
                boot = stats.bootstrap_metrics(
                    info.y[cell], probs, info.slide[cell], seed, names, tuple(metrics), **options
                )
                n_slides = np.mean([np.unique(info.slide[cell][seed == s]).size for s in np.unique(seed)])
                found = _point_tables(
                    boot, key, methods, cell.size / np.unique(seed).size, float(n_slides), alpha
                )
                for name in (
                    names
                ):  # a method that predicted more cells than all share: its interval from all of them
                    own_seed, own_cell, own_prob = rows[name]
                    if own_cell.size != cell.size:
                        alone = stats.bootstrap_metrics(
                            info.y[own_cell],
                            own_prob,
                            info.slide[own_cell],
                            own_seed,
                            [name],
                            tuple(metrics),
                            **options,
                        )
                        for point in found[0]:
                            if point["label"] == name:
                                point.update(
                                    alone.interval(point["metric"], name)._asdict(),
                                    n_cells=own_cell.size / np.unique(own_seed).size,
                                )
                for table, new in zip(tables, found, strict=True):
                    table.extend(new)
    return Trust(
        pd.DataFrame(tables[0], columns=POINT_COLUMNS),
        pd.DataFrame(tables[1], columns=SEED_COLUMNS),
        pd.DataFrame(tables[2], columns=PAIR_COLUMNS),
    )


def fits_key(run: Run, fits: pd.DataFrame) -> str:
    """A fingerprint of the fits a table was computed from and of their prediction files (name, size, time):
    stored tables go stale when fits are added, re-computed or moved aside, or arrive in a bundle."""
    files = sorted((run.root / "predictions").glob("*.parquet"))
    stamps = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
    text = "\n".join([*sorted(fits["fit_id"].astype(str)), *stamps])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def facets(
    metrics: pd.DataFrame, fits: pd.DataFrame, test_axes: Iterable[str] | None = None
) -> list[tuple[str, str, str]]:
    """Every (protocol, train domain, test axis) in the run's metrics rows (``test_axes`` restricts them)."""
    rows = metrics.merge(fits[["fit_id", "protocol", "train_domain"]], on="fit_id")
    found = rows[["protocol", "train_domain", "test_axis"]].drop_duplicates()
    if test_axes is not None:
        found = found[found["test_axis"].isin(list(test_axes))]
    return sorted(map(tuple, found.astype(str).to_numpy().tolist()), key=lambda f: (f[0] != "pooled", f))


def precompute_facets(
    run: Run,
    metrics: Sequence[str] = stats.INTERVAL_METRICS,
    test_axes: Iterable[str] | None = (ALL,),
    confidence: float = 0.95,
) -> Trust:
    """Bootstrap the facets of ``run`` whose test axis is in ``test_axes`` (default: the experiment's own test
    cells, what the curves page opens on; None: every axis) and store the tables in the run
    (:func:`mitoviz.report.precompute.precompute` adds the domain page's opening views).

    Meant for the end of a run, so that the result pages open large runs without waiting; they read the tables
    back with :func:`stored` as long as the run's fits are unchanged (a facet not stored is computed when
    shown). Reads one protocol and training domain's predictions at a time. AUROC costs most (its slide-pair
    form grows with the square of the test slides).
    """
    fits = labelled(run.fits())
    if fits.empty:
        return Trust.empty()
    info = CellInfo.of(run.cells(), run.manifest().get("positive_label", "mitotic figure"))
    found, wanted = [], facets(run.metrics(), fits, test_axes)
    for protocol, train_domain in dict.fromkeys((p, t) for p, t, _ in wanted):
        ids = fits.loc[(fits["protocol"] == protocol) & (fits["train_domain"] == train_domain), "fit_id"]
        predictions = run.predictions(fit_ids=ids.tolist())
        found += [
            facet_trust(fits, predictions, info, metrics, protocol, train_domain, axis, confidence=confidence)
            for p, t, axis in wanted
            if (p, t) == (protocol, train_domain)
        ]
    trust = Trust.concat(found)
    key = fits_key(run, fits)
    for name, table in TABLES.items():
        run.write_table(table, getattr(trust, name).assign(fits_key=key))
    return trust


def stored(run: Run, fits: pd.DataFrame) -> Trust | None:
    """The tables :func:`precompute_facets` stored, or None when there are none or they predate some of ``fits``."""
    if not all((run.root / f"{table}.parquet").is_file() for table in TABLES.values()):
        return None
    frames = {name: run.table(table) for name, table in TABLES.items()}
    points = frames["points"]
    if points.empty or "fits_key" not in points or (points["fits_key"] != fits_key(run, fits)).any():
        return None
    return Trust(*(frames[name].drop(columns="fits_key", errors="ignore") for name in TABLES))
