"""Intervals for the domain page: each train × test matrix cell, and each method's in- vs out-of-domain drop.

A matrix cell (method, train domain, test domain) is a point of :mod:`mitoviz.report.trust`. The cells of
one test domain are bootstrapped in one call, every (method, train domain) a compared "method", so they
share the redrawn seeds and slides. A drop averages cells of different test domains: their calls use the
same ``random_state``, resamples and seeds, so by the RNG stream of :mod:`mitoviz.evaluate.stats` (seed
counts are drawn first) replicate b redraws the same seeds in every call, while slides are redrawn within
each test domain: a bootstrap stratified by domain (a slide lies in one domain). Replicate b of the drop is
mean(in-domain cells of b) − mean(out-of-domain cells of b).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from mitoviz.data.cells import ALL
from mitoviz.evaluate import stats
from mitoviz.report.domains import default_test_axis, in_domain, own_datasets
from mitoviz.report.methods import budget_order, labelled
from mitoviz.report.names import ordered_axes
from mitoviz.report.trust import (
    RANDOM_STATE,
    CellInfo,
    by_fit,
    facets,
    fits_key,
    method_rows,
    shared_rows,
)
from mitoviz.results import Run

SEP = "\x1f"
CELL_COLUMNS = ["label", "train_domain", "test_domain", "estimate", "low", "high", "seed_sd", "n_seeds"]
DROP_COLUMNS = [
    "label",
    "in_domain",
    "in_low",
    "in_high",
    "out_of_domain",
    "out_low",
    "out_high",
    "drop",
    "low",
    "high",
    "n_seeds",
]
DOMAIN_TABLES = {"cells": "trust_domain_cells", "drops": "trust_domain_drops"}
STATEMENT = (
    "Intervals: {level:g} % hierarchical bootstrap ({n:,} resamples redrawing seeds, then test slides); "
    "a drop redraws the same seeds for all its cells and the slides within each test domain."
)


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    if not np.isfinite(values).any():
        return np.nan, np.nan
    low, high = np.nanpercentile(values, [50 * (1 - confidence), 50 * (1 + confidence)])
    return float(low), float(high)


def _nanmean(values: np.ndarray) -> float:
    ok = np.isfinite(values)
    return float(values[ok].mean()) if ok.any() else np.nan


def _mean(stack: list[np.ndarray]) -> np.ndarray:
    """Mean over cells (axis 0) of the finite values; NaN where no cell is defined."""
    values = np.stack(stack)
    ok = np.isfinite(values)
    return np.divide(
        np.where(ok, values, 0).sum(0), ok.sum(0), out=np.full(values.shape[1:], np.nan), where=ok.any(0)
    )


def domain_trust(
    fits: pd.DataFrame,
    predictions: pd.DataFrame,
    info: CellInfo,
    metric: str | Sequence[str],
    protocol: str,
    test_axis: str,
    budget: str,
    labels: Sequence[str] | None = None,
    own: Collection[str] = (),
    *,
    confidence: float = 0.95,
    n_resamples: int = stats.N_RESAMPLES,
    random_state: int | None = RANDOM_STATE,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cells, drops): each matrix cell's estimate and interval, and each method's drop with intervals.

    ``metric``: one metric, or several (one bootstrap serves them all; the tables then hold a ``metric``
    column). ``own``: the experiment's own data sets (for the ``dataset`` axis: see
    :func:`report.domains.in_domain`). A drop whose cells were not tested on the same seeds (a run in
    progress) gets no interval.
    """
    metrics = (metric,) if isinstance(metric, str) else tuple(metric)
    fits = labelled(fits)
    at = fits[(fits["protocol"] == protocol) & (fits["budget"] == budget)]
    if labels is not None:
        at = at[at["label"].isin(list(labels))]
    if at.empty:
        return pd.DataFrame(columns=CELL_COLUMNS), pd.DataFrame(columns=DROP_COLUMNS)
    preds = by_fit(predictions, at["fit_id"].tolist())
    tested = np.zeros(len(info.y), bool)
    for cell, _ in preds.values():
        tested[cell] = True
    cells, found = [], {}
    for test_domain in info.domains(test_axis, tested):
        mask = info.domain_mask(test_axis, test_domain)
        rows = {
            f"{label}{SEP}{train}": method_rows(group, preds, mask)
            for (label, train), group in at.groupby(["label", "train_domain"])
        }
        for names, seed, cell, probs in shared_rows(rows):
            boot = stats.bootstrap_metrics(
                info.y[cell],
                probs,
                info.slide[cell],
                seed,
                names,
                metrics,
                confidence=confidence,
                n_resamples=n_resamples,
                random_state=random_state,
            )
            for (m, name), (k, each) in itertools.product(enumerate(names), enumerate(metrics)):
                label, train = name.split(SEP)
                interval = boot.interval(each, name)
                cells.append(
                    {
                        "metric": each,
                        "label": label,
                        "train_domain": train,
                        "test_domain": test_domain,
                        **{c: getattr(interval, c) for c in CELL_COLUMNS[3:]},
                    }
                )
                found[each, label, train, test_domain] = (
                    boot.seeds,
                    boot.per_seed[:, m, k],
                    boot.replicates[:, m, k],
                )
    table = pd.DataFrame(cells, columns=["metric", *CELL_COLUMNS])
    drops = [
        _drops(part, found, each, protocol, test_axis, own, confidence).assign(metric=each)
        for each, part in table.groupby("metric", sort=False)
    ]
    drops = pd.concat(drops, ignore_index=True) if drops else pd.DataFrame(columns=[*DROP_COLUMNS, "metric"])
    if isinstance(metric, str):
        return table.drop(columns="metric"), drops.drop(columns="metric").reindex(columns=DROP_COLUMNS)
    return table, drops


