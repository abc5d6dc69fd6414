"""Comparisons of strategies with random sampling, as pure functions of the run records: paired tests of the
per-seed AULC (with equivalence and the minimum detectable effect), intervals that resample the test images, the
same tests on every recorded metric, which strategies queried the same images, the Friedman rankings, and the
comparison across datasets."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import norm

from medal.analysis.metrics import LABEL_METRICS, decode_predictions, decode_scores
from medal.analysis.stats import (
    ALPHA,
    aulc,
    bayesian_signed_rank,
    equivalence_bound,
    friedman_nemenyi,
    holm,
    mean_ci,
    minimum_detectable_effect,
    paired_t,
    paired_wilcoxon,
    tost_paired,
    two_level_bootstrap_ci,
)
from medal.design import BASELINE, learner_datasets


def series(run: dict[str, Any], metric: str) -> tuple[list[int], list[float]]:
    """A run's learning curve: labels at each cycle and the ``metric`` there."""
    return [c["labels"] for c in run["cycles"]], [c[metric] for c in run["cycles"]]


def same_queries(queries: dict[str, tuple]) -> list[list[str]]:
    """Groups of two or more strategies whose runs queried exactly the same images, in study order."""
    groups: dict[tuple, list[str]] = {}
    for strategy, sequence in queries.items():
        groups.setdefault(sequence, []).append(strategy)
    return [group for group in groups.values() if len(group) > 1]


def merge_identical(
    names: Iterable[str], signature: Callable[[str], Hashable]
) -> tuple[list[str], dict[str, list[str]]]:
    """``names`` with each whose ``signature`` (its results) equals an earlier one's merged into that first one: the
    names kept, in order, and per kept name those merged into it."""
    first_with: dict[Hashable, str] = {}
    merged: dict[str, list[str]] = {}
    for name in names:
        key = signature(name)
        if key in first_with:
            merged.setdefault(first_with[key], []).append(name)
        else:
            first_with[key] = name
    return list(first_with.values()), merged


def duplicates_of(groups: list[list[str]]) -> dict[str, str]:
    """Each strategy that queried exactly the images an earlier strategy of its group queried, mapped to that
    first strategy (``groups`` as :func:`same_queries` returns them)."""
    return {member: group[0] for group in groups for member in group[1:]}


def compare_with_baseline(
    summaries: dict[str, dict[str, Any]], margin: float, duplicates: dict[str, str] | None = None
) -> dict[str, dict[str, float]]:
    """Per strategy other than random: the :data:`~medal.analysis.tables.COMPARISON_COLUMNS` of its per-seed AULC
    against random's, paired by seed; ``margin`` is the minimal important difference in AULC. A strategy in
    ``duplicates`` (it queried the very images another one did) takes that one's results and is not counted again in
    Holm's correction."""
    if BASELINE not in summaries:
        return {}
    copies = {
        s: r for s, r in (duplicates or {}).items() if s in summaries and r in summaries and BASELINE not in (s, r)
    }
    others = [s for s in summaries if s != BASELINE and s not in copies]
    base = summaries[BASELINE]["per_seed_aulc"]
    rows = {}
    for strategy in others:
        per_seed = summaries[strategy]["per_seed_aulc"]
        differences = np.asarray(per_seed) - np.asarray(base)
        p_t, p_normality = paired_t(base, per_seed)
        sd = float(np.std(differences, ddof=1)) if len(differences) > 1 else math.nan
        rows[strategy] = {
            **dict(zip(("difference", "difference_low", "difference_high"), mean_ci(differences))),
            "p_t": p_t,
            "p_normality": p_normality,
            "p_wilcoxon": paired_wilcoxon(base, per_seed),
            "p_tost": tost_paired(base, per_seed, margin),
            "mde": minimum_detectable_effect(sd, len(differences), ALPHA / len(others)),
            "equivalence_bound": equivalence_bound(base, per_seed, ALPHA / len(others)),
        }
    for raw, adjusted in (("p_t", "p_holm"), ("p_wilcoxon", "p_wilcoxon_holm"), ("p_tost", "p_tost_holm")):
        for strategy, value in zip(others, holm([rows[s][raw] for s in others])):
            rows[strategy][adjusted] = value
    for strategy, first in copies.items():
        rows[strategy] = dict(rows[first])
    return rows


