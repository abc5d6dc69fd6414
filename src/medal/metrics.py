"""Test-set metrics recorded after every active-learning cycle."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, cohen_kappa_score, f1_score, recall_score, roc_auc_score

METRIC_NAMES = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc")

METRIC_LABELS = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "macro_f1": "Macro-F1",
    "roc_auc": "ROC-AUC",
}


def roc_auc(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """ROC-AUC from class probabilities: positive-class score when binary, one-vs-rest macro otherwise.

    Returns NaN when the probabilities are not finite (a learner that has not produced scores).
    """
    if not np.all(np.isfinite(proba)):
        return float("nan")
    if len(classes) == 2:
        return float(roc_auc_score(y_true, proba[:, 1]))
    return float(roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes))


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    """All metrics of :data:`METRIC_NAMES` for one set of predictions, and the recall of each class."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", labels=classes, zero_division=0)),
        "roc_auc": roc_auc(y_true, proba, classes),
        "class_recall": [float(r) for r in recall_score(y_true, y_pred, labels=classes, average=None, zero_division=0)],
    }


def agreement(previous: np.ndarray, current: np.ndarray) -> float:
    """Cohen's kappa between two models' predictions on the same samples; 1.0 when they are identical.

    Identical constant predictions make kappa undefined (0/0); they agree fully, so they count as 1.
    """
    if np.array_equal(previous, current):
        return 1.0
    return float(cohen_kappa_score(previous, current))


def expected_error(proba: np.ndarray) -> float:
    """Mean of 1 - max class probability: the error rate the model expects of itself on these samples."""
    return float(np.mean(1.0 - proba.max(axis=1))) if len(proba) else 0.0
