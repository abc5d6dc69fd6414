"""Learners: scikit-learn estimators wrapped for scikit-activeml, updated by ``fit`` or ``partial_fit``."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression, SGDClassifier
from skactiveml.classifier import SklearnClassifier

from medal.errors import UserError

UPDATE_MODES = ("fit", "partial_fit")


def _logistic_regression(random_state: int, **params: Any) -> ClassifierMixin:
    return LogisticRegression(random_state=random_state, **params)


def _sgd_log_loss(random_state: int, **params: Any) -> ClassifierMixin:
    return SGDClassifier(loss="log_loss", random_state=random_state, **params)


# Estimator factories by the name used in params.yaml, with whether they offer partial_fit.
ESTIMATORS: dict[str, tuple[Callable[..., ClassifierMixin], bool]] = {
    "logistic_regression": (_logistic_regression, False),
    "sgd_log_loss": (_sgd_log_loss, True),
}


class Learner:
    """A configured learner: builds a fresh classifier per run and updates it after each query.

    ``update="fit"`` refits on every label revealed so far; ``update="partial_fit"`` feeds only
    the newly labelled samples to the estimator's ``partial_fit``.
    """

    def __init__(self, name: str, estimator: str, update: str, params: dict[str, Any] | None = None):
        factory, has_partial_fit = ESTIMATORS[estimator]
        if update == "partial_fit" and not has_partial_fit:
            raise UserError(f"params.yaml: learners.{name}: {estimator} has no partial_fit; set update: fit")
        self.name = name
        self.estimator = estimator
        self.update_mode = update
        self.params = dict(params or {})
        self._factory = factory

    @classmethod
    def from_params(cls, name: str, spec: dict[str, Any]) -> "Learner":
        """Build from one entry of ``params.yaml``'s ``learners`` section."""
        return cls(name, spec["estimator"], spec["update"], spec.get("params"))

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
            clf.partial_fit(X[new], y[new])

    def fit_full(self, X: np.ndarray, y: np.ndarray, classes: np.ndarray, random_state: int) -> SklearnClassifier:
        """The reference model: the estimator fitted on the whole labelled pool."""
        clf = self.make(classes, random_state)
        clf.fit(X, y)
        return clf
