"""Model selection without the test set: cross-validation on the pool over a grid of feature settings and
learner parameters, and each dataset's choice of both."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from medal.analysis.metrics import METRIC_NAMES, evaluate
from medal.blas import one_thread
from medal.data.prepare import build_transform
from medal.experiment.learners import Learner

# Feature settings applied after the extractor and its scaler.
AFTER_SCALING = ("pca_components", "kernel_components", "kernel_gamma")


def grid_points(grid: dict[str, dict[str, list[Any]]]) -> list[dict[str, dict[str, Any]]]:
    """Every combination of a ``select.grid`` as ``{"features": {...}, "learner": {...}}``, features varying
    slowest, in ``params.yaml`` order."""
    sections = [(section, key) for section in ("features", "learner") for key in grid.get(section, {})]
    values = [grid[section][key] for section, key in sections]
    points = []
    for combination in itertools.product(*values):
        point: dict[str, dict[str, Any]] = {"features": {}, "learner": {}}
        for (section, key), value in zip(sections, combination):
            point[section][key] = value
        points.append(point)
    return points


def _setting_key(settings: dict[str, Any]) -> str:
    """A hashable name of one feature setting, whatever the order of its keys."""
    return repr(sorted(settings.items()))


def _features_by_setting(raw: dict[str, np.ndarray], base: dict[str, Any], points: list[dict], where: str) -> dict:
    """Pool features for each distinct feature setting of the grid, each transform fitted once on the whole pool
    (no labels are used, so fitting on the validation folds too leaks nothing about their labels)."""
    features: dict[str, np.ndarray] = {}
    fitted: dict[str, Any] = {}
    for point in points:
        settings = {**base, **point["features"]}
        key = _setting_key(settings)
        if key in features:
            continue
        X = raw["X_train"]
        transform = build_transform(settings, X.shape[1:], len(X), where=where)
        extractor_key = _setting_key({k: v for k, v in settings.items() if k not in AFTER_SCALING})
        if extractor_key not in fitted:  # the extractor and scaler are shared by every PCA size and kernel map
            fitted[extractor_key] = transform[:2].fit_transform(X)
        base_features = fitted[extractor_key]
        features[key] = clone(transform[2:]).fit_transform(base_features) if len(transform) > 2 else base_features
    return features


def _fold_scores(
    X: np.ndarray, y: np.ndarray, classes: np.ndarray, splits: list, learner: Learner, random_state: int
) -> dict[str, dict[str, float]]:
    """Mean and standard deviation over the folds of every metric, the learner fitted on one BLAS thread (the fold
    scores decide the study's settings and must be the same on every machine and in every process)."""
    fold_scores = []
    with one_thread():
        for train, validation in splits:
            clf = learner.fit_full(X[train], y[train], classes, random_state=random_state)
            X_val = X[validation]
            fold_scores.append(evaluate(y[validation], clf.predict(X_val), clf.predict_proba(X_val), classes))
    return {
        metric: {
            "mean": float(np.mean([s[metric] for s in fold_scores])),
            "sd": float(np.std([s[metric] for s in fold_scores], ddof=1)),
        }
        for metric in METRIC_NAMES
    }


def validation_subset(y: np.ndarray, max_pool: int | None, random_state: int) -> np.ndarray:
    """The pool images cross-validation uses: all of them, or on a pool larger than ``max_pool`` a seeded random
    subset of that many, stratified by class (every class keeps its share, and at least one image)."""
    if max_pool is None or len(y) <= max_pool:
        return np.arange(len(y))
    rng = np.random.default_rng(random_state)
    classes, counts = np.unique(y, return_counts=True)
    quotas = np.maximum(1, np.floor(counts * max_pool / len(y)).astype(int))
    chosen = [rng.choice(np.flatnonzero(y == c), quota, replace=False) for c, quota in zip(classes, quotas)]
    return np.sort(np.concatenate(chosen))


def cross_validate(
    raw: dict[str, np.ndarray],
    base_features: dict[str, Any],
    learner_name: str,
    learner_spec: dict[str, Any],
    grid: dict[str, dict[str, list[Any]]],
    folds: int,
    random_state: int,
    where: str = "select",
    n_jobs: int = 1,
    max_pool: int | None = None,
) -> list[dict[str, Any]]:
    """Cross-validated scores of the learner trained on all pool labels, for every grid combination, the
    combinations in parallel over ``n_jobs`` processes (the scores do not depend on it). The feature transforms are
    fitted on the whole pool; the folds split :func:`validation_subset` (``max_pool``: at most that many images).

    Each row holds the combination and, per metric, the mean and standard deviation over the folds.
    """
    points = grid_points(grid)
    subset = validation_subset(raw["y_train"], max_pool, random_state)
    with one_thread():
        features = _features_by_setting(raw, base_features, points, where)
    y = raw["y_train"]
    if len(subset) < len(y):
        features, y = {key: X[subset] for key, X in features.items()}, y[subset]
    classes = np.unique(y)
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=random_state).split(np.zeros(len(y)), y))
    learners = [
        Learner.from_params(
            learner_name, {**learner_spec, "params": {**(learner_spec.get("params") or {}), **point["learner"]}}
        )
        for point in points
    ]
    scores = Parallel(n_jobs=n_jobs)(
        delayed(_fold_scores)(
            features[_setting_key({**base_features, **point["features"]})], y, classes, splits, learner, random_state
        )
        for point, learner in zip(points, learners)
    )
    return [{**point, "scores": point_scores} for point, point_scores in zip(points, scores)]


def choose(results: dict[str, list[dict[str, Any]]], metric: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Each dataset's combination: the grid point with its best cross-validated ``metric`` (the feature settings go
    to the dataset's ``prepare`` entry, the learner's to its ``params_by_dataset``). Ties go to the first in grid
    order."""
    chosen = {}
    for dataset, rows in results.items():
        best = rows[int(np.argmax([row["scores"][metric]["mean"] for row in rows]))]
        chosen[dataset] = {"features": best["features"], "learner": best["learner"]}
    return chosen
