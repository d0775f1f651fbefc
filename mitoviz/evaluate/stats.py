"""Statistics for the verdicts: intervals, paired comparisons, label efficiency, errors by rater agreement.

Pure numpy/scipy on arrays. Inputs: a run's predictions joined to fits and cells, filtered to one point
(protocol, train domain, budget, test domain), one row per (seed, test cell): ``y`` 0/1 truth
(``cells.label == positive``); ``probs`` P(positive) ``[n_methods, n_rows]`` (the predictions pivoted on
(seed, cell): row i is the same seed and cell in every method) or ``[n_rows]``; ``slide``; ``seed``.

**Hierarchical bootstrap** (Saravanan, Berman & Sober 2020, NBDT 3(5), arXiv:2007.07797): a replicate
redraws the seeds with replacement, then each drawn seed's test slides with replacement (a slide brings
all its cells: cells of one slide are not independent), computes the metric on each drawn seed's
predictions of the redrawn cells and averages over the drawn seeds. Seeds bring training randomness
(budget draw, split, initialisation), which a slide bootstrap alone misses at small budgets; slides bring
test-set variation, which a t-interval over seeds misses when every seed tests the same slides (where
each seed tests its own slides the interval errs on the wide side). Percentile intervals never leave the
metric's range (a t-interval over 5 seeds does). A slide redraw is a weight per slide: the threshold
metrics come from weighted slide confusion counts, AUROC from ``w' A w`` with ``A[l, j]`` = pairs
(positive of slide j, negative of slide l) ranked right, ties ½: the Mann-Whitney AUROC of the redrawn cells.

RNG stream (deterministic given ``random_state``): ``rng = default_rng(random_state)``; seed counts
``rng.multinomial(S, [1/S]*S, size=B)`` (all ones without seed resampling); then for each seed in
sorted order, ``rng.integers(0, n_slides, size=(k, n_slides))`` for its ``k`` draws in replicate order.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import sparse

from mitoviz.errors import SpecError
from mitoviz.evaluate.decision import THRESHOLD, predicted_positive

INTERVAL_METRICS: tuple[str, ...] = ("balanced_accuracy", "auroc", "f1", "accuracy", "kappa")
METRIC_RANGE = {"balanced_accuracy": (0.0, 1.0), "auroc": (0.0, 1.0), "f1": (0.0, 1.0),
                "accuracy": (0.0, 1.0), "kappa": (-1.0, 1.0)}
N_RESAMPLES = 1000
Numbers = np.ndarray | Sequence[float]
#: AUROC by the slide-pair quadratic form while slides² <= this × cells (else cell by cell).
PAIR_FORM_LIMIT = 256

INTERVAL_STATEMENT = ("Points: mean over seeds; bars: {level:g} % hierarchical bootstrap intervals ({n:,} "
                      "resamples redrawing seeds, then each seed's test slides), covering both training "
                      "randomness and slide-to-slide variation.")
PAIRED_STATEMENT = ("Differences are taken per seed on the same test cells and bootstrapped with the same "
                    "redrawn seeds and slides for both methods; an interval excluding 0 marks a difference "
                    "unlikely to be chance.")
CORRECTION_STATEMENT = ("Marked differences stay significant at {alpha:g} after Holm's correction for the "
                        "{m} pairwise comparisons at this budget (two-sided bootstrap p-values); intervals "
                        "are per comparison ({level:g} %).")
EFFICIENCY_STATEMENT = ("Labels needed: where the curve first reaches {pct:g} % of the target score, "
                        "interpolated on the log axis between budgets, never extrapolated; area: the mean "
                        "score over the log label axis (area under the curve / its log range).")
AGREEMENT_STATEMENT = ("Error rate by rater agreement (all agree: every rater voted the consensus; majority: "
                       "more than two thirds did; split: two thirds or fewer), mean over seeds with "
                       "{level:g} % hierarchical bootstrap intervals over seeds and slides.")


def _check(y: np.ndarray, probs: np.ndarray, slide: np.ndarray, seed: np.ndarray, confidence: float,
           n_resamples: int) -> tuple[np.ndarray, ...]:
    if not 0 < confidence < 1 or n_resamples < 1:
        raise SpecError(f"Confidence {confidence} must lie in (0, 1) and resamples {n_resamples} be >= 1.",
                        "Use e.g. confidence=0.95, n_resamples=1000.")
    y, p, slide, seed = (np.asarray(v) for v in (y, np.asarray(probs, dtype=np.float64), slide, seed))
    p = p[None, :] if p.ndim == 1 else p
    n = y.shape[0] if y.ndim == 1 else -1
    if n <= 0 or p.ndim != 2 or p.shape[1] != n or slide.shape != (n,) or seed.shape != (n,):
        raise SpecError(f"Rows differ: y {y.shape}, probs {p.shape}, slide {slide.shape}, seed {seed.shape}",
                        "Pass one row per (seed, test cell): y, slide and seed [n], probs [n_methods, n].")
    if not np.isin(y, (0, 1)).all():
        raise SpecError("Labels must be 0/1 (1 = positive class).", "Map the class names to 0/1 first.")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise SpecError("Probabilities must be finite and within [0, 1].", "Pass P(positive), not logits.")
    return y.astype(bool), p, slide, seed


def _names(methods: Sequence[str] | None, n: int) -> tuple[str, ...]:
    names = tuple(methods) if methods is not None else tuple(str(i) for i in range(n))
    if len(names) != n:
        raise SpecError(f"{len(names)} method names for {n} methods' rows.", "Name each method once.")
    return names


def _seed_groups(slide: np.ndarray, seed: np.ndarray) -> tuple[np.ndarray, list, list]:
    """Seeds (sorted), each seed's row indices, and the rows' slide codes 0..n_slides-1 within the seed."""
    seeds, code = np.unique(seed, return_inverse=True)
    rows = [np.flatnonzero(code == s) for s in range(len(seeds))]
    return seeds, rows, [np.unique(slide[r], return_inverse=True)[1] for r in rows]


def _slide_totals(code: np.ndarray, per_row: np.ndarray) -> np.ndarray:
    """Sum the rows' statistics ``[n, ...]`` per slide: ``[n_slides, ...]``."""
    onehot = sparse.csr_matrix((np.ones(code.size), (code, np.arange(code.size))))
    return np.asarray(onehot @ per_row.reshape(code.size, -1)).reshape(-1, *per_row.shape[1:])


