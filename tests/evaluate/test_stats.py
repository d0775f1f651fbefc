"""Statistics against scipy.stats.bootstrap, an explicit loop over the same RNG stream, and hand counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from mitoviz.errors import SpecError
from mitoviz.evaluate import stats
from mitoviz.evaluate.metrics import binary_metrics, binary_metrics_many


def _data(seed: int, n_seeds: int, n_slides: int, sizes: tuple[int, int], n_methods: int = 2,
          slide_effect: float = 0.0, decimals: int | None = None) -> tuple[np.ndarray, ...]:
    """Long rows (seed, cell): each seed tests its own slides; optional slide effect, rounded (tied) probs."""
    rng = np.random.default_rng(seed)
    y, probs, slide, seeds = [], [], [], []
    for s in range(n_seeds):
        for j in range(n_slides):
            n = int(rng.integers(sizes[0], sizes[1] + 1))
            truth = (rng.random(n) < 0.4).astype(np.int8)
            shift = slide_effect * rng.standard_normal()
            noise = rng.standard_normal((n_methods, n)) * np.arange(1, n_methods + 1)[:, None]  # 0 is best
            logit = 1.5 * (2 * truth - 1) + shift + noise
            probs.append(1 / (1 + np.exp(-logit)))
            y.append(truth)
            slide.append(np.full(n, f"s{s}-{j}"))
            seeds.append(np.full(n, 42 + s))
    p = np.concatenate(probs, axis=1)
    if decimals is not None:
        p = np.round(p, decimals)
    return np.concatenate(y), p, np.concatenate(slide), np.concatenate(seeds)


def _interval(y: np.ndarray, p: np.ndarray, slide: np.ndarray, seed: np.ndarray, metric: str,
              **options: object) -> stats.Interval:
    return stats.bootstrap_metrics(y, p, slide, seed, metrics=(metric,), **options).interval(metric)


def _loop(slide: np.ndarray, seed: np.ndarray, statistic, n_resamples: int, random_state: int,
          resample_seeds: bool = True) -> np.ndarray:
    """The hierarchical bootstrap written as a plain loop over the documented RNG stream."""
    rng = np.random.default_rng(random_state)
    seeds = np.unique(seed)
    n_seeds = len(seeds)
    counts = (rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=n_resamples) if resample_seeds
              else np.ones((n_resamples, n_seeds), dtype=np.int64))
    values: list[list[np.ndarray]] = [[] for _ in range(n_resamples)]
    for s, name in enumerate(seeds):
        slides = np.unique(slide[seed == name])
        owners = [b for b in range(n_resamples) for _ in range(counts[b, s])]
        draws = rng.integers(0, len(slides), size=(len(owners), len(slides)))
        for owner, drawn in zip(owners, draws, strict=True):
            rows = np.concatenate([np.flatnonzero((seed == name) & (slide == slides[d])) for d in drawn])
            values[owner].append(np.asarray(statistic(rows), dtype=np.float64))
    out = []
    for vals in values:
        v = np.stack(vals)
        ok = np.isfinite(v)
        with np.errstate(invalid="ignore"):
            out.append(np.where(ok, v, 0).sum(0) / ok.sum(0))
    return np.stack(out)


@pytest.fixture(params=[0, 10**9], ids=["cell-by-cell AUROC", "slide-pair AUROC"])
def auroc_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(stats, "PAIR_FORM_LIMIT", request.param)
    return request.param


def test_full_test_set_equals_metrics_module(auroc_path: int) -> None:
    y, p, slide, seed = _data(1, 3, 7, (2, 40), n_methods=3, decimals=1)  # many ties in the probabilities
    boot = stats.bootstrap_metrics(y, p, slide, seed, n_resamples=5)
    for s, name in enumerate(np.unique(seed)):
        ref = binary_metrics_many(y[seed == name], p[:, seed == name])
        for k, metric in enumerate(stats.INTERVAL_METRICS):
            np.testing.assert_allclose(boot.per_seed[s, :, k], ref[metric], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("resample_seeds", [True, False])
def test_replicates_equal_an_explicit_loop(auroc_path: int, resample_seeds: bool) -> None:
    y, p, slide, seed = _data(2, 2, 5, (1, 12), n_methods=2, decimals=2)
    b = 140  # more than one block of 128 draws per seed in the cell-by-cell AUROC

    def statistic(rows: np.ndarray) -> np.ndarray:
        found = binary_metrics_many(y[rows], p[:, rows])
        return np.stack([found[m] for m in stats.INTERVAL_METRICS], -1)

    boot = stats.bootstrap_metrics(y, p, slide, seed, n_resamples=b, random_state=11,
                                   resample_seeds=resample_seeds)
    expected = _loop(slide, seed, statistic, b, 11, resample_seeds)
    np.testing.assert_allclose(boot.replicates, expected, rtol=1e-10, atol=1e-12)


def _vectorised(metric: str):
    def statistic(y: np.ndarray, p: np.ndarray, axis: int = -1) -> np.ndarray:
        found = binary_metrics_many(y.reshape(-1, y.shape[-1]), p.reshape(-1, p.shape[-1]))
        return found[metric].reshape(y.shape[:-1])
    return statistic


@pytest.mark.parametrize("metric", ["balanced_accuracy", "auroc", "kappa"])
def test_one_cell_per_slide_is_the_ordinary_bootstrap(metric: str) -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.4).astype(np.int8)
    p = 1 / (1 + np.exp(-(1.2 * (2 * y - 1) + rng.standard_normal(400))))
    ours = _interval(y, p, np.arange(400), np.zeros(400), metric, n_resamples=4000, random_state=1)
    ref = sps.bootstrap((y, p), _vectorised(metric), paired=True, vectorized=True, n_resamples=4000,
                        method="percentile", random_state=2).confidence_interval
    assert ours.low == pytest.approx(ref.low, abs=0.008)
    assert ours.high == pytest.approx(ref.high, abs=0.008)
    assert ours.estimate == pytest.approx(binary_metrics(y, p)[metric])


def _slide_totals(y: np.ndarray, pred: np.ndarray, slide: np.ndarray) -> tuple[np.ndarray, ...]:
    _, code = np.unique(slide, return_inverse=True)
    cases = ((0, 0), (0, 1), (1, 0), (1, 1))  # tn, fp, fn, tp
    return tuple(np.bincount(code, weights=(y == a) & (pred == b)) for a, b in cases)


def _from_totals(metric: str):
    def statistic(tn: np.ndarray, fp: np.ndarray, fn: np.ndarray, tp: np.ndarray, axis: int = -1):
        tn, fp, fn, tp = (x.sum(axis) for x in (tn, fp, fn, tp))
        if metric == "accuracy":
            return (tp + tn) / (tn + fp + fn + tp)
        return (tp / (tp + fn) + tn / (tn + fp)) / 2
    return statistic


@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy"])
def test_cluster_bootstrap_is_a_bootstrap_of_slide_totals(metric: str) -> None:
    y, p, slide, seed = _data(4, 1, 60, (3, 30), n_methods=1, slide_effect=1.5)
    ours = _interval(y, p[0], slide, seed, metric, n_resamples=4000, random_state=5)
    totals = _slide_totals(y, p[0] > 0.5, slide)
    ref = sps.bootstrap(totals, _from_totals(metric), paired=True, vectorized=True, n_resamples=4000,
                        method="percentile", random_state=6).confidence_interval
    assert ours.low == pytest.approx(ref.low, abs=0.01)
    assert ours.high == pytest.approx(ref.high, abs=0.01)
    # Treating the cells as independent understates the spread when slides differ.
    each_cell = _slide_totals(y, p[0] > 0.5, np.arange(y.size))
    cells = sps.bootstrap(each_cell, _from_totals(metric), paired=True, vectorized=True, n_resamples=4000,
                          method="percentile", random_state=6).confidence_interval
    assert ours.high - ours.low > 1.2 * (cells.high - cells.low)


def test_seed_level_is_a_bootstrap_of_seed_scores() -> None:
    accuracy = np.array([31, 35, 38, 40, 42, 45, 33, 39]) / 50
    y, pred, slide, seed = [], [], [], []
    for s, acc in enumerate(accuracy):  # one slide of 50 cells per seed: redrawing slides changes nothing
        correct = np.arange(50) < round(acc * 50)
        truth = np.arange(50) % 2
        y.append(truth)
        pred.append(np.where(correct, truth, 1 - truth))
        slide.append(np.full(50, "only"))
        seed.append(np.full(50, s))
    ours = _interval(np.concatenate(y), np.concatenate(pred).astype(float), np.concatenate(slide),
                                np.concatenate(seed), "accuracy", n_resamples=20000, random_state=7)
    ref = sps.bootstrap((accuracy,), np.mean, n_resamples=20000, method="percentile", random_state=8)
    assert ours.low == pytest.approx(ref.confidence_interval.low, abs=0.004)
    assert ours.high == pytest.approx(ref.confidence_interval.high, abs=0.004)
    assert ours.seed_sd == pytest.approx(accuracy.std(ddof=1))


def test_deterministic_given_random_state() -> None:
    y, p, slide, seed = _data(5, 3, 6, (2, 10))
    one = stats.bootstrap_metrics(y, p, slide, seed, n_resamples=200, random_state=3)
    two = stats.bootstrap_metrics(y, p, slide, seed, n_resamples=200, random_state=3)
    other = stats.bootstrap_metrics(y, p, slide, seed, n_resamples=200, random_state=4)
    np.testing.assert_array_equal(one.replicates, two.replicates)
    assert "bars: 95 % hierarchical bootstrap intervals (200 resamples" in one.statement
    assert not np.array_equal(one.replicates, other.replicates)


def _degenerate_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    truth = np.tile([0, 1, 1, 0, 0], 12)
    return {
        "all correct": (truth, np.where(truth == 1, 0.9, 0.1)),
        "all wrong": (truth, np.where(truth == 1, 0.1, 0.9)),
        "one class": (np.zeros(60, dtype=np.int8), np.linspace(0, 1, 60)),
        "one class, all predicted negative": (np.zeros(60, dtype=np.int8), np.full(60, 0.5)),
    }


@pytest.mark.parametrize("case", list(_degenerate_cases()))
def test_bounds_stay_in_range_on_degenerate_data(case: str) -> None:
    y, p = _degenerate_cases()[case]
    slide, seed = np.arange(60) // 6, np.arange(60) % 3
    boot = stats.bootstrap_metrics(y, p, slide, seed, n_resamples=300)
    for metric in stats.INTERVAL_METRICS:
        got = boot.interval(metric)
        low_end, high_end = stats.METRIC_RANGE[metric]
        if math.isnan(got.estimate):
            assert math.isnan(got.low) and got.n_resamples == 0, metric
            continue
        assert low_end <= got.low <= got.estimate <= got.high <= high_end, (metric, got)
    if case == "all correct":
        assert all(boot.interval(m)[:3] == (1.0, 1.0, 1.0) for m in stats.INTERVAL_METRICS)
    if case == "one class":
        assert math.isnan(boot.interval("auroc").estimate)


def test_no_bound_above_one_where_the_t_interval_has_one() -> None:
    per_seed_correct = [50, 49, 50, 45, 50]  # of 50 cells per seed
    rows = [(s, i, int(i < k)) for s, k in enumerate(per_seed_correct) for i in range(50)]
    seed, cell, correct = (np.array(c) for c in zip(*rows, strict=True))
    y = cell % 2
    p = np.where(correct == 1, y, 1 - y).astype(float)
    accuracy = np.array(per_seed_correct) / 50
    t_high = sps.t.interval(0.95, len(accuracy) - 1, loc=accuracy.mean(), scale=sps.sem(accuracy))[1]
    assert t_high > 1  # the bug this module avoids
    got = _interval(y, p, cell // 5, seed, "balanced_accuracy")
    assert got.high <= 1.0 and got.low < got.estimate


def test_paired_difference_is_a_bootstrap_of_slide_differences() -> None:
    y, p, slide, seed = _data(6, 1, 60, (2, 20), n_methods=2, slide_effect=1.0)
    boot = stats.bootstrap_metrics(y, p, slide, seed, metrics=("accuracy",), n_resamples=4000, random_state=9)
    ours = boot.difference("accuracy", 0, 1)
    _, code = np.unique(slide, return_inverse=True)
    right = [np.bincount(code, weights=(q > 0.5) == y) for q in p]
    cells = np.bincount(code)
    ref = sps.bootstrap((right[0] - right[1], cells), lambda d, n, axis=-1: d.sum(axis) / n.sum(axis),
                        paired=True, vectorized=True, n_resamples=4000, method="percentile", random_state=10)
    assert ours.low == pytest.approx(ref.confidence_interval.low, abs=0.008)
    assert ours.high == pytest.approx(ref.confidence_interval.high, abs=0.008)
    assert ours.estimate == pytest.approx((right[0] - right[1]).sum() / cells.sum())
    assert ours.excludes_zero == (ours.low > 0 or ours.high < 0)


def test_paired_difference_uses_the_same_slides_for_both_methods() -> None:
    y, p, slide, seed = _data(7, 4, 6, (3, 15), n_methods=2)
    same = stats.bootstrap_metrics(y, p[[0, 0]], slide, seed).difference("balanced_accuracy", 0, 1)
    assert (same.estimate, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert not same.excludes_zero
    boot = stats.bootstrap_metrics(y, p, slide, seed, ("a", "b"), n_resamples=500)
    d = boot.difference("auroc", "a", "b")
    reps = boot.replicates[:, 0, 1] - boot.replicates[:, 1, 1]
    assert (d.low, d.high) == tuple(np.percentile(reps, [2.5, 97.5]))
    np.testing.assert_allclose(d.per_seed, boot.per_seed[:, 0, 1] - boot.per_seed[:, 1, 1])
    assert d.p_value == stats.bootstrap_p(reps)


def test_verdict_text() -> None:
    d = stats.PairedDifference(-0.04, -0.07, -0.01, np.zeros(5), 0.01, True)
    assert d.verdict("UNI", "CNN", "10 %") == "UNI − CNN at 10 %: −0.04 [−0.07, −0.01]"
    tiny = stats.PairedDifference(-0.001, -0.03, 0.02, np.zeros(5), 0.8, False)
    assert tiny.verdict("A", "B", "1 %") == "A − B at 1 %: 0.00 [−0.03, 0.02]"


def test_bootstrap_p_and_holm_by_hand() -> None:
    assert stats.bootstrap_p(np.array([-1.0, 1, 2, 3])) == pytest.approx(2 * 2 / 5)
    assert stats.bootstrap_p(np.ones(999)) == pytest.approx(2 / 1000)
    adjusted = stats.holm(np.array([0.01, 0.04, 0.03, 0.005, np.nan]))
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02, np.nan])
    assert stats.resamples_for(5) == 1000 and stats.resamples_for(10) == 3600


def test_comparison_matrix() -> None:
    y, p, slide, seed = _data(8, 3, 8, (5, 20), n_methods=3)
    names = ("uni", "phikon", "cnn")
    boot = stats.bootstrap_metrics(y, p, slide, seed, names, ("balanced_accuracy",),
                                   n_resamples=stats.resamples_for(len(names)))
    matrix = boot.matrix("balanced_accuracy")
    pair = boot.difference("balanced_accuracy", "uni", "cnn")
    assert (matrix.difference[0, 2], matrix.low[0, 2], matrix.high[0, 2]) == pytest.approx(pair[:3])
    assert matrix.p_value[0, 2] == pair.p_value
    np.testing.assert_allclose(matrix.difference, -matrix.difference.T)
    np.testing.assert_allclose(matrix.low, -matrix.high.T)
    assert np.isnan(np.diag(matrix.difference)).all()
    upper = np.triu_indices(3, 1)
    np.testing.assert_allclose(matrix.p_holm[upper], stats.holm(matrix.p_value[upper]))
    assert (matrix.p_holm[upper] >= matrix.p_value[upper]).all()
    assert matrix.real[0, 2] and matrix.real[2, 0]  # noise sd 1 vs 3: a real difference
    rows = matrix.rows()
    assert [(r["a"], r["b"]) for r in rows] == [("uni", "phikon"), ("uni", "cnn"), ("phikon", "cnn")]
    assert "3 pairwise comparisons" in matrix.statement


def test_label_efficiency_against_hand_computed_curves() -> None:
    curves = {"uni": ([10, 100, 1000], [0.6, 0.8, 0.9]), "cnn": ([10, 100, 1000], [0.5, 0.7, 0.8]),
              "flat": ([10, 100, 1000], [0.9, 0.85, 0.88])}
    out = stats.label_efficiency(curves, 0.95)
    uni = out["uni"]
    assert uni.full_score == 0.9 and uni.own_target == pytest.approx(0.855)
    # 0.855 = 0.8 + 0.55 · (0.9 − 0.8): 55 % of the way from log10 100 to log10 1000
    assert uni.own_labels == pytest.approx(10 ** 2.55) and uni.own_status == "interpolated"
    assert (uni.best_labels, uni.best_status) == (uni.own_labels, uni.own_status)
    assert stats.reach_text(uni.own_labels, uni.own_status) == "≈ 355"
    assert uni.area == pytest.approx(((0.6 + 0.8) / 2 + (0.8 + 0.9) / 2) / 2)
    cnn = out["cnn"]
    assert cnn.own_labels == pytest.approx(10 ** 2.6)  # target 0.76 = 0.7 + 0.6 · 0.1
    assert cnn.best_target == pytest.approx(0.855) and cnn.best_status == "not reached"
    assert math.isnan(cnn.best_labels) and stats.reach_text(cnn.best_labels, cnn.best_status) == "not reached"
    flat = out["flat"]
    assert (flat.own_labels, flat.own_status) == (10.0, "smallest budget")
    assert stats.reach_text(flat.own_labels, flat.own_status) == "≤ 10"
    assert stats.labels_to_reach([1, 10, 100, 1000], [0.2, 0.7, 0.5, 0.9], 0.6)[0] == pytest.approx(10 ** 0.8)
    assert stats.labels_to_reach([1, 10], [0.5, np.nan], 0.6)[1] == "not reached"  # no extrapolation
    assert stats.log_curve_area([4, 2, 8], [0.5, 0.3, 0.7]) == pytest.approx(0.5)  # unsorted budgets
    assert math.isnan(stats.log_curve_area([5], [0.5]))
    with pytest.raises(SpecError):
        stats.labels_to_reach([10, 10], [0.5, 0.6], 0.5)


def test_agreement_levels_and_gallery_masks() -> None:
    agreement = np.array([1.0, 2 / 3, 0.8, 0.6, 0.5, np.nan, 0.75, 1.0])
    assert stats.agreement_levels(agreement).tolist() == [
        "all agree", "split", "majority", "split", "split", "no votes", "majority", "all agree"]
    assert stats.raters_split(agreement).tolist() == [False, True, False, True, True, False, False, False]
    correct = np.array([[0, 0, 0, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, 0, 0, 1]], dtype=bool)
    assert stats.all_agree_all_wrong(correct, agreement).tolist() == [True] + [False] * 7


def test_error_by_agreement_against_a_hand_count() -> None:
    rng = np.random.default_rng(9)
    n = 120
    seed = np.repeat([1, 2], n // 2)
    slide = np.tile(np.repeat(np.arange(6), 10), 2)
    agreement = rng.choice([1.0, 0.8, 2 / 3, np.nan], n)
    correct = rng.random((2, n)) < np.where(agreement == 1, 0.9, 0.6)
    out = stats.error_by_agreement(correct, agreement, slide, seed, ("a", "b"), n_resamples=200,
                                   random_state=2)
    assert out.metrics == stats.AGREEMENT_LEVELS
    level = stats.agreement_levels(agreement)
    for m, method in enumerate(out.methods):
        for name in stats.AGREEMENT_LEVELS:
            per_seed = [(~correct[m, (seed == s) & (level == name)]).mean() for s in (1, 2)]
            got = out.interval(name, method)
            assert got.estimate == pytest.approx(np.mean(per_seed))
            assert 0 <= got.low <= got.estimate <= got.high <= 1

    def statistic(rows: np.ndarray) -> np.ndarray:
        at = level[rows][None, :] == np.array(stats.AGREEMENT_LEVELS)[:, None]
        with np.errstate(invalid="ignore"):
            return np.stack([(~correct[m, rows] & at).sum(1) / at.sum(1) for m in range(2)])

    np.testing.assert_allclose(out.replicates, _loop(slide, seed, statistic, 200, 2))
    assert len(out.rows()) == 6 and "two thirds" in out.statement


def test_an_agreement_level_without_cells_is_nan() -> None:
    correct = np.array([[True, False, True, False]])
    out = stats.error_by_agreement(correct, [1.0, 1.0, 0.5, 0.5], [0, 0, 1, 1], [7, 7, 7, 7], n_resamples=50)
    assert math.isnan(out.interval("majority").estimate) and math.isnan(out.interval("majority").low)
    assert out.interval("all agree").estimate == 0.5


def test_errors_say_what_is_wrong() -> None:
    y, p, slide, seed = _data(10, 1, 3, (2, 4), n_methods=1)
    with pytest.raises(SpecError, match="Rows differ"):
        stats.bootstrap_metrics(y[:-1], p, slide, seed)
    with pytest.raises(SpecError, match="No interval"):
        stats.bootstrap_metrics(y, p, slide, seed, metrics=("ece",))
    with pytest.raises(SpecError, match="within"):
        stats.bootstrap_metrics(y, p * 3, slide, seed)
    with pytest.raises(SpecError, match="not bootstrapped"):
        stats.bootstrap_metrics(y, p, slide, seed, metrics=("f1",), n_resamples=3).interval("auroc")
