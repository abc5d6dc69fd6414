"""Feature preparation: raw pixels, PCA, a learned k-means patch dictionary, HOG or the scattering transform,
standardised, optionally projected with PCA and mapped by an RBF kernel approximation (Nystroem); every transform
is fitted on the pool only and uses no labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.kernel_approximation import Nystroem
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from medal.blas import one_thread
from medal.data.features import HogFeatures, PatchKMeansFeatures, ScatteringFeatures
from medal.errors import UserError
from medal.fileio import load_npz

# Image feature extractors by ``features`` name; their constructor parameters are settings of the same name.
EXTRACTORS: dict[str, type[BaseEstimator]] = {
    "learned": PatchKMeansFeatures,
    "hog": HogFeatures,
    "scattering": ScatteringFeatures,
}
# Settings every kind takes: PCA after standardising, then an RBF kernel map (Nystroem) of ``kernel_components``
# pool images, with gamma ``kernel_gamma`` divided by the dimension it maps (1: scikit-learn's "scale" on
# standardised features), standardised again.
COMMON_KEYS = ("features", "pca_components", "kernel_components", "kernel_gamma")
FEATURE_KINDS = ("raw", "pca", *EXTRACTORS)
# Parameters that change memory or speed, never the features, so they are not settings.
NOT_SETTINGS = ("batch_size",)
DEFAULT_RANDOM_STATE = 0


def _flatten(X: np.ndarray) -> np.ndarray:
    """Images (n, h, w[, channels]) -> one row of values in [0, 1] per image; tabular data unchanged."""
    if X.ndim > 2:
        return X.reshape(len(X), -1).astype(np.float64) / 255.0
    return X.astype(np.float64)


def setting_keys(kind: str) -> tuple[str, ...]:
    """The keys a ``prepare`` entry of this kind may hold."""
    extractor = EXTRACTORS.get(kind)
    own = [] if extractor is None else [k for k in extractor().get_params() if k not in NOT_SETTINGS]
    return (*COMMON_KEYS, *own)


def _extractor(kind: str, settings: dict[str, Any], where: str) -> BaseEstimator:
    """The image feature extractor of ``kind`` with the entry's parameters, validated by scikit-learn."""
    values = {k: v for k, v in settings.items() if k not in COMMON_KEYS}
    if "random_state" in EXTRACTORS[kind]().get_params():
        values.setdefault("random_state", DEFAULT_RANDOM_STATE)
    extractor = EXTRACTORS[kind](**values)
    try:
        extractor._validate_params()
    except (TypeError, ValueError) as exc:
        raise UserError(f"params.yaml: {where}: {str(exc).rstrip('.')}") from None
    return extractor


def build_transform(settings: dict[str, Any], shape: tuple[int, ...], n_pool: int, where: str = "prepare") -> Pipeline:
    """The feature pipeline described by one ``prepare.<dataset>`` entry of ``params.yaml``, for a pool of
    ``n_pool`` samples of ``shape`` (images: (height, width) or (height, width, channels); tabular data:
    (n_features,)).

    ``where`` names the entry in error messages.
    """
    kind = settings.get("features") if isinstance(settings, dict) else None
    if kind not in FEATURE_KINDS:
        raise UserError(f"params.yaml: {where} features '{kind}' unknown; valid: {', '.join(FEATURE_KINDS)}")
    valid = setting_keys(kind)
    for key in settings:
        if key not in valid:
            raise UserError(f"params.yaml: unknown key '{key}' in {where} ({kind} features); valid: {', '.join(valid)}")
    if kind in EXTRACTORS and len(shape) not in (2, 3):
        raise UserError(f"params.yaml: {where} features '{kind}' need images; use raw or pca for tabular data")
    if kind == "pca" and "pca_components" not in settings:
        raise UserError(f"params.yaml: {where} pca features need pca_components")
    first = _extractor(kind, settings, where) if kind in EXTRACTORS else FunctionTransformer(_flatten)
    steps = [first, StandardScaler()]
    n_features = first.output_dimension(shape) if kind in EXTRACTORS else int(np.prod(shape))
    if "pca_components" in settings:
        components = settings["pca_components"]
        limit = min(n_features, n_pool)
        if isinstance(components, bool) or not isinstance(components, int) or not 0 < components <= limit:
            raise UserError(f"params.yaml: {where} pca_components must be an integer in 1..{limit}, got {components!r}")
        steps.append(PCA(n_components=components, svd_solver="full"))
    if "kernel_components" in settings or "kernel_gamma" in settings:
        steps.extend(_kernel_map(settings, settings.get("pca_components") or n_features, n_pool, where))
    return make_pipeline(*steps)


