"""Ordinal datasets, whose classes are ordered grades (``datasets.<name>.about.ordinal``, e.g. RetinaMNIST's
grades of diabetic retinopathy): a prediction two grades off is worse than one grade off, which balanced accuracy
does not see. Cohen's kappa with quadratic weights (scikit-learn's ``cohen_kappa_score``), the usual score of
graded diagnoses, weighs a miss by the square of its distance in grades; it is computed here from each run's stored
test predictions, at the initial labels and at the budget, beside balanced accuracy."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score

from medal.analysis.metrics import decode_predictions
from medal.analysis.stats import SCORE_RANGE, mean_ci

# The range quadratic-weighted kappa can take: 1 for perfect agreement, 0 for chance, below 0 for worse.
KAPPA_RANGE = (-1.0, 1.0)


def quadratic_kappa(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Cohen's kappa with quadratic weights between true and predicted grades (class indices in grade order); 1.0
    when both hold the same single grade (kappa is 0/0 there, and the predictions are all right)."""
    if np.array_equal(y_true, y_pred):
        return 1.0
    return float(cohen_kappa_score(y_true, y_pred, weights="quadratic"))


def ordinal_rows(
    dataset: str, runs: dict[str, list[dict[str, Any]]], y_pool: np.ndarray, y_test: np.ndarray
) -> list[dict[str, Any]]:
    """Rows of ``ordinal.csv`` for one ordinal dataset (main learner): per strategy, at the initial labels and at the
    budget, the mean [95 % CI] over seeds of the test set's quadratic-weighted kappa and balanced accuracy."""
    grades = np.searchsorted(np.unique(np.concatenate([y_pool, y_test])), y_test)
    rows = []
    for strategy, strategy_runs in runs.items():
        for position in (0, -1):
            cycles = [run["cycles"][position] for run in strategy_runs]
            kappas = [quadratic_kappa(grades, decode_predictions(c["test_predictions"])) for c in cycles]
            balanced = [c["balanced_accuracy"] for c in cycles]
            rows.append(
                {"dataset": dataset, "strategy": strategy, "labels": cycles[0]["labels"]}
                | dict(zip(("kappa", "kappa_low", "kappa_high"), mean_ci(kappas, bounds=KAPPA_RANGE)))
                | dict(
                    zip(
                        ("balanced_accuracy", "balanced_accuracy_low", "balanced_accuracy_high"),
                        mean_ci(balanced, bounds=SCORE_RANGE),
                    )
                )
            )
    return rows
