"""Test-set metrics recorded after every active-learning cycle."""

from __future__ import annotations

import base64
import string
from typing import Any

import numpy as np
from scipy.stats import rankdata

METRIC_NAMES = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc")

# Metrics computed from predicted classes alone, which a resampling of the test images can recompute from the
# predictions a run stores (:func:`encode_predictions`); ROC-AUC is recomputed from the scores it stores
# (:func:`encode_scores`).
LABEL_METRICS = ("accuracy", "balanced_accuracy", "macro_f1")

# A run stores its test predictions as one character per test image, the index of the predicted class.
PREDICTION_CODES = string.digits + string.ascii_letters
_CODE_CHARACTERS = np.array(list(PREDICTION_CODES))
_CODE_INDICES = np.zeros(256, dtype=np.int64)  # byte value of a code -> class index
_CODE_INDICES[np.frombuffer(PREDICTION_CODES.encode("ascii"), dtype=np.uint8)] = np.arange(len(PREDICTION_CODES))

METRIC_LABELS = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "macro_f1": "Macro-F1",
    "roc_auc": "ROC-AUC",
}


def binary_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the boolean labels ``positive``, ties counted half
    (the Mann-Whitney statistic, equal to scikit-learn's trapezoidal AUC); NaN with one class only."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """ROC-AUC from class probabilities: positive-class score when binary, one-vs-rest macro otherwise,
    as scikit-learn's ``roc_auc_score`` defines them (tested against it, at a tenth of its cost).

    Returns NaN when the probabilities are not finite (a learner that has not produced scores).
    """
    if not np.all(np.isfinite(proba)):
        return float("nan")
    if len(classes) == 2:
        return binary_auc(y_true == classes[1], proba[:, 1])
    return float(np.mean([binary_auc(y_true == c, proba[:, i]) for i, c in enumerate(classes)]))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Confusion matrix (rows: true class, columns: predicted class) over the sorted ``classes``."""
    k = len(classes)
    codes = np.searchsorted(classes, y_true) * k + np.searchsorted(classes, y_pred)
    return np.bincount(codes, minlength=k * k).reshape(k, k)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise ratio, 0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    """All metrics of :data:`METRIC_NAMES` for one set of predictions, and the recall of each class.

    Accuracy, balanced accuracy, macro-F1 and the recalls come from one confusion matrix, as
    scikit-learn defines them (the tests check equality with its functions): calling those
    functions one by one validated the same arrays five times and took a quarter of a run.
    """
    matrix = confusion(y_true, y_pred, classes)
    hits = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1)
    recall = _ratio(hits, support)
    return {
        "accuracy": float(hits.sum() / len(y_true)),
        "balanced_accuracy": float(recall[support > 0].mean()),
        "macro_f1": float(_ratio(2 * hits, support + matrix.sum(axis=0)).mean()),
        "roc_auc": roc_auc(y_true, proba, classes),
        "class_recall": [float(r) for r in recall],
    }


def agreement(previous: np.ndarray, current: np.ndarray) -> float:
    """Cohen's kappa between two models' predictions on the same samples; 1.0 when they are identical.

    Identical constant predictions make kappa undefined (0/0); they agree fully, so they count as 1.
    """
    if np.array_equal(previous, current):
        return 1.0
    classes = np.unique(np.concatenate([previous, current]))
    matrix = confusion(previous, current, classes)
    n = len(previous)
    observed = np.trace(matrix) / n
    chance = float(matrix.sum(axis=1) @ matrix.sum(axis=0)) / n**2
    return float((observed - chance) / (1 - chance))


def expected_error(proba: np.ndarray) -> float:
    """Mean of 1 - max class probability: the error rate the model expects of itself on these samples."""
    return float(np.mean(1.0 - proba.max(axis=1))) if len(proba) else 0.0


def encode_predictions(y_pred: np.ndarray, classes: np.ndarray) -> str | list[int]:
    """Predicted classes as a compact string of class indices (:data:`PREDICTION_CODES`), or a list of indices when
    there are more classes than codes."""
    indices = np.searchsorted(classes, y_pred)
    if len(classes) > len(PREDICTION_CODES):
        return [int(i) for i in indices]
    return "".join(_CODE_CHARACTERS[indices])


def decode_predictions(encoded: str | list[int]) -> np.ndarray:
    """The class indices :func:`encode_predictions` stored."""
    if isinstance(encoded, list):
        return np.array(encoded, dtype=np.int64)
    return _CODE_INDICES[np.frombuffer(encoded.encode("ascii"), dtype=np.uint8)]


def encode_scores(proba: np.ndarray) -> str:
    """Test-set class probabilities as compact text (base64 of little-endian float32, samples by classes; the
    positive class's column only when binary, all :func:`roc_auc` reads), for resampling ROC-AUC later."""
    columns = proba[:, 1:] if proba.shape[1] == 2 else proba
    return base64.b64encode(np.ascontiguousarray(columns, dtype="<f4").tobytes()).decode("ascii")


def decode_scores(encoded: str, n_samples: int) -> np.ndarray:
    """The (samples, columns) scores :func:`encode_scores` stored."""
    return np.frombuffer(base64.b64decode(encoded), dtype="<f4").astype(float).reshape(n_samples, -1)