def _drops(
    table: pd.DataFrame,
    found: dict,
    metric: str,
    protocol: str,
    test_axis: str,
    own: Collection[str],
    confidence: float,
) -> pd.DataFrame:
    """Each method's in-domain, out-of-domain and drop estimates and intervals from its cells' bootstraps."""
    flags = in_domain(protocol, test_axis, table["train_domain"], table["test_domain"], own)
    rows = []
    for label, part in table.assign(flag=flags).dropna(subset=["flag"]).groupby("label", sort=True):
        keys = {
            side: [
                (metric, label, t, d)
                for t, d, f in zip(part["train_domain"], part["test_domain"], part["flag"], strict=True)
                if bool(f) == (side == "in")
            ]
            for side in ("in", "out")
        }
        if (
            not keys["in"]
            or not keys["out"]
            or len({found[k][0].tobytes() for k in keys["in"] + keys["out"]}) > 1
        ):
            continue  # one side missing, or cells tested on different seeds (a run in progress): no interval
        per_seed = {side: _mean([found[k][1] for k in ks]) for side, ks in keys.items()}
        reps = {side: _mean([found[k][2] for k in ks]) for side, ks in keys.items()}
        row = {"label": label, "n_seeds": per_seed["in"].size}
        for side, name in (("in", "in_domain"), ("out", "out_of_domain")):
            row[name] = _nanmean(per_seed[side])
            row[f"{side}_low"], row[f"{side}_high"] = _percentiles(reps[side], confidence)
        row["drop"] = _nanmean(per_seed["in"] - per_seed["out"])
        row["low"], row["high"] = _percentiles(reps["in"] - reps["out"], confidence)
        rows.append(row)
    return pd.DataFrame(rows, columns=DROP_COLUMNS).sort_values("drop").reset_index(drop=True)


def precompute_domains(
    run: Run, info: CellInfo, metrics: Sequence[str] = stats.INTERVAL_METRICS, confidence: float = 0.95
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Store the domain page's opening view of every protocol (the test axis and the largest budget it opens
    on, every method) in the run: :data:`DOMAIN_TABLES`, read back by :func:`stored_domains`. Other budgets
    are computed when shown (every budget would cost as many times more at the end of the run)."""
    fits = labelled(run.fits())
    axes: dict[str, list[str]] = {}
    for protocol, _, axis in facets(run.metrics(), fits):
        if axis != ALL:
            axes.setdefault(protocol, []).append(axis)
    own, parts = own_datasets(run.cells()), []
    for protocol, found in axes.items():
        axis = default_test_axis(protocol, ordered_axes(found))
        at = fits[fits["protocol"] == protocol]
        predictions = run.predictions(fit_ids=at["fit_id"].tolist())
        for budget in budget_order(at)[-1:]:
            cells, drops = domain_trust(
                fits, predictions, info, metrics, protocol, axis, budget, None, own, confidence=confidence
            )
            key = {"protocol": protocol, "test_axis": axis, "budget": budget}
            parts.append((cells.assign(**key), drops.assign(**key)))
    tables = [
        pd.concat([p[i] for p in parts], ignore_index=True) if parts else pd.DataFrame() for i in (0, 1)
    ]
    for table, name in zip(tables, DOMAIN_TABLES.values(), strict=True):
        run.write_table(name, table.assign(fits_key=fits_key(run, fits)))
    return tables[0], tables[1]


def stored_domains(run: Run, fits: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The tables :func:`precompute_domains` stored, or None when absent or older than some of ``fits``."""
    if not all((run.root / f"{name}.parquet").is_file() for name in DOMAIN_TABLES.values()):
        return None
    cells, drops = (run.table(name) for name in DOMAIN_TABLES.values())
    if cells.empty or "fits_key" not in cells or (cells["fits_key"] != fits_key(run, fits)).any():
        return None
    return cells.drop(columns="fits_key"), drops.drop(columns="fits_key", errors="ignore")
