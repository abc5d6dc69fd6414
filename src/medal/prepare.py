"""Feature preparation: flatten images, scale, optionally project with PCA; every transform is fitted on the pool
only."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from medal.errors import UserError

FEATURE_KINDS = ("raw", "pca")


def _flatten(X: np.ndarray) -> np.ndarray:
    """Images (n, h, w) -> (n, h*w) in [0, 1]; tabular data unchanged."""
    if X.ndim > 2:
        return X.reshape(len(X), -1).astype(np.float64) / 255.0
    return X.astype(np.float64)


def build_transform(settings: dict[str, Any], n_features: int, n_pool: int) -> Pipeline:
    """The feature pipeline described by one ``prepare.<dataset>`` entry of ``params.yaml``."""
    kind = settings.get("features")
    if kind not in FEATURE_KINDS:
        raise UserError(f"params.yaml: prepare features '{kind}' unknown; valid: {', '.join(FEATURE_KINDS)}")
    steps = [FunctionTransformer(_flatten), StandardScaler()]
    if kind == "pca":
        components = settings.get("pca_components")
        limit = min(n_features, n_pool)
        if isinstance(components, bool) or not isinstance(components, int) or not 0 < components <= limit:
            raise UserError(f"params.yaml: prepare pca_components must be an integer in 1..{limit}, got {components!r}")
        steps.append(PCA(n_components=components, svd_solver="full"))
    return make_pipeline(*steps)


def prepare(raw: dict[str, np.ndarray], settings: dict[str, Any]) -> dict[str, np.ndarray]:
    """Pool and test features from a canonical raw dataset; the transform is fitted on the pool only."""
    X_pool, X_test = raw["X_train"], raw["X_test"]
    n_features = int(np.prod(X_pool.shape[1:]))
    transform = build_transform(settings, n_features, len(X_pool))
    return {
        "X_pool": transform.fit_transform(X_pool),
        "y_pool": raw["y_train"],
        "X_test": transform.transform(X_test),
        "y_test": raw["y_test"],
    }
