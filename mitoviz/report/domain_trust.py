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

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from mitoviz.evaluate import stats
from mitoviz.report.domains import in_domain
from mitoviz.report.trust import RANDOM_STATE, CellInfo, by_fit, labelled, method_rows, shared_rows

SEP = "\x1f"
CELL_COLUMNS = ["label", "train_domain", "test_domain", "estimate", "low", "high", "seed_sd", "n_seeds"]
DROP_COLUMNS = ["label", "in_domain", "in_low", "in_high", "out_of_domain", "out_low", "out_high", "drop", "low",
                "high", "n_seeds"]
STATEMENT = ("Intervals: {level:g} % hierarchical bootstrap ({n:,} resamples redrawing seeds, then test slides); "
             "a drop redraws the same seeds for all its cells and the slides within each test domain.")


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
    return np.divide(np.where(ok, values, 0).sum(0), ok.sum(0), out=np.full(values.shape[1:], np.nan),
                     where=ok.any(0))


def domain_trust(
    fits: pd.DataFrame, predictions: pd.DataFrame, info: CellInfo, metric: str, protocol: str, test_axis: str,
    budget: str, labels: Sequence[str] | None = None, own: Collection[str] = (), *, confidence: float = 0.95,
    n_resamples: int = stats.N_RESAMPLES, random_state: int | None = RANDOM_STATE,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cells, drops): each matrix cell's estimate and interval, and each method's drop with intervals.

    ``own``: the experiment's own data sets (for the ``dataset`` axis: see :func:`report.domains.in_domain`).
    A drop whose cells were not tested on the same seeds (a run in progress) gets no interval.
    """
    fits = labelled(fits)
    at = fits[(fits["protocol"] == protocol) & (fits["budget"] == budget)]
    if labels is not None:
        at = at[at["label"].isin(list(labels))]
    empty = pd.DataFrame(columns=CELL_COLUMNS), pd.DataFrame(columns=DROP_COLUMNS)
    if at.empty:
        return empty
    preds = by_fit(predictions, at["fit_id"].tolist())
    tested = np.zeros(len(info.y), bool)
    for cell, _ in preds.values():
        tested[cell] = True
    cells, found = [], {}
    for test_domain in info.domains(test_axis, tested):
        mask = info.domain_mask(test_axis, test_domain)
        rows = {f"{label}{SEP}{train}": method_rows(group, preds, mask)
                for (label, train), group in at.groupby(["label", "train_domain"])}
        for names, seed, cell, probs in shared_rows(rows):
            boot = stats.bootstrap_metrics(info.y[cell], probs, info.slide[cell], seed, names, (metric,),
                                           confidence=confidence, n_resamples=n_resamples,
                                           random_state=random_state)
            for m, name in enumerate(names):
                label, train = name.split(SEP)
                interval = boot.interval(metric, name)
                cells.append({"label": label, "train_domain": train, "test_domain": test_domain,
                              **{k: getattr(interval, k) for k in CELL_COLUMNS[3:]}})
                found[label, train, test_domain] = (boot.seeds, boot.per_seed[:, m, 0], boot.replicates[:, m, 0])
    table = pd.DataFrame(cells, columns=CELL_COLUMNS)
    return table, _drops(table, found, protocol, test_axis, own, confidence)


def _drops(table: pd.DataFrame, found: dict, protocol: str, test_axis: str, own: Collection[str],
           confidence: float) -> pd.DataFrame:
    """Each method's in-domain, out-of-domain and drop estimates and intervals from its cells' bootstraps."""
    flags = in_domain(protocol, test_axis, table["train_domain"], table["test_domain"], own)
    rows = []
    for label, part in table.assign(flag=flags).dropna(subset=["flag"]).groupby("label", sort=True):
        keys = {side: [(label, t, d) for t, d, f in zip(part["train_domain"], part["test_domain"], part["flag"],
                                                          strict=True) if bool(f) == (side == "in")]
                for side in ("in", "out")}
        if not keys["in"] or not keys["out"] or len({found[k][0].tobytes() for k in keys["in"] + keys["out"]}) > 1:
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