def _resample(n_slides: Sequence[int], evaluate: Callable[[int, np.ndarray], np.ndarray], n_resamples: int,
              random_state: int | None, resample_seeds: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed values on the full test set ``[S, ...]`` and hierarchical replicates ``[B, ...]``.

    ``evaluate(s, w)`` returns the statistic of seed ``s`` for slide weights ``w [k, n_slides[s]]``.
    A replicate averages its drawn seeds over those where the statistic is defined (NaN if none).
    """
    rng = np.random.default_rng(random_state)
    n_seeds = len(n_slides)
    counts = (rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=n_resamples) if resample_seeds
              else np.ones((n_resamples, n_seeds), dtype=np.int64))
    point = np.stack([evaluate(s, np.ones((1, n)))[0] for s, n in enumerate(n_slides)])
    total, defined = np.zeros((2, n_resamples, *point.shape[1:]))
    for s, n in enumerate(n_slides):
        owner = np.repeat(np.arange(n_resamples), counts[:, s])
        draws = (rng.integers(0, n, size=(owner.size, n)) + n * np.arange(owner.size)[:, None]).ravel()
        weights = np.bincount(draws, minlength=owner.size * n).reshape(owner.size, n).astype(np.float64)
        values = evaluate(s, weights) if owner.size else np.zeros((0, *point.shape[1:]))
        np.add.at(total, owner, np.nan_to_num(values, nan=0.0))
        np.add.at(defined, owner, np.isfinite(values))
    return point, _ratio(total, defined)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)


def _finite_mean(values: np.ndarray) -> np.ndarray:
    """Mean over axis 0 of the finite values; NaN where there are none."""
    ok = np.isfinite(values)
    return _ratio(np.where(ok, values, 0.0).sum(0), ok.sum(0))


def _percentiles(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bounds over axis 0 of the defined (finite) replicates; NaN where none is defined."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN slice
        low, high = np.nanpercentile(values, [50 * (1 - confidence), 50 * (1 + confidence)], axis=0)
    return low, high


def _count_metrics(tn: np.ndarray, fp: np.ndarray, fn: np.ndarray, tp: np.ndarray) -> dict[str, np.ndarray]:
    """The threshold metrics of :mod:`mitoviz.evaluate.metrics` from (weighted) confusion counts."""
    pos, neg = tp + fn, tn + fp
    recall_pos, recall_neg = _ratio(tp, pos), _ratio(tn, neg)
    balanced = np.where((pos > 0) & (neg > 0), (recall_pos + recall_neg) / 2, np.fmax(recall_pos, recall_neg))
    accuracy = _ratio(tp + tn, pos + neg)
    chance = _ratio(pos * (tp + fp) + neg * (tn + fn), (pos + neg) ** 2)
    kappa = np.where(chance < 1, _ratio(accuracy - chance, 1 - chance), np.nan)
    f1 = np.nan_to_num(_ratio(2 * tp, 2 * tp + fp + fn), nan=0.0)
    return {"balanced_accuracy": balanced, "f1": f1, "accuracy": accuracy, "kappa": kappa}


def _pair_matrix(pos: np.ndarray, prob: np.ndarray, slide: np.ndarray, n_slides: int) -> np.ndarray:
    """``A[l, j]``: pairs (positive of slide j, negative of slide l) ranked right, ties counted ½."""
    order = np.argsort(prob[pos], kind="stable")
    upto = np.zeros((order.size + 1, n_slides))  # upto[r, j]: positives of slide j among the r lowest
    upto[np.arange(1, order.size + 1), slide[pos][order]] = 1.0
    np.cumsum(upto, axis=0, out=upto)
    ranked, neg = prob[pos][order], ~pos
    rank = np.r_[np.searchsorted(ranked, prob[neg], "left"), np.searchsorted(ranked, prob[neg], "right")]
    half = sparse.csr_matrix((np.full(rank.size, 0.5), (np.tile(slide[neg], 2), rank)), (n_slides, len(upto)))
    return np.bincount(slide[neg], minlength=n_slides)[:, None] * upto[-1] - half @ upto


def _auroc_cells(pos: np.ndarray, prob: np.ndarray, slide: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney AUROC, cell by cell (for many small slides), in blocks of replicates."""
    order = np.argsort(prob, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(prob[order]) != 0])
    is_pos, codes = pos[order], slide[order]
    out = np.empty(weights.shape[0])
    for a in range(0, weights.shape[0], 128):
        w = weights[a:a + 128][:, codes]
        w_pos = np.where(is_pos, w, 0.0)
        w_pos, w_neg = np.add.reduceat(w_pos, starts, axis=1), np.add.reduceat(w - w_pos, starts, axis=1)
        below = np.cumsum(w_neg, axis=1) - 0.5 * w_neg
        out[a:a + 128] = _ratio((w_pos * below).sum(1), w_pos.sum(1) * w_neg.sum(1))
    return out


