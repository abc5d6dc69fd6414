"""Learners: scikit-learn estimators wrapped for scikit-activeml, updated by ``fit`` or ``partial_fit``."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC
from skactiveml.classifier import SklearnClassifier

from medal.errors import UserError

UPDATE_MODES = ("fit", "partial_fit")


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


def _svm_rbf(random_state: int, **params: Any) -> ClassifierMixin:
    return SVC(kernel="rbf", probability=True, random_state=random_state, **params)


# Estimator factories by the name used in params.yaml, with whether they offer partial_fit.
ESTIMATORS: dict[str, tuple[Callable[..., ClassifierMixin], bool]] = {
    "logistic_regression": (_logistic_regression, False),
    "sgd_log_loss": (_sgd_log_loss, True),
    "gaussian_nb": (_gaussian_nb, True),
    "mlp": (_mlp, True),
    "random_forest": (_random_forest, False),
    "svm_rbf": (_svm_rbf, False),
}


class Learner:
    """A configured learner: builds a fresh classifier per run and updates it after each query.

    ``update="fit"`` refits on every label revealed so far; ``update="partial_fit"`` feeds only
    the newly labelled samples to the estimator's ``partial_fit``, ``epochs`` times (one call is
    one pass; for an MLP it is a single optimiser step per mini-batch).
    """

    def __init__(self, name: str, estimator: str, update: str, params: dict[str, Any] | None = None, epochs: int = 1):
        factory, has_partial_fit = ESTIMATORS[estimator]
        if update == "partial_fit" and not has_partial_fit:
            raise UserError(f"params.yaml: learners.{name}: {estimator} has no partial_fit; set update: fit")
        self.name = name
        self.estimator = estimator
        self.update_mode = update
        if update == "fit" and epochs != 1:
            raise UserError(f"params.yaml: learners.{name}: epochs applies to update: partial_fit only; remove it")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise UserError(f"params.yaml: learners.{name}.epochs must be a positive integer, got {epochs!r}")
        self.params = dict(params or {})
        self.epochs = epochs
        self._factory = factory

    @classmethod
    def from_params(cls, name: str, spec: dict[str, Any]) -> "Learner":
        """Build from one entry of ``params.yaml``'s ``learners`` section."""
        return cls(name, spec["estimator"], spec["update"], spec.get("params"), spec.get("epochs", 1))

    def make(self, classes: np.ndarray, random_state: int) -> SklearnClassifier:
        """A new, unfitted scikit-activeml classifier for one run."""
        return SklearnClassifier(
            self._factory(random_state, **self.params), classes=classes, random_state=random_state
        )

    def update(self, clf: SklearnClassifier, X: np.ndarray, y: np.ndarray, new: np.ndarray) -> None:
        """Update ``clf`` after the samples ``new`` were labelled; ``y`` holds NaN for unlabelled samples."""
        if self.update_mode == "fit":
            clf.fit(X, y)
        else:
            for _ in range(self.epochs):
                clf.partial_fit(X[new], y[new])

    def fit_full(self, X: np.ndarray, y: np.ndarray, classes: np.ndarray, random_state: int) -> SklearnClassifier:
        """The reference model: the estimator fitted on the whole labelled pool."""
        clf = self.make(classes, random_state)
        clf.fit(X, y)
        return clf
