"""Statistics over seeds: confidence intervals, area under the learning curve, labels to reach a target."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval; the interval is NaN with fewer than two values."""
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    if len(data) == 0:
        return math.nan, math.nan, math.nan
    mean = float(data.mean())
    if len(data) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, len(data) - 1) * data.std(ddof=1) / math.sqrt(len(data)))
    return mean, mean - half, mean + half


def aulc(labels: Sequence[float], scores: Sequence[float]) -> float:
    """Area under the learning curve by the trapezoid rule, divided by the label range: a mean score in [0, 1]."""
    x = np.asarray(labels, dtype=float)
    y = np.asarray(scores, dtype=float)
    if len(x) < 2:
        return float(y[0])
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def labels_to_target(labels: Sequence[int], scores: Sequence[float], target: float) -> int | None:
    """The first label count at which the score reaches ``target``, or None if it never does."""
    for n_labels, score in zip(labels, scores):
        if score >= target:
            return int(n_labels)
    return None