def weighted_auc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of ``scores`` (samples,) for the boolean labels ``positive`` under each column of
    ``weights`` (samples, weightings), e.g. how often each bootstrap resample draws each sample: the weighted
    Mann-Whitney statistic, ties counted half; with unit weights it equals :func:`binary_auc`. NaN where a
    weighting leaves one class without weight.

    Each positive sample wins against the negative weight below its score and half the negative weight tied with
    it, both read off running sums over the sorted negatives, taken only at the cut points the positives need.
    Integer weights keep every sum exact (the result does not depend on the summation order)."""
    weights = np.asarray(weights)
    negatives, positives = np.flatnonzero(~positive), np.flatnonzero(positive)
    order = np.argsort(scores[negatives], kind="stable")
    negative_scores = scores[negatives][order]
    below = np.searchsorted(negative_scores, scores[positives], side="left")
    up_to = np.searchsorted(negative_scores, scores[positives], side="right")
    cuts, at = np.unique(np.concatenate([[0, len(negatives)], below, up_to]), return_inverse=True)
    running = np.zeros((len(cuts), weights.shape[1]), dtype=np.result_type(weights, np.int64))
    if len(negatives):
        between = np.add.reduceat(weights[negatives[order]], cuts[:-1], axis=0)  # weight between consecutive cuts
        for k, segment in enumerate(between):  # row by row: numpy's cumsum along the first axis is far slower
            np.add(running[k], segment, out=running[k + 1])
    positive_weights = weights[positives]
    n = len(positives)
    won = 0.5 * (positive_weights * (running[at[2 : 2 + n]] + running[at[2 + n :]])).sum(axis=0)
    pairs = positive_weights.sum(axis=0) * running[-1]
    return np.divide(won, pairs, out=np.full(weights.shape[1], np.nan), where=pairs > 0)


def weighted_roc_auc(scores: np.ndarray, y_true: np.ndarray, weights: np.ndarray, n_classes: int) -> np.ndarray:
    """:func:`roc_auc` of stored scores (samples, columns; :func:`decode_scores`) under each column of ``weights``
    (samples, weightings): the positive class's AUC when binary, the one-vs-rest macro mean over the classes
    otherwise."""
    if n_classes == 2:
        return weighted_auc(scores[:, -1], y_true == 1, weights)
    return np.mean([weighted_auc(scores[:, c], y_true == c, weights) for c in range(n_classes)], axis=0)


def weighted_label_metric(
    predictions: np.ndarray, y_true: np.ndarray, weights: np.ndarray, n_classes: int, metric: str
) -> np.ndarray:
    """A metric of :data:`LABEL_METRICS` for many sets of predictions under many weightings of the test samples.

    ``predictions``: (sets, samples) predicted class indices; ``y_true``: (samples,) true class indices;
    ``weights``: (weightings, samples), e.g. how often a bootstrap resample draws each test sample. Returns
    (sets, weightings). With unit weights it equals :func:`evaluate`'s value; as there, balanced accuracy
    averages the recalls of the classes present (positive weight) and macro-F1 counts an absent class as 0.
    Every sum is of integer-weighted 0/1 values, so the result does not depend on the BLAS kernel's summation order
    as long as the weights are integers."""
    if metric not in LABEL_METRICS:
        raise ValueError(f"{metric} needs class probabilities; only {', '.join(LABEL_METRICS)} can be recomputed")
    weights = np.asarray(weights, dtype=float)
    correct = predictions == y_true
    classes = range(n_classes)
    # Per class c, as (classes, sets, weightings): weighted true positives, support and predicted count.
    hits = np.stack([(correct & (y_true == c)).astype(float) @ weights.T for c in classes])
    support = np.stack([weights @ (y_true == c).astype(float) for c in classes])[:, None, :]
    if metric == "accuracy":
        return hits.sum(axis=0) / weights.sum(axis=1)
    if metric == "macro_f1":
        predicted = np.stack([(predictions == c).astype(float) @ weights.T for c in classes])
        denominator = support + predicted
        return np.divide(2 * hits, denominator, out=np.zeros_like(hits), where=denominator > 0).mean(axis=0)
    present = np.broadcast_to(support > 0, hits.shape)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=present)
    return recall.sum(axis=0) / present.sum(axis=0)


def resampled_aulc(
    runs: list[dict[str, Any]], y_test: np.ndarray, weights: np.ndarray, n_classes: int, metric: str
) -> np.ndarray:
    """(seeds, weightings): each run's AULC of ``metric`` with the test images weighted by each row of ``weights``
    (weightings, samples), recomputed from the test predictions the run stored (ROC-AUC: the test scores)."""
    labels = [c["labels"] for c in runs[0]["cycles"]]
    if metric == "roc_auc":
        by_sample = np.ascontiguousarray(weights.T)
        scores = np.array(
            [
                [
                    weighted_roc_auc(decode_scores(c["test_scores"], len(y_test)), y_test, by_sample, n_classes)
                    for c in r["cycles"]
                ]
                for r in runs
            ]
        )
        return aulc(labels, scores, axis=1)
    predictions = np.array([[decode_predictions(c["test_predictions"]) for c in r["cycles"]] for r in runs])
    seeds, cycles, _ = predictions.shape
    scores = weighted_label_metric(predictions.reshape(seeds * cycles, -1), y_test, weights, n_classes, metric)
    return aulc(labels, scores.reshape(seeds, cycles, -1), axis=1)


def test_set_intervals(
    runs: dict[str, list[dict[str, Any]]],
    y_test: np.ndarray,
    n_classes: int,
    metric: str,
    resamples: int,
    rng: np.random.Generator,
    n_jobs: int = 1,
) -> dict[str, tuple[float, float]]:
    """Per strategy other than random: the 95 % interval of its mean AULC difference from random sampling when the
    seeds and the test images are resampled together, paired (the same seeds and test images for every strategy),
    from the test predictions (ROC-AUC: the test scores) each run stored. The test images are resampled within
    each class, so that every resample holds each class as often as the test set (no resample without a class,
    whose balanced accuracy or ROC-AUC would be undefined). Strategies are resampled in ``n_jobs`` processes; the
    result does not depend on it. Empty for another metric."""
    if BASELINE not in runs or metric not in (*LABEL_METRICS, "roc_auc"):
        return {}
    weights = np.zeros((resamples, len(y_test)), dtype=np.int32)  # counts; int32 halves the memory traffic
    for c in range(n_classes):
        members = np.flatnonzero(y_test == c)
        if len(members):
            weights[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), resamples)
    n_seeds = len(runs[BASELINE])
    seed_draws = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    resampled = dict(
        zip(
            runs,
            Parallel(n_jobs=n_jobs)(
                delayed(resampled_aulc)(strategy_runs, y_test, weights, n_classes, metric)
                for strategy_runs in runs.values()
            ),
        )
    )
    return {
        strategy: two_level_bootstrap_ci(values - resampled[BASELINE], seed_draws)
        for strategy, values in resampled.items()
        if strategy != BASELINE
    }


def metric_comparison_rows(
    dataset: str, runs: dict[str, list[dict[str, Any]]], metrics: tuple[str, ...], margin: float, duplicates: dict
) -> list[dict[str, Any]]:
    """Rows of ``metric_comparisons.csv``: each strategy against random sampling on the AULC of every metric the
    runs recorded (not only the primary one), as :func:`compare_with_baseline` compares them, Holm-corrected over
    the strategies for each metric."""
    rows = []
    for metric in metrics:
        per_metric = {s: {"per_seed_aulc": [aulc(*series(run, metric)) for run in r]} for s, r in runs.items()}
        for strategy, comparison in compare_with_baseline(per_metric, margin, duplicates).items():
            rows.append(
                {
                    "dataset": dataset,
                    "metric": metric,
                    "strategy": strategy,
                    **{
                        key: comparison[key]
                        for key in ("difference", "difference_low", "difference_high", "p_holm", "p_tost_holm")
                    },
                }
            )
    return rows


def distinct(
    strategies: list[str], duplicates_by_block: list[dict[str, str]]
) -> tuple[list[str], dict[str, list[str]]]:
    """The strategies to rank: those that do not duplicate another one in every block, and, for each kept one,
    the strategies merged into it (queried the very same images in every block)."""
    merged: dict[str, list[str]] = {}
    kept = []
    for strategy in strategies:
        firsts = {d.get(strategy) for d in duplicates_by_block}
        if len(firsts) == 1 and None not in firsts:
            merged.setdefault(firsts.pop(), []).append(strategy)
        else:
            kept.append(strategy)
    return kept, merged


def friedman_per_dataset(
    study: dict[str, Any], per_seed_aulc: dict[tuple[str, str], list[float]], duplicates: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """Friedman test and Nemenyi CD of every distinct strategy with the main learner on each dataset, over its seeds
    as blocks (independent replicates of the experiment on that dataset; seeds of different datasets are not
    exchangeable, so they are not pooled). ``duplicates``: per dataset, as :func:`duplicates_of` (a strategy
    identical to another on every dataset is ranked once, under the other's name, and listed in ``merged``)."""
    strategies, merged = distinct(study["strategies"], [duplicates.get(d, {}) for d in study["datasets"]])
    by_dataset = {}
    for dataset in study["datasets"]:
        scores = np.array([per_seed_aulc[(dataset, strategy)] for strategy in strategies]).T
        by_dataset[dataset] = friedman_nemenyi(scores)
    return {"strategies": strategies, "merged": merged, "blocks_of": "seed", "datasets": by_dataset}


def friedman_over_learners(study: dict[str, Any], summary_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Friedman test and Nemenyi CD of the learner-comparison strategies' mean AULC over (dataset, learner) blocks, on
    the learner comparison's datasets (``learner_datasets``, else every dataset).

    A learner whose results equal an earlier one's for every strategy on every dataset (Gaussian NB updated with
    ``fit`` or ``partial_fit`` is the same model) gives no new block: it is left out and listed in
    ``merged_learners`` under the earlier one."""
    strategies = study["learner_strategies"]
    datasets = learner_datasets(study)
    rows = {(row["dataset"], row["learner"], row["strategy"]): row for row in summary_rows}
    learners, merged = merge_identical(
        study["learners"],
        lambda learner: tuple(
            (rows[(d, learner, s)]["aulc"], rows[(d, learner, s)]["aulc_sd"], rows[(d, learner, s)]["final"])
            for d in datasets
            for s in strategies
        ),
    )
    blocks = [(d, learner) for d in datasets for learner in learners]
    scores = np.array([[rows[(d, learner, s)]["aulc"] for s in strategies] for d, learner in blocks])
    return {
        "strategies": strategies,
        "blocks_of": "dataset and learner",
        "merged_learners": merged,
        **friedman_nemenyi(scores),
    }


# What a comparison across datasets concludes from the posterior, by region.
ACROSS_DECISIONS = {"above": "above random", "below": "below random", "within": "equivalent"}
# The decision when the study has too few image sets for the test to show a lead over random at the probability asked.
TOO_FEW_BLOCKS = "too few sets"
# A 95 % interval spans this many standard errors of a normal.
INTERVAL_WIDTH_IN_SE = 2 * float(norm.ppf(0.975))


def across_datasets(
    learner: str,
    strategies: list[str],
    datasets: list[str],
    summary_rows: list[dict[str, Any]],
    evaluation: Mapping[str, Any],
) -> dict[str, Any]:
    """Every strategy of ``strategies`` (the distinct ones) against random sampling across ``datasets`` as
    independent blocks, with ``learner``: the mean AULC difference per dataset, the Bayesian signed-rank posterior
    with the minimal important difference as the region of practical equivalence (each dataset's difference drawn
    with the standard error its interval with test-set resampling gives), and the decision a posterior probability
    of at least ``evaluation.across_datasets.probability`` supports (else undecided); the posterior of a strategy
    ahead by ten times the region on every dataset (the most this many blocks can show); and the Friedman ranking over
    the datasets. Where even that best case stays below the probability, no verdict is drawn (``too few sets``): a
    design that cannot show a lead should not call strategies equivalent either."""
    rows = {(r["dataset"], r["strategy"]): r for r in summary_rows if r["learner"] == learner}
    settings = evaluation["across_datasets"]
    rope = evaluation["minimal_important_difference"]["aulc"]

    def posterior(differences: list[float], scales: list[float], index: int) -> dict[str, float]:
        rng = np.random.default_rng([settings["random_state"], index])
        return bayesian_signed_rank(differences, rope, settings["prior_strength"], settings["samples"], rng, scales)

    result: dict[str, Any] = {"datasets": datasets, "rope": rope, "probability": settings["probability"]}
    if not datasets:
        return {**result, "strategies": {}, "best_case": {}, "friedman": None}
    best_case = posterior([10 * rope] * len(datasets), [0.0] * len(datasets), len(strategies))
    enough = best_case["above"] >= settings["probability"]
    compared = {}
    for index, strategy in enumerate(s for s in strategies if s != BASELINE):
        differences = [rows[(d, strategy)]["aulc"] - rows[(d, BASELINE)]["aulc"] for d in datasets]
        scales = [_standard_error(rows[(d, strategy)]) for d in datasets]
        probabilities = posterior(differences, scales, index)
        region = max(probabilities, key=probabilities.get)
        decided = probabilities[region] >= settings["probability"]
        compared[strategy] = {
            "differences": differences,
            "standard_errors": scales,
            **probabilities,
            "decision": (ACROSS_DECISIONS[region] if decided else "undecided") if enough else TOO_FEW_BLOCKS,
        }
    scores = np.array([[rows[(d, s)]["aulc"] for s in strategies] for d in datasets])
    return {
        **result,
        "strategies": compared,
        "best_case": best_case,
        "friedman": {"strategies": strategies, **friedman_nemenyi(scores)} if len(datasets) >= 2 else None,
    }


def _standard_error(row: dict[str, Any]) -> float:
    """The standard error of a strategy's AULC difference from random sampling that its 95 % interval with test-set
    resampling implies (0 where the row has no such interval: the difference is then taken as exact)."""
    low, high = row.get("difference_test_low", math.nan), row.get("difference_test_high", math.nan)
    return 0.0 if math.isnan(low) or math.isnan(high) else (high - low) / INTERVAL_WIDTH_IN_SE
