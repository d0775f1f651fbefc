"""The fast sweep: every budget × seed fit of one encoder's embeddings in one batched call.

Linear models ("logreg", "linear-probe") are solved for many training sets at once in torch
(:func:`~mitoviz.evaluate.solvers.fit_linear`); "knn" shares one cosine-similarity matrix between
all fits (:func:`~mitoviz.evaluate.solvers.knn_predict`); everything else (SVM, the Nielsen
pipelines, any scikit-learn estimator) falls back to a loop of scikit-learn fits. This module only
checks the input and dispatches.

Training sets with a single class raise :class:`~mitoviz.errors.BudgetError` before any work is done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, overload

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone

from mitoviz.config import resolve_device
from mitoviz.errors import SpecError
from mitoviz.evaluate.classifiers import batched_config, make_classifier
from mitoviz.evaluate.solvers import (
    LinearFits,
    Progress,
    check_index,
    check_train_sets,
    check_xy,
    fit_linear,
    knn_predict,
)


def _sklearn_loop(
    X: np.ndarray,
    y: np.ndarray,
    sets: list[np.ndarray],
    tests: list[np.ndarray],
    estimator: BaseEstimator,
    n_jobs: int,
    progress: Progress | None,
) -> list[np.ndarray]:
    def one(i: int) -> np.ndarray:
        est = clone(estimator).fit(X[sets[i]], y[sets[i]])
        col = list(est.classes_).index(1)
        return est.predict_proba(X[tests[i]])[:, col]

    if n_jobs == 1:
        out = []
        for i in range(len(sets)):
            out.append(one(i))
            if progress is not None:
                progress(i + 1, len(sets))
        return out
    from joblib import Parallel, delayed

    out = Parallel(n_jobs=n_jobs)(delayed(one)(i) for i in range(len(sets)))
    if progress is not None:
        progress(len(sets), len(sets))
    return list(out)


def _by_test(tests: list[np.ndarray]) -> list[list[int]]:
    """Fits grouped by identical test index (each group is evaluated in one pass)."""
    groups: dict[bytes, list[int]] = {}
    for i, te in enumerate(tests):
        groups.setdefault(te.tobytes(), []).append(i)
    return list(groups.values())


def _probabilities(
    fits: LinearFits, X: np.ndarray, tests: list[np.ndarray], dev: torch.device
) -> list[np.ndarray]:
    """Test probabilities of each fit, one matmul per distinct test set."""
    out: list[np.ndarray] = [np.empty(0)] * len(tests)
    for members in _by_test(tests):
        te = tests[members[0]]
        Xte = torch.as_tensor(np.ascontiguousarray(X[te], dtype=np.float32)).to(dev)
        W = torch.as_tensor(fits.coef[members].T, dtype=torch.float32).to(dev)
        logits = (Xte @ W).to(torch.float64).cpu().numpy() + fits.intercept[members]
        probs = 1.0 / (1.0 + np.exp(-logits))
        for j, i in enumerate(members):
            out[i] = probs[:, j]
    return out


@overload
def sweep(
    X: np.ndarray,
    y: np.ndarray,
    train_sets: Sequence[np.ndarray],
    test_idx: np.ndarray,
    classifier: str | BaseEstimator = ...,
    params: Mapping[str, Any] | None = ...,
    device: str = ...,
    progress: Progress | None = ...,
    *,
    engine: Literal["auto", "batched", "sklearn"] = ...,
    n_jobs: int = ...,
) -> np.ndarray: ...


@overload
def sweep(
    X: np.ndarray,
    y: np.ndarray,
    train_sets: Sequence[np.ndarray],
    test_idx: Sequence[np.ndarray],
    classifier: str | BaseEstimator = ...,
    params: Mapping[str, Any] | None = ...,
    device: str = ...,
    progress: Progress | None = ...,
    *,
    engine: Literal["auto", "batched", "sklearn"] = ...,
    n_jobs: int = ...,
) -> list[np.ndarray]: ...


def sweep(
    X: np.ndarray,
    y: np.ndarray,
    train_sets: Sequence[np.ndarray],
    test_idx: np.ndarray | Sequence[np.ndarray],
    classifier: str | BaseEstimator = "logreg",
    params: Mapping[str, Any] | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
    *,
    engine: Literal["auto", "batched", "sklearn"] = "auto",
    n_jobs: int = 1,
) -> np.ndarray | list[np.ndarray]:
    """Fit one classifier per training set and return P(positive) on the test cells.

    ``test_idx`` is either one index array shared by all fits (returns an array
    ``[n_fits, n_test]``) or one array per fit, e.g. for cross-domain protocols (returns a
    list of 1-D arrays). ``classifier`` is a registry name (see
    :data:`mitoviz.evaluate.classifiers.CLASSIFIERS`) or any scikit-learn classifier, which
    is cloned per fit. ``params`` go to :func:`~mitoviz.evaluate.classifiers.make_classifier`.
    ``engine="auto"`` uses the batched path where one exists ("logreg", "linear-probe",
    "knn"), ``"sklearn"`` forces the loop of scikit-learn fits (``n_jobs`` processes),
    ``"batched"`` fails if there is no batched path. ``progress(done, total)`` is called as
    fits finish.
    """
    X, y = check_xy(X, y)
    sets = check_train_sets(train_sets, y)
    if isinstance(test_idx, np.ndarray):
        shared = test_idx.ndim == 1
    else:
        shared = len(test_idx) > 0 and np.ndim(test_idx[0]) == 0  # a plain list of row indices
    if shared:
        tests = [check_index(np.asarray(test_idx), y.size, "Test index")] * len(sets)
    else:
        seq = list(test_idx)  # type: ignore[arg-type]
        if len(seq) != len(sets):
            raise SpecError(
                f"{len(seq)} test sets for {len(sets)} training sets.",
                "Pass one test index array shared by all fits, or one per fit.",
            )
        tests = [check_index(np.asarray(te), y.size, f"Test set {i}") for i, te in enumerate(seq)]
    if engine not in ("auto", "batched", "sklearn"):
        raise SpecError(f"Unknown engine {engine!r}.", "Use 'auto', 'batched' or 'sklearn'.")
    dev = torch.device(resolve_device(device))
    params = dict(params or {})

    if isinstance(classifier, str):
        estimator = make_classifier(classifier, **params)
        config = batched_config(classifier, params) if engine != "sklearn" else None
    else:
        estimator = clone(classifier).set_params(**params) if params else classifier
        config = None
    if engine == "batched" and config is None:
        raise SpecError(
            f"No batched implementation for {classifier!r} with these parameters.",
            "Use engine='auto' to fall back to scikit-learn fits.",
        )

    if config is None:
        probs = _sklearn_loop(X, y, sets, tests, estimator, n_jobs, progress)
    elif config["kind"] == "knn":
        probs = [np.empty(0)] * len(sets)
        done = 0
        for members in _by_test(tests):
            p = knn_predict(
                X,
                y,
                [sets[i] for i in members],
                tests[members[0]],
                n_neighbors=config["n_neighbors"],
                weights=config["weights"],
                device=dev,
            )
            for j, i in enumerate(members):
                probs[i] = p[j]
            done += len(members)
            if progress is not None:
                progress(done, len(sets))
    else:
        fits = fit_linear(
            X,
            y,
            sets,
            config["kind"],
            C=config["C"],
            class_weight=config.get("class_weight"),
            fit_intercept=config.get("fit_intercept", True),
            device=dev,
            progress=progress,
        )
        probs = _probabilities(fits, X, tests, dev)
    if shared:
        return np.stack(probs)
    return probs
