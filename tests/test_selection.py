import numpy as np
import pytest

from medal.errors import UserError
from medal.experiment.selection import choose, cross_validate, grid_points
from medal.study import in_use

from conftest import medmnist_arrays

GRID = {"features": {"pca_components": [2, 4]}, "learner": {"C": [0.1, 1.0, 10.0]}}
LOGREG = {"estimator": "logistic_regression", "update": "fit", "params": {"C": 1.0, "max_iter": 500}}


def _raw(seed: int = 0) -> dict[str, np.ndarray]:
    a = medmnist_arrays(n_train=40, seed=seed)
    y = a["train_labels"].astype(np.int64)
    images = a["train_images"].copy()
    images[y == 1, 10:18, 10:18] = 255  # a bright square marks class 1, so the folds can learn something
    return {"X_train": images, "y_train": y, "X_test": a["test_images"], "y_test": a["test_labels"].astype(np.int64)}


def _row(features, learner, score):
    return {"features": features, "learner": learner, "scores": {"balanced_accuracy": {"mean": score, "sd": 0.0}}}


def test_grid_points_vary_features_slowest_in_params_order():
    points = grid_points(GRID)
    assert len(points) == 6
    assert points[0] == {"features": {"pca_components": 2}, "learner": {"C": 0.1}}
    assert points[1] == {"features": {"pca_components": 2}, "learner": {"C": 1.0}}
    assert points[3] == {"features": {"pca_components": 4}, "learner": {"C": 0.1}}
    assert grid_points({"learner": {"C": [1]}}) == [{"features": {}, "learner": {"C": 1}}]


def test_choose_takes_each_datasets_best_grid_point_the_first_on_a_tie():
    def rows(scores):  # features k in 1..3 (slowest) by learner C in 0.1, 1.0
        return [
            _row({"k": k}, {"C": c}, score)
            for (k, c), score in zip([(k, c) for k in (1, 2, 3) for c in (0.1, 1.0)], scores)
        ]

    a = rows([0.90, 0.60, 0.70, 0.80, 0.80, 0.70])  # best: k 1 with C 0.1
    b = rows([0.50, 0.90, 0.80, 0.70, 0.90, 0.60])  # k 1 with C 1.0 and k 3 with C 0.1 tie: the first wins
    assert choose({"a": a, "b": b}, "balanced_accuracy") == {
        "a": {"features": {"k": 1}, "learner": {"C": 0.1}},
        "b": {"features": {"k": 1}, "learner": {"C": 1.0}},
    }
    b[4] = _row({"k": 3}, {"C": 0.1}, 0.95)
    assert choose({"a": a, "b": b}, "balanced_accuracy")["b"] == {"features": {"k": 3}, "learner": {"C": 0.1}}
    assert choose({"a": a}, "balanced_accuracy") == {"a": {"features": {"k": 1}, "learner": {"C": 0.1}}}


def test_in_use_reads_the_grid_keys_from_prepare_and_the_learner(params):
    params["select"]["grid"] = {"features": {"contrast_eps": [0.1]}, "learner": {"C": [1.0]}}
    params["prepare"]["breastmnist"]["contrast_eps"] = 0.5
    params["learners"]["logreg"]["params"]["C"] = 3.0
    assert in_use(params["select"], params["learners"], params["prepare"]["breastmnist"]) == {
        "features": {"contrast_eps": 0.5},
        "learner": {"C": 3.0},
    }
    # A dataset's own learner parameters (params_by_dataset) replace the shared ones for that dataset only.
    params["learners"]["logreg"]["params_by_dataset"] = {"breastmnist": {"C": 0.3}}
    prepare = params["prepare"]["breastmnist"]
    assert in_use(params["select"], params["learners"], prepare, "breastmnist")["learner"] == {"C": 0.3}
    assert in_use(params["select"], params["learners"], prepare, "pneumoniamnist")["learner"] == {"C": 3.0}


def test_cross_validation_scores_every_grid_point_on_the_pool_only():
    rows = cross_validate(_raw(), {"features": "pca", "pca_components": 3}, "logreg", LOGREG, GRID, 4, 0)
    assert [(r["features"], r["learner"]) for r in rows] == [(p["features"], p["learner"]) for p in grid_points(GRID)]
    for row in rows:
        for metric in ("accuracy", "balanced_accuracy", "roc_auc", "macro_f1"):
            assert 0 <= row["scores"][metric]["mean"] <= 1 and row["scores"][metric]["sd"] >= 0
    assert max(r["scores"]["balanced_accuracy"]["mean"] for r in rows) > 0.9  # the square is easy to see
    other_test = _raw()
    other_test["X_test"] = np.zeros_like(other_test["X_test"])
    assert rows == cross_validate(other_test, {"features": "pca", "pca_components": 3}, "logreg", LOGREG, GRID, 4, 0)
    # The grid points in two processes give the very same scores.
    assert rows == cross_validate(
        _raw(), {"features": "pca", "pca_components": 3}, "logreg", LOGREG, GRID, 4, 0, n_jobs=2
    )


def test_cross_validation_names_a_bad_grid_value():
    with pytest.raises(UserError, match="params.yaml: select pca_components must be an integer in 1..40, got 99"):
        cross_validate(
            _raw(),
            {"features": "pca", "pca_components": 3},
            "logreg",
            LOGREG,
            {"features": {"pca_components": [99]}},
            4,
            0,
        )


def test_a_large_pool_is_cross_validated_on_a_stratified_subset_and_a_small_one_whole():
    from medal.experiment.selection import validation_subset

    y = np.repeat([0, 1, 2], [700, 200, 100])
    assert np.array_equal(validation_subset(y, None, 0), np.arange(1000))
    assert np.array_equal(validation_subset(y, 1000, 0), np.arange(1000))
    subset = validation_subset(y, 100, 0)
    assert np.bincount(y[subset]).tolist() == [70, 20, 10]
    assert np.array_equal(subset, validation_subset(y, 100, 0)) and len(set(subset)) == 100
    rare = np.array([0] * 999 + [1])
    assert np.bincount(rare[validation_subset(rare, 10, 0)]).tolist() == [9, 1]  # every class keeps an image
