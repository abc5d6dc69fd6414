"""Query strategies by name, all from scikit-activeml, behind one call signature."""

from __future__ import annotations

from typing import Any

import numpy as np
from skactiveml.classifier import SklearnClassifier
from skactiveml.pool import RandomSampling, UncertaintySampling

from medal.errors import UserError

# params.yaml `method` -> (scikit-activeml class, constructor keywords)
STRATEGY_METHODS: dict[str, tuple[type, dict[str, Any]]] = {
    "random": (RandomSampling, {}),
    "least_confident": (UncertaintySampling, {"method": "least_confident"}),
    "margin_sampling": (UncertaintySampling, {"method": "margin_sampling"}),
    "entropy": (UncertaintySampling, {"method": "entropy"}),
}


class Strategy:
    """A named query strategy; ``query`` returns pool indices to label next."""

    def __init__(self, name: str, method: str, random_state: int):
        if method not in STRATEGY_METHODS:
            valid = ", ".join(sorted(STRATEGY_METHODS))
            raise UserError(f"unknown strategy method '{method}' for '{name}'; valid: {valid}")
        cls, kwargs = STRATEGY_METHODS[method]
        self.name = name
        self.method = method
        self.uses_model = cls is not RandomSampling
        self._qs = cls(random_state=random_state, **kwargs)

    @classmethod
    def from_params(cls, name: str, spec: dict[str, Any], random_state: int) -> "Strategy":
        """Build from one entry of ``params.yaml``'s ``strategies`` section."""
        return cls(name, spec["method"], random_state)

    def query(self, X: np.ndarray, y: np.ndarray, clf: SklearnClassifier, batch_size: int) -> np.ndarray:
        """Indices of ``batch_size`` unlabelled samples to query, using the already fitted ``clf``."""
        if self.uses_model:
            return self._qs.query(X, y, clf, fit_clf=False, batch_size=batch_size)
        return self._qs.query(X, y, batch_size=batch_size)
