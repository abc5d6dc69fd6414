"""Test-set metrics recorded after every active-learning cycle."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

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


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    """All metrics of :data:`METRIC_NAMES` for one set of predictions."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", labels=classes, zero_division=0)),
        "roc_auc": roc_auc(y_true, proba, classes),
    }
