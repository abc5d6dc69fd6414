"""Statistics over seeds: confidence intervals, area under the learning curve, labels to reach a target."""

from __future__ import annotations

import math
from collections.abc import Sequence

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


def order_statistic_rank(n: int, confidence: float = 0.95) -> int | None:
    """The rank k (1-based) such that [x_(k), x_(n+1-k)] is a distribution-free CI for the median of n
    values with coverage >= ``confidence`` (from the binomial distribution of how many fall below it);
    None when n is too small for that coverage."""
    k = int(stats.binom.ppf((1 - confidence) / 2, n, 0.5))
    while k >= 1 and 2 * stats.binom.cdf(k - 1, n, 0.5) > 1 - confidence:
        k -= 1
    return k if k >= 1 else None


def censored_median(values: Sequence[float | None], confidence: float = 0.95) -> tuple[float, float, float]:
    """Median and distribution-free 95 % CI of values of which some are right-censored (None: more
    than every observed value, e.g. labels to a target the run never reached within its budget).

    Every censored value lies beyond every observed one, so the Kaplan–Meier estimate is the
    empirical distribution with the censored values at the top: the median and the order-statistic
    CI are those of the values with censored ones as +inf. A median or bound that falls on a censored
    value is +inf ("more than the budget"); NaN bounds when there are too few values for the coverage.
    """
    x = np.sort([math.inf if v is None else float(v) for v in values])
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan
    median = float(x[(n - 1) // 2]) if n % 2 else float((x[n // 2 - 1] + x[n // 2]) / 2)
    k = order_statistic_rank(n, confidence)
    if k is None:
        return median, math.nan, math.nan
    return median, float(x[k - 1]), float(x[n - k])


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
    """Number of decreases between consecutive cycles larger than ``threshold``, and the largest decrease (0 if
    none)."""
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
