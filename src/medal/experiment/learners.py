"""Learners: scikit-learn estimators wrapped for scikit-activeml, updated by ``fit``, ``warm_start`` or
``partial_fit``."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from skactiveml.classifier import SklearnClassifier
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

from medal.errors import UserError

UPDATE_MODES = ("fit", "warm_start", "partial_fit")
# How classes weigh in a learner's fit: ``balanced`` gives every class the same total weight, whatever the labelled
# set's class ratio (its decisions do not drift towards the majority as labels follow the pool's prior); ``none``
# weighs every labelled sample the same.
CLASS_WEIGHTS = ("balanced", "none")


def _logistic_regression(random_state: int, **params: Any) -> ClassifierMixin:
    return LogisticRegression(random_state=random_state, **params)


def _sgd_log_loss(random_state: int, **params: Any) -> ClassifierMixin:
    return SGDClassifier(loss="log_loss", random_state=random_state, **params)


def _gaussian_nb(random_state: int, **params: Any) -> ClassifierMixin:
    return GaussianNB(**params)  # deterministic: no random_state


def _mlp(random_state: int, **params: Any) -> ClassifierMixin:
    return MLPClassifier(random_state=random_state, **params)


def _random_forest(random_state: int, **params: Any) -> ClassifierMixin:
    return RandomForestClassifier(random_state=random_state, **params)


class CalibratedSVC(ClassifierMixin, BaseEstimator):
    """An RBF support-vector machine with Platt-scaled (sigmoid) probabilities.

    scikit-learn deprecates ``SVC(probability=True)`` (removed in 1.11) for
    ``CalibratedClassifierCV(SVC(), method="sigmoid", ensemble=False)``, whose folds need labelled
    samples of every class. Active learning starts from a few labels, so the number of stratified
    folds is ``min(folds, smallest class count)``; while a class has a single labelled sample no
    fold split is possible, and the sigmoid is fitted on the training decision values instead.
    """

    _parameter_constraints: dict = {
        **{key: SVC._parameter_constraints[key] for key in ("C", "gamma", "class_weight", "random_state")},
        "folds": [int],
    }

    def __init__(
        self,
        C: float = 1.0,
        gamma: str | float = "scale",
        class_weight: Any = None,
        folds: int = 5,
        random_state: int | None = None,
    ):
        self.C = C
        self.gamma = gamma
        self.class_weight = class_weight
        self.folds = folds
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> CalibratedSVC:
        """Fit the SVM and its sigmoid calibration on the labelled samples.

        A ``class_weight`` weighs the samples of both fits: the sigmoid, fitted on the classes' shares, would
        otherwise move the SVM's weighted decisions back towards the majority class."""
        self._validate_params()
        svc = SVC(kernel="rbf", C=self.C, gamma=self.gamma)
        weights = None if self.class_weight is None else compute_sample_weight(self.class_weight, y)
        smallest = int(np.unique(y, return_counts=True)[1].min())
        if smallest >= 2:
            cv = StratifiedKFold(min(self.folds, smallest), shuffle=True, random_state=self.random_state)
            calibrated = CalibratedClassifierCV(svc, method="sigmoid", cv=cv, ensemble=False)
            self.calibrated_ = calibrated.fit(X, y, sample_weight=weights)
        else:
            in_sample = [(np.arange(len(y)), np.arange(len(y)))]  # one "split": the sigmoid sees the training decisions
            frozen = FrozenEstimator(svc.fit(X, y, sample_weight=weights))
            with warnings.catch_warnings():  # the weights reach the frozen SVM's own fit above, as they should
                warnings.filterwarnings("ignore", "Since FrozenEstimator does not appear to accept sample_weight")
                calibrated = CalibratedClassifierCV(frozen, method="sigmoid", cv=in_sample, ensemble=False)
                self.calibrated_ = calibrated.fit(X, y, sample_weight=weights)
        self.classes_ = self.calibrated_.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities."""
        check_is_fitted(self)
        return self.calibrated_.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The class of highest calibrated probability."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _svm_rbf(random_state: int, **params: Any) -> ClassifierMixin:
    return CalibratedSVC(random_state=random_state, **params)


# Estimator factories by the name used in params.yaml, with the update modes each offers besides ``fit``
# (``warm_start``: scikit-learn's warm start continues from the previous solution; a random forest's would only
# add trees, so it is not offered).
ESTIMATORS: dict[str, tuple[Callable[..., ClassifierMixin], tuple[str, ...]]] = {
    "logistic_regression": (_logistic_regression, ("warm_start",)),
    "sgd_log_loss": (_sgd_log_loss, ("warm_start", "partial_fit")),
    "gaussian_nb": (_gaussian_nb, ("partial_fit",)),
    "mlp": (_mlp, ("warm_start", "partial_fit")),
    "random_forest": (_random_forest, ()),
    "svm_rbf": (_svm_rbf, ()),
}


# Estimators whose own ``class_weight="balanced"`` applies to their fit (so every copy a strategy refits, a
# committee member or an expected-error model, is weighted too); SGD's ``partial_fit`` refuses it.
CLASS_WEIGHT_PARAM = {"logistic_regression", "sgd_log_loss", "random_forest", "svm_rbf"}


class Learner:
    """A configured learner: builds a fresh classifier per run and updates it after each query.

    ``update="fit"`` refits from scratch on every label revealed so far; ``update="warm_start"`` fits
    on every label so far too, starting from the previous cycle's solution (scikit-learn's
    ``warm_start``: the incremental update a practitioner would use); ``update="partial_fit"`` feeds
    only the newly labelled samples to the estimator's ``partial_fit``, ``epochs`` times (one call is
    one pass; for an MLP it is a single optimiser step per mini-batch).

    ``class_weight="balanced"`` weighs each labelled sample by n / (k n_c) (n labels so far, k classes, n_c of its
    class), so that every class weighs the same: through the estimator's own ``class_weight`` where its update
    takes it (:data:`CLASS_WEIGHT_PARAM`), as uniform class priors for Gaussian naive Bayes (the same model: its
    class means and variances do not depend on class weights), and otherwise (MLP, SGD's ``partial_fit``) as
    sample weights computed from every label so far and passed to ``fit`` or ``partial_fit``.
    """

    def __init__(
        self,
        name: str,
        estimator: str,
        update: str,
        params: dict[str, Any] | None = None,
        epochs: int = 1,
        class_weight: str = "none",
    ):
        factory, modes = ESTIMATORS[estimator]
        if update != "fit" and update not in modes:
            raise UserError(f"params.yaml: learners.{name}: {estimator} has no {update}; set update: fit")
        if class_weight not in CLASS_WEIGHTS:
            raise UserError(
                f"params.yaml: learners.{name}.class_weight must be one of {', '.join(CLASS_WEIGHTS)}, "
                f"got {class_weight!r}"
            )
        if "class_weight" in (params or {}) or "priors" in (params or {}):
            raise UserError(
                f"params.yaml: learners.{name}.params: set class weights with learners.{name}.class_weight "
                f"({' or '.join(CLASS_WEIGHTS)}), not in params"
            )
        self.name = name
        self.estimator = estimator
        self.update_mode = update
        if update != "partial_fit" and epochs != 1:
            raise UserError(f"params.yaml: learners.{name}: epochs applies to update: partial_fit only; remove it")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise UserError(f"params.yaml: learners.{name}.epochs must be a positive integer, got {epochs!r}")
        self.params = dict(params or {})
        self.epochs = epochs
        self.class_weight = class_weight
        self._factory = factory
        balanced = class_weight == "balanced"
        self._weight_param = balanced and estimator in CLASS_WEIGHT_PARAM and update != "partial_fit"
        self._uniform_priors = balanced and estimator == "gaussian_nb"
        self._sample_weights = balanced and not (self._weight_param or self._uniform_priors)

    @classmethod
    def from_params(cls, name: str, spec: dict[str, Any]) -> Learner:
        """Build from one entry of ``params.yaml``'s ``learners`` section."""
        return cls(
            name,
            spec["estimator"],
            spec["update"],
            spec.get("params"),
            spec.get("epochs", 1),
            spec.get("class_weight", "none"),
        )

    def make(self, classes: np.ndarray, random_state: int) -> SklearnClassifier:
        """A new, unfitted scikit-activeml classifier for one run."""
        params = dict(self.params)
        if self._weight_param:
            params["class_weight"] = "balanced"
        if self._uniform_priors:
            params["priors"] = np.full(len(classes), 1 / len(classes))
        estimator = self._factory(random_state, **params)
        if self.update_mode == "warm_start":
            estimator.set_params(warm_start=True)
        return SklearnClassifier(estimator, classes=classes, random_state=random_state)

    def _weights(self, y: np.ndarray) -> np.ndarray | None:
        """Balanced sample weights of the labelled samples of ``y`` (NaN: unlabelled, weight 0), from every label so
        far; None where the estimator weighs classes itself or no weighting is asked for."""
        if not self._sample_weights:
            return None
        labelled = ~np.isnan(y)
        weights = np.zeros(len(y))
        weights[labelled] = compute_sample_weight("balanced", y[labelled])
        return weights

    def _checked(self, clf: SklearnClassifier, fit: Callable[[], Any], labels: np.ndarray) -> None:
        """Run ``fit`` and raise a :class:`UserError` if the estimator failed on ``labels`` (NaN: unlabelled).

        scikit-activeml's wrapper catches an estimator's exception and falls back to predicting the
        class priors with a warning only; here such a failure stops the run instead, unless the labels
        hold a single class (a noisy oracle can answer so early on): no classifier can be fitted to one
        class, and predicting it is the only model there is. Other warnings pass through.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit()
        failures = [w for w in caught if "could not be fitted" in str(w.message)]
        for w in caught:
            if w not in failures:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        single_class = len(np.unique(labels[~np.isnan(labels)])) < 2
        if not clf.is_fitted_ and not single_class:
            message = str(failures[0].message) if failures else "unknown cause"
            cause = message.split("because of '", 1)[-1].split("'. Therefore", 1)[0].rstrip(".")
            raise UserError(
                f"learner '{self.name}' ({self.estimator}) failed to fit: {cause}; "
                f"fix learners.{self.name} in params.yaml"
            )

    def update(self, clf: SklearnClassifier, X: np.ndarray, y: np.ndarray, new: np.ndarray) -> None:
        """Update ``clf`` after the samples ``new`` were labelled; ``y`` holds NaN for unlabelled samples."""
        weights = self._weights(y)
        if self.update_mode == "fit":
            self._checked(clf, lambda: clf.fit(X, y, **_weighted(weights)), y)
        elif self.update_mode == "warm_start":
            restart_stopping_rule(clf.estimator)
            self._checked(clf, lambda: clf.fit(X, y, **_weighted(weights)), y)
            if clf.is_fitted_:  # SklearnClassifier fits a copy of `estimator`: the next fit starts from this one
                clf.estimator = clf.estimator_
        else:
            batch = None if weights is None else weights[new]
            for _ in range(self.epochs):
                self._checked(clf, lambda: clf.partial_fit(X[new], y[new], **_weighted(batch)), y[new])

    def whole_pool_fit(self) -> str:
        """What :meth:`fit_full` computes, as text: learners that differ only in how they update (refit or warm
        start: the first fit starts from scratch either way) give the same key and the very same model."""
        weighting = (self._weight_param, self._uniform_priors, self._sample_weights)
        return json.dumps([self.estimator, self.params, weighting], sort_keys=True, default=str)

    def fit_full(self, X: np.ndarray, y: np.ndarray, classes: np.ndarray, random_state: int) -> SklearnClassifier:
        """The reference model: the estimator fitted on the whole labelled pool, weighted as in the runs."""
        clf = self.make(classes, random_state)
        labels = y.astype(float)
        weights = self._weights(labels)
        self._checked(clf, lambda: clf.fit(X, y, **_weighted(weights)), labels)
        return clf


def restart_stopping_rule(estimator: ClassifierMixin) -> None:
    """Let a warm-started MLP train until its own stopping rule holds on the new labels.

    scikit-learn's MLP keeps its early-stopping state (``_no_improvement_count``, ``best_loss_``) across
    warm-started fits: the count that ended the previous fit and the best loss on the previous labels make the
    next fit stop after a single epoch. Resetting both starts the stopping rule afresh while the weights are kept,
    as a fit of the same network on the new labels would. Other estimators keep no such state.
    """
    if hasattr(estimator, "_no_improvement_count"):
        estimator._no_improvement_count = 0
        estimator.best_loss_ = np.inf


def _weighted(weights: np.ndarray | None) -> dict[str, np.ndarray]:
    """The keyword that passes sample weights to a fit, or none (not every wrapped estimator accepts one)."""
    return {} if weights is None else {"sample_weight": weights}


def check_estimator_params(name: str, spec: dict[str, Any], where: str | None = None) -> None:
    """Build a learner's estimator and let scikit-learn validate its parameter names and values (``where``: the
    setting named in the message, by default ``learners.<name>.params``)."""
    factory, _ = ESTIMATORS[spec["estimator"]]
    try:
        factory(0, **(spec.get("params") or {}))._validate_params()
    except (TypeError, ValueError) as exc:
        raise UserError(
            f"params.yaml: {where or f'learners.{name}.params'}: {str(exc).rstrip('.')}; "
            "see scikit-learn's documentation"
        ) from None
