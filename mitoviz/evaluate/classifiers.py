"""Light classifiers on frozen embeddings, as scikit-learn estimators, and their registry.

Every classifier follows the scikit-learn estimator contract (``fit`` returns self, fitted
attributes end in ``_``, no logic in ``__init__``), so it can be cloned per fit and dropped
into :func:`mitoviz.evaluate.sweep.sweep`. Registry names:

- ``linear-probe``: :class:`LinearProbe`, the UNI / FMC linear probe.
- ``logreg``: scikit-learn ``LogisticRegression`` (L2, ``C=1``, ``max_iter=1000``).
- ``knn``: :class:`CosineKNN`, kNN with the cosine metric.
- ``svm``: :class:`PlattSVC`, RBF SVM with Platt-scaled probabilities.
- ``nielsen-logreg``, ``nielsen-knn``, ``nielsen-svm``: Nielsen et al. 2023, PowerTransformer
  (Yeo-Johnson, standardised) → PCA (all components) → the classifier with the paper's
  settings.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PowerTransformer
from sklearn.svm import SVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from mitoviz.config import resolve_device
from mitoviz.errors import BudgetError, SpecError


class SingleClassError(BudgetError, ValueError):
    """A training set holds one class only (a ``ValueError`` too, as scikit-learn expects)."""


def _require_two_classes(classes: np.ndarray, name: str) -> None:
    if classes.size < 2:
        raise SingleClassError(
            f"{name} got training labels of one class only ({classes[0]!r}); it needs at least two.",
            "Draw cells of every class into each training set.",
        )


class LinearProbe(ClassifierMixin, BaseEstimator):
    """Linear probe exactly as UNI's ``eval_linear_probe`` (used by FMC) fits it.

    ``nn.Linear(D, K)`` with bias, zero-initialised; loss = mean cross-entropy +
    ``(1/C)·0.5·‖W‖₂`` (the norm, not its square; the bias is not penalised); one
    full-batch ``torch.optim.LBFGS(line_search_fn="strong_wolfe", max_iter=max_iter)``
    step. ``C=None`` means ``C = D·K/100`` (no tuning). No feature standardisation.

    As in UNI, the norm's gradient at ``W = 0`` is taken as 0; when the penalty outweighs
    the data (tiny ``C``) the first line search finds no decrease and the probe stays at
    ``W = 0, b = 0`` (P = 0.5 everywhere), where the true minimiser has ``b`` = the
    log-odds of the positive share. The batched sweep returns that minimiser.

    Fitted attributes: ``classes_``, ``coef_`` ``[K, D]``, ``intercept_`` ``[K]``, ``C_``,
    ``n_iter_``, ``n_features_in_``.
    """

    def __init__(self, C: float | None = None, max_iter: int = 1000, device: str = "cpu") -> None:
        self.C = C
        self.max_iter = max_iter
        self.device = device

    def fit(self, X: Any, y: Any) -> LinearProbe:
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        _require_two_classes(self.classes_, "LinearProbe")
        n_classes, dim = self.classes_.size, X.shape[1]
        self.C_ = dim * n_classes / 100 if self.C is None else float(self.C)
        if not self.C_ > 0:
            raise SpecError(f"LinearProbe needs C > 0, got {self.C_}.")
        dev = torch.device(resolve_device(self.device))
        feats = torch.tensor(X, dtype=torch.float32, device=dev)
        target = torch.as_tensor(labels, dtype=torch.long, device=dev)
        linear = torch.nn.Linear(dim, n_classes, bias=True).to(dev)
        with torch.no_grad():
            linear.weight.zero_()
            linear.bias.zero_()
        criterion = torch.nn.CrossEntropyLoss()
        opt = torch.optim.LBFGS(linear.parameters(), line_search_fn="strong_wolfe", max_iter=self.max_iter)

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = criterion(linear(feats), target) + (1.0 / self.C_) * 0.5 * linear.weight.norm(p=2)
            loss.backward()
            return loss

        opt.step(closure)
        state = opt.state[linear.weight]
        self.n_iter_ = int(state.get("n_iter", 0))
        self.coef_ = linear.weight.detach().cpu().numpy().astype(np.float64)
        self.intercept_ = linear.bias.detach().cpu().numpy().astype(np.float64)
        return self

    def _logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_

    def decision_function(self, X: Any) -> np.ndarray:
        """Logit of the last class against the first for two classes, else one logit per class."""
        logits = self._logits(X)
        if self.classes_.size == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X: Any) -> np.ndarray:
        logits = self._logits(X)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        winner = self._logits(X).argmax(axis=1)
        return self.classes_[winner]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # C = D·K/100 regularises hard when D is tiny, as in scikit-learn's 2-D check data
        tags.classifier_tags.poor_score = True
        return tags


class KNeighborsCappedWarning(UserWarning):
    """A training set was smaller than ``n_neighbors``; kNN used all its cells instead."""


class CosineKNN(ClassifierMixin, BaseEstimator):
    """kNN vote with the cosine metric (scikit-learn ``KNeighborsClassifier``, brute force).

    With fewer training cells than ``n_neighbors`` all cells are used (``n_neighbors_``
    holds the number used) and a :class:`KNeighborsCappedWarning` says so.
    ``weights="distance"`` weighs votes by 1 / cosine distance.
    """

    def __init__(self, n_neighbors: int = 20, weights: str = "uniform") -> None:
        self.n_neighbors = n_neighbors
        self.weights = weights

    def fit(self, X: Any, y: Any) -> CosineKNN:
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        classes = np.unique(y)
        _require_two_classes(classes, "CosineKNN")
        if int(self.n_neighbors) < 1:
            raise SpecError(f"n_neighbors must be at least 1, got {self.n_neighbors}.")
        self.n_neighbors_ = min(int(self.n_neighbors), X.shape[0])
        if self.n_neighbors_ < self.n_neighbors:
            warnings.warn(
                f"Only {X.shape[0]} training cells for n_neighbors={self.n_neighbors}; using all of them.",
                KNeighborsCappedWarning,
                stacklevel=2,
            )
        self.knn_ = KNeighborsClassifier(
            n_neighbors=self.n_neighbors_, weights=self.weights, metric="cosine", algorithm="brute"
        ).fit(X, y)
        self.classes_ = self.knn_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.knn_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        winner = self.predict_proba(X).argmax(axis=1)
        return self.classes_[winner]


class PlattSVC(ClassifierMixin, BaseEstimator):
    """RBF SVM with probabilities by Platt scaling, as ``SVC(probability=True)`` gives them.

    ``SVC(probability=True)`` is deprecated in scikit-learn 1.9; this uses the documented
    replacement ``CalibratedClassifierCV(SVC(...), method="sigmoid", ensemble=False)`` with
    stratified ``min(cv, smallest class count)`` folds. With a single cell in some class no
    cross-validation is possible: probabilities are then the logistic of the SVM decision
    value (a fixed, uncalibrated Platt map), so one-shot budgets still give a curve point.
    """

    def __init__(
        self,
        C: float = 1.0,
        gamma: str | float = "scale",
        class_weight: str | Mapping[Any, float] | None = "balanced",
        cv: int = 5,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.gamma = gamma
        self.class_weight = class_weight
        self.cv = cv
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> PlattSVC:
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        self.classes_, counts = np.unique(y, return_counts=True)
        _require_two_classes(self.classes_, "PlattSVC")
        svc = SVC(kernel="rbf", C=self.C, gamma=self.gamma, class_weight=self.class_weight)
        folds = min(int(self.cv), int(counts.min()))
        if folds >= 2:
            splitter = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
            self.model_ = CalibratedClassifierCV(svc, method="sigmoid", cv=splitter, ensemble=False).fit(X, y)
            self.calibrated_ = True
        else:
            self.model_ = svc.fit(X, y)
            self.calibrated_ = False
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        if self.calibrated_:
            return self.model_.predict_proba(X)
        dec = self.model_.decision_function(X)
        if self.classes_.size == 2:
            p = 1.0 / (1.0 + np.exp(-dec))
            return np.column_stack([1 - p, p])
        e = np.exp(dec - dec.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        winner = self.predict_proba(X).argmax(axis=1)
        return self.classes_[winner]


def nielsen_pipeline(classifier: BaseEstimator) -> Pipeline:
    """Nielsen et al. 2023 preprocessing: Yeo-Johnson PowerTransformer → PCA (all components)."""
    return Pipeline(
        [
            ("power", PowerTransformer(method="yeo-johnson", standardize=True)),
            ("pca", PCA(n_components=None)),
            ("clf", classifier),
        ]
    )


@dataclass(frozen=True)
class ClassifierSpec:
    """A registered classifier: how to build it and whether :func:`sweep` batches it."""

    name: str
    description: str
    build: Callable[[], BaseEstimator]
    nielsen: bool = False
    batched: bool = False


def _spec(
    name: str, description: str, build: Callable[[], BaseEstimator], batched: bool = False
) -> ClassifierSpec:
    return ClassifierSpec(name, description, build, nielsen=False, batched=batched)


def _nielsen(name: str, description: str, build: Callable[[], BaseEstimator]) -> ClassifierSpec:
    return ClassifierSpec(name, description, lambda: nielsen_pipeline(build()), nielsen=True)


CLASSIFIERS: dict[str, ClassifierSpec] = {
    s.name: s
    for s in (
        _spec(
            "linear-probe",
            "UNI/FMC linear probe: torch L-BFGS, mean CE + (1/C)·0.5·‖W‖, C = D·K/100",
            LinearProbe,
            batched=True,
        ),
        _spec(
            "logreg",
            "scikit-learn LogisticRegression, L2, C=1",
            lambda: LogisticRegression(C=1.0, max_iter=1000),
            batched=True,
        ),
        _spec("knn", "kNN vote, cosine metric, k=20", CosineKNN, batched=True),
        _spec("svm", "RBF SVM, C=1, gamma='scale', balanced class weights, Platt probabilities", PlattSVC),
        _nielsen(
            "nielsen-logreg",
            "Nielsen 2023: PowerTransformer → PCA → LogisticRegression(C=2.5, balanced)",
            lambda: LogisticRegression(C=2.5, class_weight="balanced", max_iter=10000),
        ),
        _nielsen(
            "nielsen-knn",
            "Nielsen 2023: PowerTransformer → PCA → kNN(k=10, distance weights, Euclidean)",
            lambda: KNeighborsClassifier(n_neighbors=10, weights="distance"),
        ),
        _nielsen(
            "nielsen-svm",
            "Nielsen 2023: PowerTransformer → PCA → RBF SVM (C=1, gamma='scale', balanced, Platt)",
            PlattSVC,
        ),
    )
}


def list_classifiers() -> list[str]:
    """Names of all registered classifiers."""
    return list(CLASSIFIERS)


def make_classifier(name: str, **params: Any) -> BaseEstimator:
    """Build a registered classifier; ``params`` override its defaults.

    For the ``nielsen-`` variants the parameters go to the final classifier step.
    """
    spec = CLASSIFIERS.get(name)
    if spec is None:
        raise SpecError(f"Unknown classifier {name!r}.", f"Known classifiers: {', '.join(CLASSIFIERS)}.")
    estimator = spec.build()
    target = estimator.named_steps["clf"] if isinstance(estimator, Pipeline) else estimator
    unknown = sorted(set(params) - set(target.get_params(deep=False)))
    if unknown:
        raise SpecError(
            f"Classifier {name!r} has no parameter(s) {', '.join(unknown)}.",
            f"Its parameters: {', '.join(sorted(target.get_params(deep=False)))}.",
        )
    target.set_params(**params)
    return estimator


def batched_config(name: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """How :func:`~mitoviz.evaluate.sweep.sweep` can batch ``name`` with ``params``, or None.

    Returns None when the parameters change the objective in a way the batched solvers do
    not implement (e.g. an L1 penalty or liblinear's penalised intercept); the sweep then
    loops over scikit-learn fits. Solver settings (``max_iter``, ``tol``, ``solver``) do
    not change the minimiser and are not used by the batched path, which solves to its own
    tolerance.
    """
    spec = CLASSIFIERS.get(name)
    if spec is None or not spec.batched:
        return None
    p = make_classifier(name, **params).get_params(deep=False)
    if name == "linear-probe":
        return {"kind": "linear-probe", "C": p["C"]}
    if name == "knn":
        if p["weights"] not in ("uniform", "distance"):
            return None
        return {"kind": "knn", "n_neighbors": int(p["n_neighbors"]), "weights": p["weights"]}
    if p.get("l1_ratio") not in (0, 0.0, None) or p.get("penalty") not in ("deprecated", "l2"):
        return None
    if p.get("solver") == "liblinear":
        return None
    return {
        "kind": "logreg",
        "C": float(p["C"]),
        "class_weight": p["class_weight"],
        "fit_intercept": bool(p["fit_intercept"]),
    }
