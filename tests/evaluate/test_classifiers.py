"""Classifiers: the scikit-learn contract, the registry and the UNI probe's objective."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import check_estimator

from mitoviz.config import resolve_device
from mitoviz.errors import BudgetError, SpecError
from mitoviz.evaluate.classifiers import (
    CLASSIFIERS,
    CosineKNN,
    KNeighborsCappedWarning,
    LinearProbe,
    PlattSVC,
    batched_config,
    list_classifiers,
    make_classifier,
)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    X = rng.standard_normal((60, 12)).astype(np.float32) + 0.8 * y[:, None] + 2.0
    return X, y


@pytest.mark.parametrize(
    ("estimator", "expected_failures"),
    [
        (LinearProbe(), {}),
        (CosineKNN(n_neighbors=3), {}),
        pytest.param(
            PlattSVC(),
            {
                "check_class_weight_classifiers": "Platt calibration on cross-validated decision values "
                "undoes the check's extreme class weights, as SVC(probability=True) would for predict_proba."
            },
            marks=pytest.mark.slow,  # ~6 s alone, 14 s on two busy cores: every check cross-validates
        ),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, dict) else "",
)
def test_scikit_learn_estimator_contract(estimator, expected_failures) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(estimator, expected_failed_checks=expected_failures)


def test_registry_lists_every_classifier_and_builds_it(data) -> None:
    X, y = data
    assert list_classifiers() == list(CLASSIFIERS)
    assert {"linear-probe", "logreg", "knn", "svm", "nielsen-logreg", "nielsen-knn", "nielsen-svm"} <= set(
        CLASSIFIERS
    )
    for name, spec in CLASSIFIERS.items():
        est = make_classifier(name)
        assert spec.description
        assert isinstance(est, Pipeline) == spec.nielsen, name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KNeighborsCappedWarning)
            proba = clone(est).fit(X, y).predict_proba(X)
        assert proba.shape == (60, 2)
        np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-9)
        assert proba[y == 1, 1].mean() > proba[y == 0, 1].mean(), name


def test_nielsen_pipeline_steps_and_paper_settings() -> None:
    pipe = make_classifier("nielsen-logreg")
    assert [n for n, _ in pipe.steps] == ["power", "pca", "clf"]
    assert pipe.named_steps["power"].get_params()["method"] == "yeo-johnson"
    assert pipe.named_steps["power"].get_params()["standardize"] is True
    assert pipe.named_steps["pca"].n_components is None
    clf = pipe.named_steps["clf"]
    assert (clf.C, clf.class_weight, clf.max_iter) == (2.5, "balanced", 10000)
    knn = make_classifier("nielsen-knn").named_steps["clf"]
    assert (knn.n_neighbors, knn.weights) == (10, "distance")
    svm = make_classifier("nielsen-svm", C=3.0).named_steps["clf"]
    assert (svm.C, svm.gamma, svm.class_weight) == (3.0, "scale", "balanced")


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(SpecError) as err:
        make_classifier("random-forest")
    for name in ("linear-probe", "logreg", "knn", "svm", "nielsen-svm"):
        assert name in str(err.value)


def test_unknown_parameter_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="n_estimators"):
        make_classifier("logreg", n_estimators=3)
    assert make_classifier("logreg", C=0.5).C == 0.5


@pytest.mark.parametrize("name", ["linear-probe", "knn", "svm"])
def test_one_class_training_set_is_a_budget_error(name: str, data) -> None:
    X, _ = data
    with pytest.raises(BudgetError, match="one class"):
        make_classifier(name).fit(X[:10], np.ones(10, int))


def _uni_loss(probe: LinearProbe, X: np.ndarray, y: np.ndarray) -> torch.Tensor:
    W = torch.tensor(probe.coef_, requires_grad=True)
    b = torch.tensor(probe.intercept_, requires_grad=True)
    logits = torch.tensor(X, dtype=torch.float64) @ W.T + b
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y)) + 0.5 / probe.C_ * W.norm()
    loss.backward()
    return W.grad, b.grad  # type: ignore[return-value]


def test_linear_probe_minimises_the_uni_objective() -> None:
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], [70, 50])
    X = rng.standard_normal((120, 64)).astype(np.float32) + 0.6 * y[:, None] + 1.0
    probe = LinearProbe().fit(X, y)
    assert pytest.approx(64 * 2 / 100) == probe.C_
    assert np.abs(probe.coef_).max() > 0.01
    gw, gb = _uni_loss(probe, X, y)
    assert float(gw.abs().max()) < 1e-3 and float(gb.abs().max()) < 1e-3
    # the binary optimum is antisymmetric: W = (-v/2, v/2), b = (-c/2, c/2)
    np.testing.assert_allclose(probe.coef_[0], -probe.coef_[1], atol=1e-5)
    assert probe.n_iter_ > 0
    proba = probe.predict_proba(X)
    logit = probe.decision_function(X)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-logit)), atol=1e-12)


def test_linear_probe_is_not_sklearn_logistic_regression(data) -> None:
    """Same C, different objective (norm vs half squared norm, mean vs sum): not the same model."""
    X, y = data
    probe = LinearProbe().fit(X, y)
    sk = LogisticRegression(C=probe.C_, max_iter=10000).fit(X, y)
    assert np.abs(probe.predict_proba(X)[:, 1] - sk.predict_proba(X)[:, 1]).max() > 0.05


def test_knn_caps_k_and_says_so(data) -> None:
    X, y = data
    with pytest.warns(KNeighborsCappedWarning, match="using all of them"):
        knn = CosineKNN(n_neighbors=50).fit(X[25:35], y[25:35])
    assert knn.n_neighbors_ == 10 and knn.n_neighbors == 50
    np.testing.assert_allclose(knn.predict_proba(X)[:, 1], 0.5)


def test_platt_svc_one_shot_budget_still_gives_probabilities(data) -> None:
    X, y = data
    svc = PlattSVC().fit(X[[0, 59]], y[[0, 59]])
    assert svc.calibrated_ is False
    p = svc.predict_proba(X)[:, 1]
    assert ((p > 0) & (p < 1)).all() and p[y == 1].mean() > p[y == 0].mean()
    assert PlattSVC().fit(X[25:40], y[25:40]).calibrated_ is True  # 5 and 10 cells: 5 folds


def test_batched_config_only_for_objectives_it_implements() -> None:
    assert batched_config("logreg", {}) == {
        "kind": "logreg",
        "C": 1.0,
        "class_weight": None,
        "fit_intercept": True,
    }
    assert batched_config("logreg", {"l1_ratio": 1.0, "solver": "saga"}) is None
    assert batched_config("logreg", {"solver": "liblinear"}) is None
    assert batched_config("linear-probe", {"C": 2.0}) == {"kind": "linear-probe", "C": 2.0}
    assert batched_config("knn", {"n_neighbors": 5, "weights": "distance"}) == {
        "kind": "knn",
        "n_neighbors": 5,
        "weights": "distance",
    }
    assert batched_config("svm", {}) is None
    assert batched_config("nielsen-logreg", {}) is None


def test_device_resolution() -> None:
    """One resolve_device for the code base (mitoviz.config): a string torch.device() takes as it is."""
    assert torch.device(resolve_device("cpu")).type == "cpu"
    assert torch.device(resolve_device("auto")).type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(torch.device("cpu")) == "cpu"
    with pytest.raises(SpecError):
        resolve_device("tpu-9000")
    if not torch.cuda.is_available():
        with pytest.raises(SpecError, match="CUDA"):
            resolve_device("cuda")
    else:
        with pytest.raises(SpecError, match="GPU"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
    # for a Dask cluster the name is only checked: its workers resolve it
    assert (resolve_device("auto", here=False), resolve_device("cuda:1", here=False)) == ("auto", "cuda:1")
    with pytest.raises(SpecError):
        resolve_device("tpu-9000", here=False)
