"""Statistics over seeds: confidence intervals, area under the learning curve, labels to reach a target."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import optimize, stats

# Significance level of every test in the study.
ALPHA = 0.05
# The probability of detecting an effect at which the minimum detectable effect is stated.
DETECTION_POWER = 0.8


# The range of every test-set metric the study records.
SCORE_RANGE = (0.0, 1.0)


def mean_ci(
    values: Sequence[float], confidence: float = 0.95, bounds: tuple[float, float] | None = None
) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval; the interval is NaN with fewer than two values. With
    ``bounds``, the range the values can take (a score in [0, 1]), the interval is clipped to it: with few
    seeds a t interval can reach far beyond what the metric can be."""
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    if len(data) == 0:
        return math.nan, math.nan, math.nan
    mean = float(data.mean())
    if len(data) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, len(data) - 1) * data.std(ddof=1) / math.sqrt(len(data)))
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return mean, low, high


def aulc(labels: Sequence[float], scores: Sequence[float] | np.ndarray, axis: int = -1) -> float | np.ndarray:
    """Area under the learning curve by the trapezoid rule, divided by the label range: a mean score in [0, 1].

    ``scores`` may hold many curves, their cycles along ``axis``; then the result holds one AULC per curve.
    A single evaluation is its own mean."""
    x = np.asarray(labels, dtype=float)
    y = np.asarray(scores, dtype=float)
    if len(x) < 2:
        area = np.take(y, 0, axis=axis)
    else:
        area = np.trapezoid(y, x, axis=axis) / (x[-1] - x[0])
    return float(area) if np.ndim(area) == 0 else area


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


def paired_t(baseline: Sequence[float], other: Sequence[float]) -> tuple[float, float]:
    """Two-sided paired t-test of ``other - baseline``: its p-value, and the Shapiro–Wilk p-value of the
    differences (a small one warns that the t-test's normality assumption is doubtful). Identical differences
    give p = 1 when they are all zero and 0 otherwise (no spread: the sign is certain); Shapiro–Wilk needs
    three differences and some spread, else NaN."""
    diffs = np.asarray(other, dtype=float) - np.asarray(baseline, dtype=float)
    if len(diffs) < 2 or np.all(diffs == diffs[0]):
        return (1.0 if len(diffs) and diffs[0] == 0 else 0.0) if len(diffs) else math.nan, math.nan
    p_t = float(stats.ttest_1samp(diffs, 0.0).pvalue)
    p_normal = float(stats.shapiro(diffs).pvalue) if len(diffs) >= 3 else math.nan
    return p_t, p_normal


def tost_paired(baseline: Sequence[float], other: Sequence[float], margin: float) -> float:
    """Equivalence of paired samples within ``±margin`` by two one-sided paired t-tests (Schuirmann 1987):
    the larger of the p-values of "mean difference <= -margin" and ">= margin". A small p supports that
    the mean difference lies inside the margin; NaN with fewer than two pairs."""
    diffs = np.asarray(other, dtype=float) - np.asarray(baseline, dtype=float)
    if len(diffs) < 2:
        return math.nan
    if np.all(diffs == diffs[0]):  # no spread: the mean is known exactly
        return 0.0 if abs(diffs[0]) < margin else 1.0
    lower = stats.ttest_1samp(diffs, -margin, alternative="greater").pvalue
    upper = stats.ttest_1samp(diffs, margin, alternative="less").pvalue
    return float(max(lower, upper))


def equivalence_bound(baseline: Sequence[float], other: Sequence[float], alpha: float) -> float:
    """The smallest margin within which the paired TOST at level ``alpha`` shows equivalence: the farther end of
    the (1 - 2 alpha) confidence interval of the mean difference from zero (NaN with fewer than two pairs)."""
    diffs = np.asarray(other, dtype=float) - np.asarray(baseline, dtype=float)
    if len(diffs) < 2:
        return math.nan
    half_width = stats.t.ppf(1 - alpha, len(diffs) - 1) * np.std(diffs, ddof=1) / math.sqrt(len(diffs))
    return float(abs(diffs.mean()) + half_width)