def _kernel_map(settings: dict[str, Any], dimension: int, n_pool: int, where: str) -> list[BaseEstimator]:
    """Nystroem's RBF kernel map of ``kernel_components`` pool images (at most the pool), then standardised."""
    components, gamma = settings.get("kernel_components"), settings.get("kernel_gamma")
    if isinstance(components, bool) or not isinstance(components, int) or components < 1:
        raise UserError(f"params.yaml: {where} kernel_components must be a positive integer, got {components!r}")
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not gamma > 0:
        raise UserError(f"params.yaml: {where} kernel_gamma must be a positive number, got {gamma!r}")
    kernel = Nystroem(
        kernel="rbf", gamma=gamma / dimension, n_components=min(components, n_pool), random_state=DEFAULT_RANDOM_STATE
    )
    return [kernel, StandardScaler()]


def scored_test_images(y_test: np.ndarray, max_images: int | None) -> np.ndarray:
    """Indices of the test images the study scores: all of them, or where there are more than ``max_images`` a
    seeded random subset of that many stratified by class (each class in proportion, at least one image of each, the
    remainders to the largest fractions), in test-set order."""
    if max_images is None or len(y_test) <= max_images:
        return np.arange(len(y_test))
    classes, counts = np.unique(y_test, return_counts=True)
    shares = counts * max_images / len(y_test)
    quota = np.maximum(1, np.floor(shares)).astype(int)
    left = max_images - int(quota.sum())
    if left > 0:
        quota[np.argsort(-(shares - np.floor(shares)), kind="stable")[:left]] += 1
    rng = np.random.default_rng(DEFAULT_RANDOM_STATE)
    chosen = [rng.choice(np.flatnonzero(y_test == c), q, replace=False) for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(chosen))


def prepare(
    raw: dict[str, np.ndarray], settings: dict[str, Any], where: str = "prepare", max_test_images: int | None = None
) -> dict[str, np.ndarray]:
    """Pool and test features from a canonical raw dataset; the transform is fitted on the pool only. The test set
    is cut to :func:`scored_test_images` of ``max_test_images``."""
    X_pool, X_test, y_test = raw["X_train"], raw["X_test"], raw["y_test"]
    if max_test_images is not None:
        scored = scored_test_images(y_test, max_test_images)
        X_test, y_test = X_test[scored], y_test[scored]
    transform = build_transform(settings, X_pool.shape[1:], len(X_pool), where=where)
    # One thread: LAPACK's SVD splits its sums by thread, and the features must be the same on every machine.
    with one_thread():
        X_pool_features, X_test_features = transform.fit_transform(X_pool), transform.transform(X_test)
    return {
        "X_pool": X_pool_features,
        "y_pool": raw["y_train"],
        "X_test": X_test_features,
        "y_test": y_test,
    }


def feature_sets(
    representations: dict[str, dict[str, Any]],
    prepared_settings: dict[str, Any],
    raw: Path,
    prepared: Path,
    max_test_images: int | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Pool and test features for each named feature setting: the prepared file for a setting equal to the
    dataset's own, else computed from the raw data (scored on the same test images as the prepared file)."""
    images = None
    sets = {}
    for name, settings in representations.items():
        if settings == prepared_settings:
            sets[name] = load_npz(prepared)
            continue
        images = load_npz(raw) if images is None else images
        where = f"sweeps.settings.representation.{name}"
        sets[name] = prepare(images, settings, where=where, max_test_images=max_test_images)
    return sets
