"""The batched sweep against plain scikit-learn fits and the straightforward UNI probe."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

from mitoviz.errors import BudgetError, SpecError
from mitoviz.evaluate.classifiers import KNeighborsCappedWarning, LinearProbe, PlattSVC
from mitoviz.evaluate.metrics import binary_metrics_many
from mitoviz.evaluate.solvers import LinearFits, fit_linear, knn_predict
from mitoviz.evaluate.sweep import sweep

PER_CLASS = (1, 2, 5, 20, 60, 150)


def _make(n: int, dim: int, seed: int, shift: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Weak-signal embeddings with a mean offset and a few strong directions, like real ones."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(np.int64)
    basis = rng.standard_normal((8, dim)) * 1.5
    latent = rng.standard_normal((n, 8))
    signal = rng.standard_normal(dim) / np.sqrt(dim) * shift * 4
    X = latent @ basis + rng.standard_normal((n, dim)) + y[:, None] * signal + 1.0
    return X.astype(np.float32), y


def _train_sets(y: np.ndarray, pool: np.ndarray, per_class: tuple[int, ...], seeds: int) -> list[np.ndarray]:
    sets = []
    for seed in range(seeds):
        rng = np.random.default_rng(100 + seed)
        pos, neg = pool[y[pool] == 1], pool[y[pool] == 0]
        for k in per_class:
            sets.append(
                np.concatenate([rng.choice(pos, k, replace=False), rng.choice(neg, k, replace=False)])
            )
    return sets


@pytest.fixture(scope="module")
def problem() -> dict:
    X, y = _make(900, 40, seed=0)
    test = np.arange(700, 900)
    return {"X": X, "y": y, "test": test, "sets": _train_sets(y, np.arange(700), PER_CLASS, seeds=2)}


def _sklearn_probs(X, y, sets, test, **params) -> np.ndarray:
    """Converged scikit-learn fits (one BLAS thread: faster for these small problems)."""
    out = []
    with threadpool_limits(1):
        for tr in sets:
            est = LogisticRegression(tol=1e-9, max_iter=100000, **params).fit(X[tr].astype(np.float64), y[tr])
            out.append(est.predict_proba(X[test])[:, 1])
    return np.array(out)


@pytest.fixture(scope="module")
def sklearn_reference(problem) -> np.ndarray:
    return _sklearn_probs(problem["X"], problem["y"], problem["sets"], problem["test"])


def _assert_metrics_close(y_test: np.ndarray, a: np.ndarray, b: np.ndarray, tol: float = 0.01) -> None:
    ma, mb = binary_metrics_many(y_test, a), binary_metrics_many(y_test, b)
    for key in ("balanced_accuracy", "auroc", "f1", "accuracy", "kappa", "ece", "brier"):
        np.testing.assert_allclose(ma[key], mb[key], atol=tol, err_msg=key)


@pytest.mark.parametrize("method", ["auto", "newton", "sesop"])
def test_logreg_matches_sklearn(problem, sklearn_reference, method: str) -> None:
    X, y, sets, test = problem["X"], problem["y"], problem["sets"], problem["test"]
    ref = sklearn_reference
    fits = fit_linear(X, y, sets, "logreg", method=method, tol=1e-6)
    got = fits.predict_proba(X[test])
    assert np.abs(got - ref).max() < 1e-3
    _assert_metrics_close(y[test], got, ref)
    expected = {"auto": {"newton-dual"}, "newton": {"newton-dual"}, "sesop": {"sesop"}}[method]
    assert set(fits.method) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"C": 0.05},
        {"C": 20.0, "class_weight": "balanced"},
        {"class_weight": {0: 1.0, 1: 3.0}},
        {"fit_intercept": False},
    ],
)
def test_logreg_options_match_sklearn(problem, params: dict) -> None:
    X, y, test = problem["X"], problem["y"], problem["test"]
    sets = problem["sets"][2:6]
    ref = _sklearn_probs(X, y, sets, test, **params)
    for method in ("newton", "sesop"):
        got = sweep(X, y, sets, test, "logreg", params, engine="batched") if method == "newton" else None
        if got is None:
            fits = fit_linear(X, y, sets, "logreg", method="sesop", tol=1e-6, **params)
            got = fits.predict_proba(X[test])
        assert np.abs(got - ref).max() < 2e-3, method


def test_sesop_with_randomised_preconditioner_matches_sklearn() -> None:
    """D > 2·rank: the principal directions come from the randomised SVD branch."""
    X, y = _make(700, 300, seed=5)
    sets = _train_sets(y, np.arange(500), (40, 120), seeds=1)
    test = np.arange(500, 700)
    ref = _sklearn_probs(X, y, sets, test)
    got = fit_linear(X, y, sets, "logreg", method="sesop", tol=1e-6).predict_proba(X[test])
    assert np.abs(got - ref).max() < 1e-3


def test_default_tolerance_keeps_metrics_within_001_on_a_separable_problem() -> None:
    """n < 2·D: separable training data, the regime where loose solvers drift most."""
    X, y = _make(1400, 200, seed=7, shift=0.3)
    sets = _train_sets(y, np.arange(1000), (150, 300), seeds=1)
    test = np.arange(1000, 1400)
    ref = _sklearn_probs(X, y, sets, test)
    got = sweep(X, y, sets, test, "logreg")
    assert np.abs(got - ref).max() < 0.01
    _assert_metrics_close(y[test], got, ref)


@pytest.fixture(scope="module")
def probe_reference(problem) -> np.ndarray:
    X, y, test = problem["X"], problem["y"], problem["test"]
    return np.array(
        [LinearProbe().fit(X[tr], y[tr]).predict_proba(X[test])[:, 1] for tr in problem["sets"][:6]]
    )


@pytest.mark.parametrize("method", ["newton", "sesop"])
def test_linear_probe_matches_straightforward_uni_probe(problem, probe_reference, method: str) -> None:
    X, y, sets, test = problem["X"], problem["y"], problem["sets"], problem["test"]
    sets = sets[:6]
    fits = fit_linear(X, y, sets, "linear-probe", method=method, tol=1e-6)
    got = fits.predict_proba(X[test])
    ref = probe_reference
    assert np.abs(got - ref).max() < 1e-3
    _assert_metrics_close(y[test], got, ref)


def test_linear_probe_sweep_uses_default_c_and_given_c(problem) -> None:
    X, y, test = problem["X"], problem["y"], problem["test"]
    sets = problem["sets"][3:5]
    for params in ({}, {"C": 5.0}):
        got = sweep(X, y, sets, test, "linear-probe", params)
        ref = np.array([LinearProbe(**params).fit(X[tr], y[tr]).predict_proba(X[test])[:, 1] for tr in sets])
        assert np.abs(got - ref).max() < 2e-3


@pytest.mark.parametrize("method", ["newton", "sesop"])
def test_linear_probe_zero_weights_when_penalty_wins(method: str) -> None:
    """A heavy norm penalty makes w = 0 optimal; the bias still fits the positive share.

    (UNI's L-BFGS stays at W = 0, b = 0 here, see LinearProbe's docstring.)
    """
    X, y = _make(200, 10, seed=3, shift=0.05)
    tr = np.arange(150)
    C = 0.01
    Xc = X[tr] - X[tr].mean(0)
    share = y[tr].mean()
    assert np.linalg.norm(Xc.T @ (share - y[tr]) / tr.size) <= 0.5 / (C * np.sqrt(2))  # KKT at w = 0
    fits = fit_linear(X, y, [tr], "linear-probe", C=C, method=method)
    np.testing.assert_allclose(fits.coef, 0.0)
    np.testing.assert_allclose(fits.predict_proba(X[:5]), share, atol=1e-9)
    ref = LinearProbe(C=C).fit(X[tr], y[tr]).predict_proba(X[:5])[:, 1]
    np.testing.assert_allclose(ref, 0.5)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_matches_sklearn_cosine_knn(problem, weights: str) -> None:
    X, y, sets, test = problem["X"], problem["y"], problem["sets"], problem["test"]
    with pytest.warns(KNeighborsCappedWarning, match="fewer than n_neighbors=7"):
        got = sweep(X, y, sets, test, "knn", {"n_neighbors": 7, "weights": weights})
    for i, tr in enumerate(sets):
        ref = KNeighborsClassifier(
            n_neighbors=min(7, tr.size), weights=weights, metric="cosine", algorithm="brute"
        ).fit(X[tr], y[tr])
        np.testing.assert_allclose(got[i], ref.predict_proba(X[test])[:, 1], atol=1e-5)


def test_knn_chunks_and_exact_duplicates() -> None:
    X, y = _make(300, 16, seed=2)
    tr = np.arange(100)
    test = np.arange(50, 250)  # half the test cells are training cells: cosine distance 0
    got = knn_predict(X, y, [tr], test, n_neighbors=5, weights="distance", chunk=37)[0]
    ref = KNeighborsClassifier(n_neighbors=5, weights="distance", metric="cosine", algorithm="brute").fit(
        X[tr], y[tr]
    )
    np.testing.assert_allclose(got, ref.predict_proba(X[test])[:, 1], atol=1e-5)
    np.testing.assert_array_equal(got[:50], y[50:100])


def test_per_fit_test_sets_return_a_list(problem) -> None:
    X, y, sets, test = problem["X"], problem["y"], problem["sets"][:4], problem["test"]
    tests = [test, test[:50], test[50:], test]
    for classifier in ("logreg", "knn"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KNeighborsCappedWarning)
            shared = sweep(X, y, sets, test, classifier)
            each = sweep(X, y, sets, tests, classifier)
        assert isinstance(shared, np.ndarray) and shared.shape == (4, test.size)
        assert isinstance(each, list) and [p.size for p in each] == [200, 50, 150, 200]
        np.testing.assert_allclose(each[1], shared[1, :50], atol=1e-6)
        np.testing.assert_allclose(each[2], shared[2, 50:], atol=1e-6)
    as_list = sweep(X, y, sets, test.tolist(), "logreg")
    assert isinstance(as_list, np.ndarray) and as_list.shape == (4, test.size)


def test_sklearn_engine_and_fallbacks(problem) -> None:
    X, y, test = problem["X"], problem["y"], problem["test"]
    sets = problem["sets"][3:5]
    batched = sweep(X, y, sets, test, "logreg")
    looped = sweep(X, y, sets, test, "logreg", engine="sklearn")
    _assert_metrics_close(y[test], batched, looped)
    svm = sweep(X, y, sets, test, "svm")
    ref = PlattSVC().fit(X[sets[0]], y[sets[0]]).predict_proba(X[test])[:, 1]
    np.testing.assert_allclose(svm[0], ref)
    nb = sweep(X, y, sets, test, GaussianNB(), {"var_smoothing": 1e-6})
    np.testing.assert_allclose(
        nb[1], GaussianNB(var_smoothing=1e-6).fit(X[sets[1]], y[sets[1]]).predict_proba(X[test])[:, 1]
    )
    parallel = sweep(X, y, sets, test, "nielsen-knn", n_jobs=2)
    assert parallel.shape == (2, test.size) and ((parallel >= 0) & (parallel <= 1)).all()
    with pytest.raises(SpecError, match="No batched implementation"):
        sweep(X, y, sets, test, "svm", engine="batched")


def test_progress_reports_every_fit(problem) -> None:
    X, y, sets, test = problem["X"], problem["y"], problem["sets"], problem["test"]
    for classifier, params in (("logreg", {}), ("knn", {"n_neighbors": 1}), ("svm", {})):
        calls: list[tuple[int, int]] = []
        sweep(
            X, y, sets[:5], test, classifier, params, progress=lambda d, t, calls=calls: calls.append((d, t))
        )
        assert calls[-1] == (5, 5) and all(t == 5 for _, t in calls)
        assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_one_class_training_set_is_a_budget_error(problem) -> None:
    X, y, test = problem["X"], problem["y"], problem["test"]
    pos = np.flatnonzero(y[:700] == 1)[:5]
    sets = [problem["sets"][3], pos]
    for classifier in ("logreg", "linear-probe", "knn", "svm"):
        with pytest.raises(BudgetError, match=r"Training set 1 \(5 cells\) holds only positive cells"):
            sweep(X, y, sets, test, classifier)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"classifier": "random-forest"}, "Known classifiers"),
        ({"params": {"n_trees": 3}}, "no parameter"),
        ({"engine": "fast"}, "engine"),
        ({"test_idx": [np.arange(5)]}, "1 test sets for 3 training sets"),
        ({"test_idx": np.array([0, 10_000])}, "outside"),
        ({"train_sets": [np.array([0.5, 1.5])]}, "integer"),
        ({"train_sets": []}, "No training sets"),
        ({"y": np.full(900, 2)}, "0/1"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_sweep_input_is_a_spec_error(problem, kwargs: dict, match: str) -> None:
    args = {
        "X": problem["X"],
        "y": problem["y"],
        "train_sets": problem["sets"][3:6],
        "test_idx": problem["test"],
    }
    args.update(kwargs)
    with pytest.raises(SpecError, match=match):
        sweep(**args)


def test_non_finite_embeddings_are_refused(problem) -> None:
    X = problem["X"].copy()
    X[3, 3] = np.nan
    with pytest.raises(SpecError, match="NaN"):
        sweep(X, problem["y"], problem["sets"][3:5], problem["test"])


def test_linear_fits_are_plain_arrays(problem) -> None:
    X, y, sets = problem["X"], problem["y"], problem["sets"][:3]
    fits = fit_linear(X, y, sets)
    assert isinstance(fits, LinearFits)
    assert fits.coef.shape == (3, X.shape[1]) and fits.intercept.shape == (3,) and len(fits.method) == 3
    assert (fits.n_iter > 0).all()


def test_iteration_cap_warns(problem) -> None:
    X, y, sets = problem["X"], problem["y"], problem["sets"][4:6]
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit_linear(X, y, sets, method="sesop", max_iter=2, tol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(problem) -> None:
    X, y, sets, test = problem["X"], problem["y"], problem["sets"], problem["test"]
    for classifier in ("logreg", "linear-probe", "knn"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KNeighborsCappedWarning)
            cpu = sweep(X, y, sets, test, classifier)
            gpu = sweep(X, y, sets, test, classifier, device="cuda")
        assert np.abs(cpu - gpu).max() < 1e-3, classifier
