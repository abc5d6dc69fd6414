"""Statistics over seeds: confidence intervals, area under the learning curve, labels to reach a target."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats

# Significance level of every test in the study.
ALPHA = 0.05


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


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), in the input order.

    Written here: neither SciPy nor scikit-learn provides it.
    """
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def paired_wilcoxon(baseline: Sequence[float], other: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired samples; 1.0 when every difference is zero."""
    diffs = np.asarray(other, dtype=float) - np.asarray(baseline, dtype=float)
    if not np.any(diffs):
        return 1.0
    return float(stats.wilcoxon(diffs, zero_method="zsplit").pvalue)


def friedman_nemenyi(scores: np.ndarray, alpha: float = 0.05) -> dict[str, object]:
    """Friedman test over blocks (rows) and treatments (columns), higher score = better.

    Returns the average rank of each column (1 = best), the test's statistic and p-value, and the
    Nemenyi critical difference of average ranks (Demšar 2006).
    """
    n_blocks, k = scores.shape
    ranks = np.vstack([stats.rankdata(-row) for row in scores])
    statistic, p_value = (math.nan, math.nan)
    if k >= 3 and n_blocks >= 2:
        statistic, p_value = stats.friedmanchisquare(*scores.T)
    q_alpha = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    cd = q_alpha * math.sqrt(k * (k + 1) / (6 * n_blocks))
    return {
        "average_ranks": ranks.mean(axis=0).tolist(),
        "statistic": float(statistic),
        "p_value": float(p_value),
        "critical_difference": float(cd),
        "blocks": n_blocks,
    }


def drops(scores: Sequence[float], threshold: float) -> tuple[int, float]:
    """Number of decreases between consecutive cycles larger than ``threshold``, and the largest decrease (0 if none)."""
    decreases = -np.diff(np.asarray(scores, dtype=float))
    return int(np.sum(decreases > threshold)), float(max(decreases.max(initial=0.0), 0.0))


def stop_when_stable(kappas: Sequence[float | None], kappa: float, window: int) -> int | None:
    """Stabilizing predictions: the first cycle ending ``window`` cycles in a row whose agreement with the
    previous cycle is at least ``kappa`` (None: first cycle, no previous model); None if it never happens."""
    run = 0
    for cycle, value in enumerate(kappas):
        run = run + 1 if value is not None and value >= kappa else 0
        if run >= window:
            return cycle
    return None


def stop_when_confident(errors: Sequence[float], threshold: float) -> int | None:
    """Expected error: the first cycle whose expected error on the unlabelled pool is at most ``threshold``."""
    for cycle, value in enumerate(errors):
        if value <= threshold:
            return cycle
    return None