def _metric_evaluator(y: np.ndarray, p: np.ndarray, rows: list[np.ndarray], codes: list[np.ndarray],
                      metrics: Sequence[str], threshold: float) -> Callable[[int, np.ndarray], np.ndarray]:
    """``evaluate(s, w) -> [k, n_methods, n_metrics]`` for :func:`_resample`."""
    prepared = []
    for r, c in zip(rows, codes, strict=True):
        n_slides, pos, prob = int(c.max()) + 1, y[r], p[:, r]
        cat = 2 * pos + predicted_positive(prob, threshold)  # [M, n]: 0 tn, 1 fp, 2 fn, 3 tp
        confusion = _slide_totals(c, (cat.T[:, :, None] == np.arange(4)).astype(np.float64))  # [slides, M, 4]
        pair_form = "auroc" in metrics and n_slides * n_slides <= PAIR_FORM_LIMIT * len(r)
        pairs = np.stack([_pair_matrix(pos, q, c, n_slides) for q in prob]) if pair_form else None
        classes = _slide_totals(c, np.stack([pos, ~pos], 1).astype(np.float64))
        prepared.append((confusion, pairs, classes, pos, prob, c))

    def evaluate(s: int, w: np.ndarray) -> np.ndarray:
        confusion, pairs, classes, pos, prob, c = prepared[s]
        found = _count_metrics(*np.moveaxis(np.tensordot(w, confusion, axes=1), -1, 0))
        if pairs is not None:
            found["auroc"] = _ratio(((w @ pairs) * w).sum(-1).T, (w @ classes).prod(1)[:, None])
        elif "auroc" in metrics:
            found["auroc"] = np.stack([_auroc_cells(pos, q, c, w) for q in prob], 1)
        return np.stack([found[m] for m in metrics], -1)

    return evaluate