def paired_t_power(effect: float, sd: float, n: int, alpha: float) -> float:
    """Power of the two-sided paired t-test at level ``alpha`` to detect a true mean difference ``effect``
    between ``n`` pairs whose differences have standard deviation ``sd`` (non-central t)."""
    df = n - 1
    critical = stats.t.ppf(1 - alpha / 2, df)
    shift = effect * math.sqrt(n) / sd
    # SciPy's non-central t returns NaN far in a tail; that tail's probability is then the normal one's.
    upper = stats.nct.sf(critical, df, shift)
    lower = stats.nct.cdf(-critical, df, shift)
    upper = upper if np.isfinite(upper) else stats.norm.sf(critical - shift)
    lower = lower if np.isfinite(lower) else stats.norm.cdf(-critical - shift)
    return float(upper + lower)


def minimum_detectable_effect(sd: float, n: int, alpha: float, power: float = DETECTION_POWER) -> float:
    """The smallest true mean paired difference the two-sided paired t-test at level ``alpha`` detects with
    probability ``power`` (NaN with fewer than two pairs or no spread)."""
    if n < 2 or not sd > 0:
        return math.nan
    upper = sd
    while paired_t_power(upper, sd, n, alpha) < power:
        upper *= 2
    return float(optimize.brentq(lambda e: paired_t_power(e, sd, n, alpha) - power, 0.0, upper, xtol=1e-12))


def bayesian_signed_rank(
    differences: Sequence[float],
    rope: float,
    prior_strength: float,
    samples: int,
    rng: np.random.Generator,
    scales: Sequence[float] | None = None,
) -> dict[str, float]:
    """Benavoli et al. (2017)'s Bayesian signed-rank test of paired differences, one per independent block (here a
    dataset): the posterior probability that the differences lie mostly below ``-rope``, within ``±rope`` (the
    region of practical equivalence) and above ``rope``.

    The posterior is a Dirichlet process whose prior puts weight ``prior_strength`` on a pseudo-observation at
    zero; each of ``samples`` draws of its weights gives the probability mass of pairs whose mean lies below, within
    and above the region, and a region's probability is the share of draws in which it holds the most mass.
    ``scales`` (standard errors, one per block) make each draw also draw every block's difference from a normal
    around it, so that a difference measured with noise is not taken as exact (the test alone treats it as exact,
    and then calls two noisy differences inside the region certain equivalence).
    """
    observed = np.asarray(differences, dtype=float)
    noise = np.zeros_like(observed) if scales is None else np.asarray(scales, dtype=float)
    weights = rng.dirichlet(np.concatenate([[prior_strength], np.ones(len(observed))]), size=samples)
    drawn = observed + noise * rng.standard_normal((samples, len(observed)))
    z = np.concatenate([np.zeros((samples, 1)), drawn], axis=1)
    sums = z[:, :, None] + z[:, None, :]
    regions = (sums < -2 * rope, np.abs(sums) <= 2 * rope, sums > 2 * rope)
    mass = np.stack([np.einsum("ki,kij,kj->k", weights, region.astype(float), weights) for region in regions], axis=1)
    winners = np.argmax(mass, axis=1)
    return {name: float(np.mean(winners == i)) for i, name in enumerate(("below", "within", "above"))}


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


def two_level_bootstrap_ci(
    differences: np.ndarray, seed_draws: np.ndarray, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of a mean paired difference under resampling of seeds and of the test set together.

    ``differences``: (seeds, resamples), each seed's difference recomputed on each test-set resample;
    ``seed_draws``: (resamples, seeds), the seeds drawn with replacement for each resample. Resample ``b`` gives
    the mean of ``differences[seed_draws[b], b]``."""
    columns = np.arange(differences.shape[1])[:, None]
    means = differences[seed_draws, columns].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