class Interval(NamedTuple):
    """One point: mean over seeds, percentile interval, seed SD (ddof=1), seeds, defined replicates."""

    estimate: float
    low: float
    high: float
    seed_sd: float
    n_seeds: int
    n_resamples: int


class PairedDifference(NamedTuple):
    """A − B: mean over seeds of the per-seed difference, its interval and two-sided bootstrap p-value."""

    estimate: float
    low: float
    high: float
    per_seed: np.ndarray
    p_value: float
    excludes_zero: bool

    def verdict(self, a: str, b: str, budget: str, digits: int = 2) -> str:
        """``"UNI − CNN at 10 %: −0.04 [−0.07, −0.01]"``."""
        def f(x: float) -> str:
            text = "n/a" if math.isnan(x) else f"{x:.{digits}f}"
            return text[1:] if text.startswith("-") and not text.strip("-0.") else text.replace("-", "−")
        return f"{a} − {b} at {budget}: {f(self.estimate)} [{f(self.low)}, {f(self.high)}]"


def bootstrap_p(differences: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p-values over axis 0: 2 × (1 + replicates on the far side of 0) / (B + 1), ≤ 1."""
    d = np.asarray(differences, dtype=np.float64)
    defined = np.isfinite(d).sum(0)
    tail = np.minimum((d <= 0).sum(0), (d >= 0).sum(0))
    return np.where(defined > 0, np.minimum(1.0, 2 * (1 + tail) / (defined + 1)), np.nan)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (valid under any dependence); NaN stays NaN and is not counted."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    out[order] = np.minimum(1.0, np.maximum.accumulate((len(order) - np.arange(len(order))) * p[order]))
    return out


def resamples_for(n_methods: int, alpha: float = 0.05) -> int:
    """Resamples for m pairs such that the two-sided p-value's floor 2/(B+1) is at most half the smallest Holm
    threshold α/m (twice the resamples strictly needed, so a clear difference passes it with room)."""
    return max(N_RESAMPLES, math.ceil(4 * (n_methods * (n_methods - 1) // 2) / alpha))


@dataclass(frozen=True)
class ComparisonMatrix:
    """All pairs of methods at one budget: ``difference[i, j]`` = method i − method j, Holm-corrected."""

    methods: tuple[str, ...]
    metric: str
    difference: np.ndarray
    low: np.ndarray
    high: np.ndarray
    p_value: np.ndarray
    p_holm: np.ndarray
    real: np.ndarray
    alpha: float
    confidence: float

    @property
    def statement(self) -> str:
        m = len(self.methods) * (len(self.methods) - 1) // 2
        return CORRECTION_STATEMENT.format(alpha=self.alpha, m=m, level=100 * self.confidence)

    def rows(self) -> list[dict[str, object]]:
        """One dict per pair (i < j) for tables and CSV exports."""
        keys = ("difference", "low", "high", "p_value", "p_holm", "real")
        i, j = np.triu_indices(len(self.methods), 1)
        return [{"a": self.methods[a], "b": self.methods[b], "metric": self.metric,
                 **{k: getattr(self, k)[a, b].item() for k in keys}} for a, b in zip(i, j, strict=True)]


@dataclass(frozen=True)
class Bootstrap:
    """Per-seed values ``[S, M, K]`` and hierarchical replicates ``[B, M, K]`` of K statistics of M methods:
    metrics (:func:`bootstrap_metrics`) or error rates per agreement level (:func:`error_by_agreement`)."""

    methods: tuple[str, ...]
    metrics: tuple[str, ...]
    seeds: np.ndarray
    per_seed: np.ndarray
    replicates: np.ndarray
    confidence: float
    statement: str  # the sentence the page prints under the chart

    def _values(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        if metric not in self.metrics:
            raise SpecError(f"{metric!r} was not bootstrapped.", f"Use one of {list(self.metrics)}.")
        k = self.metrics.index(metric)
        return self.per_seed[:, :, k], self.replicates[:, :, k]

    def _index(self, method: str | int) -> int:
        return self.methods.index(method) if isinstance(method, str) else method

    def interval(self, metric: str, method: str | int = 0) -> Interval:
        """The point's estimate (mean over seeds) and percentile interval."""
        per_seed, reps = (v[:, self._index(method)] for v in self._values(metric))
        ok = per_seed[np.isfinite(per_seed)]
        low, high = _percentiles(reps, self.confidence)
        sd = float(ok.std(ddof=1)) if ok.size > 1 else math.nan
        return Interval(float(_finite_mean(per_seed)), float(low), float(high), sd, ok.size,
                        int(np.isfinite(reps).sum()))

    def rows(self) -> list[dict[str, object]]:
        """One dict per (method, metric) with the interval's fields, for tables and CSV exports."""
        pairs = [(m, k) for m in self.methods for k in self.metrics]
        return [{"method": m, "metric": k, **self.interval(k, m)._asdict()} for m, k in pairs]

    def difference(self, metric: str, a: str | int, b: str | int) -> PairedDifference:
        """A − B on the same seeds, cells and redrawn slides."""
        i, j = self._index(a), self._index(b)
        per_seed, reps = (v[:, i] - v[:, j] for v in self._values(metric))
        low, high = (float(v) for v in _percentiles(reps, self.confidence))
        return PairedDifference(float(_finite_mean(per_seed)), low, high, per_seed, float(bootstrap_p(reps)),
                                bool(low > 0 or high < 0))

    def matrix(self, metric: str, alpha: float = 0.05) -> ComparisonMatrix:
        """Every pair; ``real`` where the Holm-adjusted p-value is below ``alpha``.

        Bootstrap with ``n_resamples=resamples_for(n_methods, alpha)`` so the p-values can get that low.
        """
        per_seed, reps = (v[:, :, None] - v[:, None, :] for v in self._values(metric))
        n = len(self.methods)
        upper, same = np.triu_indices(n, 1), np.eye(n, dtype=bool)
        p_value, p_holm = np.where(same, np.nan, bootstrap_p(reps)), np.full((n, n), np.nan)
        p_holm[upper] = holm(p_value[upper])
        p_holm.T[upper] = p_holm[upper]
        low, high = (np.where(same, np.nan, v) for v in _percentiles(reps, self.confidence))
        real = np.nan_to_num(p_holm, nan=1.0) < alpha
        difference = np.where(same, np.nan, _finite_mean(per_seed))
        return ComparisonMatrix(self.methods, metric, difference, low, high, p_value, p_holm, real, alpha,
                                self.confidence)


def bootstrap_metrics(
    y: np.ndarray, probs: np.ndarray, slide: np.ndarray, seed: np.ndarray,
    methods: Sequence[str] | None = None, metrics: Sequence[str] = INTERVAL_METRICS, *,
    confidence: float = 0.95, n_resamples: int = N_RESAMPLES,
    random_state: int | None = 0, resample_seeds: bool = True, threshold: float = THRESHOLD,
) -> Bootstrap:
    """Hierarchical bootstrap (seeds, then slides) of ``metrics`` for every method of one point.

    One call serves a point's intervals, every paired difference and the comparison matrix, all from
    the same redrawn seeds and slides. Predicted classes come from
    :func:`mitoviz.evaluate.decision.predicted_positive` (``threshold`` passed on).
    """
    y, p, slide, seed = _check(y, probs, slide, seed, confidence, n_resamples)
    unknown = [m for m in metrics if m not in METRIC_RANGE]
    if unknown:
        raise SpecError(f"No interval for metric(s) {unknown}.", f"Use some of {list(METRIC_RANGE)}.")
    names = _names(methods, p.shape[0])
    seeds, rows, codes = _seed_groups(slide, seed)
    evaluate = _metric_evaluator(y, p, rows, codes, tuple(metrics), threshold)
    n_slides = [int(c.max()) + 1 for c in codes]
    point, reps = _resample(n_slides, evaluate, n_resamples, random_state, resample_seeds)
    statement = INTERVAL_STATEMENT.format(level=100 * confidence, n=n_resamples)
    return Bootstrap(names, tuple(metrics), seeds, point, reps, confidence, statement)


class Efficiency(NamedTuple):
    """A method's label efficiency; ``*_status``: interpolated, smallest budget or not reached (NaN)."""

    full_score: float
    own_target: float
    own_labels: float
    own_status: str
    best_target: float
    best_labels: float
    best_status: str
    area: float


def _curve(labels: Numbers, scores: Numbers) -> tuple[np.ndarray, ...]:
    n, s = np.asarray(labels, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    if n.shape != s.shape or n.ndim != 1 or (n <= 0).any() or not np.isfinite(n).all():
        raise SpecError("A label curve needs as many positive label counts as scores.",
                        "Pass the mean labelled cells and the mean score of each budget.")
    keep = np.isfinite(s)
    order = np.argsort(n[keep], kind="stable")
    n, s = n[keep][order], s[keep][order]
    if (np.diff(n) == 0).any():
        raise SpecError(f"Two budgets share a label count: {n.tolist()}.", "Average them into one point.")
    return n, s


def labels_to_reach(labels: Numbers, scores: Numbers, target: float) -> tuple[float, str]:
    """(labels, status): the first crossing of ``target``, linear in log(labels) between the budgets around
    it; ``smallest budget`` when the first budget reaches it, ``not reached`` (NaN): never extrapolated."""
    n, s = _curve(labels, scores)
    hit = np.flatnonzero(s >= target)
    if not hit.size:
        return math.nan, "not reached"
    k = int(hit[0])
    if k == 0:
        return float(n[0]), "smallest budget"
    x = np.log(n[k - 1:k + 1])
    return float(np.exp(x[0] + (target - s[k - 1]) / (s[k] - s[k - 1]) * (x[1] - x[0]))), "interpolated"


def reach_text(labels: float, status: str) -> str:
    """``≈ 355``, ``≤ 12`` (reached at the smallest budget) or ``not reached``."""
    sign = "≤" if status == "smallest budget" else "≈"
    return status if status == "not reached" else f"{sign} {labels:,.0f}"


def log_curve_area(labels: Numbers, scores: Numbers) -> float:
    """Trapezoid area under score vs log(labels) / the log range (the mean score over the log axis;
    comparable between runs with the same budgets); NaN with fewer than two budgets."""
    n, s = _curve(labels, scores)
    x = np.log(n)
    return float(np.sum((s[1:] + s[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0])) if n.size > 1 else math.nan


def label_efficiency(curves: Mapping[str, tuple[Numbers, Numbers]], fraction: float = 0.95,
                     ) -> dict[str, Efficiency]:
    """Per method (name → (labelled cells, mean score) per budget; higher is better).

    Own target = ``fraction`` × the score at the method's largest budget (its full-data score when the
    run has 100 %); best target = ``fraction`` × the highest full-data score of all methods.
    """
    if not 0 < fraction <= 1:
        raise SpecError(f"Fraction {fraction} must lie in (0, 1].", "Use e.g. 0.95 for 95 %.")
    full = {name: _curve(*curve)[1] for name, curve in curves.items()}
    full = {name: float(s[-1]) if s.size else math.nan for name, s in full.items()}
    best = fraction * max((v for v in full.values() if not math.isnan(v)), default=math.nan)
    own = {name: fraction * score for name, score in full.items()}
    return {name: Efficiency(full[name], own[name], *labels_to_reach(*curve, own[name]), best,
                             *labels_to_reach(*curve, best), log_curve_area(*curve))
            for name, curve in curves.items()}


AGREEMENT_LEVELS: tuple[str, ...] = ("all agree", "majority", "split")
NO_VOTES = "no votes"
#: Split: the consensus got two thirds of the votes or fewer (2:1, 3:2, 1:1); majority: above that (4:1).
SPLIT_AT = 2 / 3


def agreement_levels(agreement: Numbers) -> np.ndarray:
    """Level per cell from ``agreement`` (share of raters who voted the consensus class; NaN: no votes)."""
    a, tol = np.asarray(agreement, dtype=np.float64), 1e-9
    levels = np.select([a >= 1 - tol, a > SPLIT_AT + tol, a <= SPLIT_AT + tol], AGREEMENT_LEVELS, NO_VOTES)
    return levels.astype(object)


def raters_split(agreement: Numbers) -> np.ndarray:
    """Gallery filter "raters split": cells whose consensus got two thirds of the votes or fewer."""
    return agreement_levels(agreement) == AGREEMENT_LEVELS[2]


def all_agree_all_wrong(correct: np.ndarray, agreement: Numbers) -> np.ndarray:
    """Gallery filter: every rater agrees and every method (rows of ``correct [M, n_cells]``) is wrong."""
    every_method_wrong = ~np.atleast_2d(np.asarray(correct, dtype=bool)).any(0)
    return (agreement_levels(agreement) == AGREEMENT_LEVELS[0]) & every_method_wrong


def error_by_agreement(
    correct: np.ndarray, agreement: np.ndarray, slide: np.ndarray, seed: np.ndarray,
    methods: Sequence[str] | None = None, *, confidence: float = 0.95, n_resamples: int = N_RESAMPLES,
    random_state: int | None = 0, resample_seeds: bool = True,
) -> Bootstrap:
    """Each method's error rate per agreement level: a :class:`Bootstrap` whose statistics are the levels.

    ``correct [M, n_rows]``: the decision rule's prediction equals the truth; ``agreement``, ``slide`` and
    ``seed`` per row as in :func:`bootstrap_metrics`. All levels share the same redrawn seeds and slides;
    a level without cells is NaN. ``boot.interval("split", "uni")`` is UNI's error rate on split cells.
    """
    c = np.atleast_2d(np.asarray(correct, dtype=bool))
    _, _, slide, seed = _check(np.zeros(c.shape[1]), c.astype(float), slide, seed, confidence, n_resamples)
    level = agreement_levels(agreement)
    if level.shape != seed.shape:
        raise SpecError(f"{level.size} agreement values for {seed.size} rows.", "Pass one agreement per row.")
    seeds, rows, codes = _seed_groups(slide, seed)
    at = (level[:, None] == np.array(AGREEMENT_LEVELS)).astype(np.float64)[:, None, :]  # [n, 1, L]
    per_row = np.stack([(~c).T[:, :, None] * at, np.broadcast_to(at, (*c.T.shape, at.shape[2]))], -1)
    tables = [_slide_totals(code, per_row[r]) for r, code in zip(rows, codes, strict=True)]  # [S, M, L, 2]

    def evaluate(s: int, w: np.ndarray) -> np.ndarray:
        wrong, cells = np.moveaxis(np.tensordot(w, tables[s], axes=1), -1, 0)
        return _ratio(wrong, cells)

    point, reps = _resample([t.shape[0] for t in tables], evaluate, n_resamples, random_state, resample_seeds)
    statement = AGREEMENT_STATEMENT.format(level=100 * confidence)
    return Bootstrap(_names(methods, c.shape[0]), AGREEMENT_LEVELS, seeds, point, reps, confidence, statement)
