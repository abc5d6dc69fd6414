"""Summaries of the runs of one study, as pure functions of the run records: per-configuration AULC,
labels to target and savings, stopping points, class recall and balance, and the headline metrics (the
comparisons with random sampling are in :mod:`medal.analysis.comparisons`). :mod:`medal.analysis.aggregate`
reads the runs and writes these."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from medal.analysis.comparisons import series
from medal.analysis.stats import (
    SCORE_RANGE,
    aulc,
    censored_median,
    drops,
    labels_to_target,
    mean_ci,
    stop_when_confident,
    stop_when_stable,
)
from medal.analysis.tables import COMPARISON_COLUMNS
from medal.design import BASELINE, label_sizes, percent_key
from medal.study import Study

# The two kinds of label target: the score random sampling has (mean over seeds) at a fraction of the budget, the
# savings the paper reports; and a fraction of the same learner's whole-pool score, which small labelled sets may
# already exceed (then the target measures nothing, and is flagged).
RANDOM_TARGET, FULL_POOL_TARGET = "random", "full_pool"


@dataclass(frozen=True)
class Target:
    """One label target: its ``kind`` and ``fraction`` (of the budget, or of the whole-pool score)."""

    kind: str
    fraction: float

    @property
    def key(self) -> str:
        """Its name in ``targets.csv``: 'random_100' (random's score at the full budget) or '95' (95 % of the
        whole-pool score)."""
        return f"random_{percent_key(self.fraction)}" if self.kind == RANDOM_TARGET else percent_key(self.fraction)


def target_text(target: Target, al: Mapping[str, Any], class_counts: Iterable[int] = (2,)) -> str:
    """How the manuscript names a target on datasets of ``class_counts`` classes: "random sampling's score at 250
    labels" (or at a share of each dataset's budget where the budget scales with the classes, :func:`label_sizes`)
    or "95 % of the full-pool score"."""
    if target.kind == FULL_POOL_TARGET:
        return f"{percent_key(target.fraction)} % of the full-pool score"
    labels = sorted({_labels_at(target.fraction, label_sizes(al, k)) for k in class_counts})
    if len(labels) == 1:
        return f"random sampling's mean score at {labels[0]} labels"
    share = f"{percent_key(target.fraction)} % of each dataset's budget"
    return f"random sampling's mean score at {share} ({labels[0]:,} to {labels[-1]:,} labels)"


def _labels_at(fraction: float, sizes: dict[str, int]) -> int:
    """The label count of the first cycle at which at least ``fraction`` of the budget is labelled."""
    counts = range(sizes["initial_labels"], sizes["budget"] + sizes["batch_size"], sizes["batch_size"])
    return min(next(n for n in counts if n >= fraction * sizes["budget"]), sizes["budget"])


def study_targets(evaluation: dict[str, Any]) -> list[Target]:
    """Every target of the study: random's score at each budget fraction, then each fraction of the whole-pool
    score, both in increasing order."""
    return [Target(RANDOM_TARGET, f) for f in sorted(evaluation["random_budget_fractions"])] + [
        Target(FULL_POOL_TARGET, f) for f in sorted(evaluation["target_fractions"])
    ]


def main_target(evaluation: dict[str, Any]) -> Target:
    """The target the headline savings use: the score random sampling has at the largest budget fraction (the
    full budget by default), the usual definition of a label saving."""
    return Target(RANDOM_TARGET, max(evaluation["random_budget_fractions"]))


def target_goals(
    targets: list[Target],
    random_runs: list[dict[str, Any]] | None,
    reference: list[dict[str, float]],
    metric: str,
    budget: int,
) -> dict[str, list[float]]:
    """Per target key, the score each seed must reach: random's mean score at the first label count that reaches
    the budget fraction (the same for every seed), or the fraction of that seed's whole-pool score. Random's
    targets are left out when the runs hold no random sampling."""
    goals: dict[str, list[float]] = {}
    for target in targets:
        if target.kind == FULL_POOL_TARGET:
            goals[target.key] = [target.fraction * ref[metric] for ref in reference]
        elif random_runs:
            labels = np.array([c["labels"] for c in random_runs[0]["cycles"]])
            column = min(int(np.searchsorted(labels, target.fraction * min(budget, labels[-1]))), len(labels) - 1)
            goal = float(np.mean([run["cycles"][column][metric] for run in random_runs]))
            goals[target.key] = [goal] * len(reference)
    return goals


def summarise_configuration(
    runs: list[dict[str, Any]],
    reference: list[dict[str, float]],
    metric: str,
    goals: dict[str, list[float]],
    drop_threshold: float,
) -> dict[str, Any]:
    """Per-seed AULC, labels to each target (``goals``: per target key, the score each seed must reach), and drops
    of one (dataset, learner, strategy)."""
    per_seed_aulc, finals, drop_counts, largest_drops = [], [], [], []
    per_seed_labels: dict[str, list[int | None]] = {key: [] for key in goals}
    for seed, run in enumerate(runs):
        labels, scores = series(run, metric)
        per_seed_aulc.append(aulc(labels, scores))
        for key, goal in goals.items():
            per_seed_labels[key].append(labels_to_target(labels, scores, goal[seed]))
        finals.append(scores[-1])
        count, largest = drops(scores, drop_threshold)
        drop_counts.append(count)
        largest_drops.append(largest)
    return {
        "aulc_sd": float(np.std(per_seed_aulc, ddof=1)) if len(runs) > 1 else math.nan,
        "drops": mean_ci(drop_counts),
        "largest_drop": mean_ci(largest_drops),
        "per_seed_aulc": per_seed_aulc,
        "aulc": mean_ci(per_seed_aulc, bounds=SCORE_RANGE),
        "final": mean_ci(finals, bounds=SCORE_RANGE),
        "full_pool": mean_ci([ref[metric] for ref in reference], bounds=SCORE_RANGE),
        "per_seed_labels": per_seed_labels,
        "seeds": len(runs),
    }


def paired_saving(
    baseline: list[int | None], strategy: list[int | None], beyond_budget: int
) -> tuple[tuple[float, float, float], float, int]:
    """Labels saved versus the baseline, paired by seed over all seeds.

    A run that never reached the target (None) is counted as needing ``beyond_budget`` labels, the
    least it could have needed (one batch past the budget): a saving against an unreached baseline run
    is then a lower bound, one of an unreached strategy run an upper bound, and a pair where neither
    reached counts as no saving. Returns the median [95 % CI] saving in images (order-statistic CI),
    the saving in percent as a ratio of totals (labels saved over all pairs / labels the baseline
    needed), which is not dominated by seeds where the baseline needed few labels, and the number of
    pairs holding such a bound.
    """
    b = [beyond_budget if n is None else n for n in baseline]
    s = [beyond_budget if n is None else n for n in strategy]
    differences = [x - y for x, y in zip(b, s)]
    bounded = sum(x is None or y is None for x, y in zip(baseline, strategy))
    percent = 100 * sum(differences) / sum(b) if b else math.nan
    return censored_median(differences), percent, bounded


def target_rows(
    dataset: str,
    learner: str,
    summaries: dict[str, dict[str, Any]],
    goals: dict[str, list[float]],
    initial: float,
    beyond_budget: int,
) -> list[dict[str, Any]]:
    """Rows of ``targets.csv``: per strategy and target, the score to reach (mean over seeds) and whether it lies
    above ``initial`` (random's mean score with the initial labels; a target at or below it is reached before any
    query and measures nothing), the labels needed (median over all seeds, a run that never reached the target
    censored at the budget: +inf where the median or a bound lies beyond it), the share of seeds that reached
    it, and the labels saved versus random (:func:`paired_saving`)."""
    rows = []
    for strategy, summary in summaries.items():
        for key, goal in goals.items():
            per_seed = summary["per_seed_labels"][key]
            if BASELINE in summaries and strategy != BASELINE:
                baseline = summaries[BASELINE]["per_seed_labels"][key]
                saving, saving_pct, bounded = paired_saving(baseline, per_seed, beyond_budget)
            else:
                saving, saving_pct, bounded = (math.nan,) * 3, math.nan, 0
            rows.append(
                {
                    "dataset": dataset,
                    "learner": learner,
                    "strategy": strategy,
                    "target": key,
                    "goal": float(np.mean(goal)),
                    "above_initial": int(np.mean(goal) > initial),
                    "reached": sum(n is not None for n in per_seed),
                    "seeds": summary["seeds"],
                    **dict(zip(("labels", "labels_low", "labels_high"), censored_median(per_seed))),
                    **dict(zip(("saving", "saving_low", "saving_high"), saving)),
                    "saving_pct": saving_pct,
                    "saving_bounded": bounded,
                }
            )
    return rows


def queried_class_shares(runs: list[dict[str, Any]], y_pool: np.ndarray, n_classes: int) -> list[float]:
    """Mean share of each class among the images a strategy queried (initial set excluded), over seeds."""
    shares = []
    for run in runs:
        queried = [i for cycle in run["cycles"][1:] for i in cycle["queried"]]
        counts = np.bincount(y_pool[queried], minlength=n_classes) if queried else np.zeros(n_classes)
        shares.append(counts / max(len(queried), 1))
    return np.mean(shares, axis=0).tolist()


def summary_row(
    dataset: str, learner: str, strategy: str, metric: str, summary: dict[str, Any], comparison: dict[str, float]
) -> dict[str, Any]:
    """One row of ``summary.csv``: column names and values together, in the file's column order;
    ``comparison`` holds the :data:`COMPARISON_COLUMNS` (none for random)."""

    def with_ci(name: str, low_name: str, high_name: str, values: tuple[float, float, float]) -> dict[str, float]:
        return dict(zip((name, low_name, high_name), values))

    return {
        "dataset": dataset,
        "learner": learner,
        "strategy": strategy,
        "metric": metric,
        **with_ci("aulc", "aulc_low", "aulc_high", summary["aulc"]),
        **with_ci("final", "final_low", "final_high", summary["final"]),
        **with_ci("full_pool", "full_pool_low", "full_pool_high", summary["full_pool"]),
        "seeds": summary["seeds"],
        **{column: comparison.get(column, math.nan) for column in COMPARISON_COLUMNS},
        "aulc_sd": summary["aulc_sd"],
        **with_ci("drops", "drops_low", "drops_high", summary["drops"]),
        **with_ci("largest_drop", "largest_drop_low", "largest_drop_high", summary["largest_drop"]),
    }


def stop_cycles(runs: list[dict[str, Any]], criterion: str, settings: dict[str, Any]) -> list[int | None]:
    """The cycle at which a label-free stopping criterion stops each run (None: never)."""
    if criterion == "stabilizing_predictions":
        return [stop_when_stable([c["kappa_previous"] for c in run["cycles"]], **settings) for run in runs]
    return [stop_when_confident([c["expected_error"] for c in run["cycles"]], **settings) for run in runs]


def _stopped_before_budget(runs: list[dict[str, Any]], stops: list[int | None]) -> list[bool]:
    return [stop is not None and stop < len(run["cycles"]) - 1 for run, stop in zip(runs, stops)]


def stopping_rows(
    dataset: str,
    learner: str,
    strategy: str,
    runs: list[dict[str, Any]],
    reference: list[dict[str, Any]],
    metric: str,
    stopping: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Rows of ``stopping.csv``: per criterion, where runs stopped and what they scored there.

    A run the criterion never stops ends at the budget; ``stopped`` counts those stopped before it.
    """
    rows = []
    for criterion, settings in stopping.items():
        stops = stop_cycles(runs, criterion, settings)
        at = [run["cycles"][-1 if stop is None else stop] for run, stop in zip(runs, stops)]
        rows.append(
            {
                "dataset": dataset,
                "learner": learner,
                "strategy": strategy,
                "criterion": criterion,
                "stopped": sum(_stopped_before_budget(runs, stops)),
                "seeds": len(runs),
                **dict(zip(("labels", "labels_low", "labels_high"), mean_ci([c["labels"] for c in at]))),
                **dict(zip(("score", "score_low", "score_high"), mean_ci([c[metric] for c in at], bounds=SCORE_RANGE))),
                **dict(
                    zip(
                        ("percent_of_full", "percent_of_full_low", "percent_of_full_high"),
                        mean_ci([100 * c[metric] / ref[metric] for c, ref in zip(at, reference)]),
                    )
                ),
                "final": mean_ci([run["cycles"][-1][metric] for run in runs])[0],
            }
        )
    return rows


# The setting each stopping criterion's threshold sweep varies.
SWEPT_STOPPING_SETTING = {"stabilizing_predictions": "kappa", "expected_error": "threshold"}


def stopping_tradeoff_rows(
    dataset: str,
    runs: dict[str, list[dict[str, Any]]],
    reference: list[dict[str, Any]],
    metric: str,
    stopping: dict[str, dict[str, Any]],
    thresholds: dict[str, list[float]],
) -> list[dict[str, Any]]:
    """Rows of ``stopping_tradeoff.csv``: for each criterion and threshold, over every run of ``runs`` (one
    learner, all its strategies), how many stopped before the budget and, over those, the mean labels at the stop
    and the mean score there in percent of the full-pool score (NaN when none stopped)."""
    rows = []
    for criterion, values in thresholds.items():
        for value in values:
            settings = {**stopping[criterion], SWEPT_STOPPING_SETTING[criterion]: value}
            labels, percents, total = [], [], 0
            for strategy_runs in runs.values():
                stops = stop_cycles(strategy_runs, criterion, settings)
                total += len(strategy_runs)
                for run, ref, stop, early in zip(
                    strategy_runs, reference, stops, _stopped_before_budget(strategy_runs, stops)
                ):
                    if early:
                        labels.append(run["cycles"][stop]["labels"])
                        percents.append(100 * run["cycles"][stop][metric] / ref[metric])
            rows.append(
                {
                    "dataset": dataset,
                    "criterion": criterion,
                    "threshold": value,
                    "stopped": len(labels),
                    "runs": total,
                    "labels": float(np.mean(labels)) if labels else math.nan,
                    "percent_of_full": float(np.mean(percents)) if percents else math.nan,
                }
            )
    return rows


def class_recall_rows(
    dataset: str, learner: str, strategy: str, runs: list[dict[str, Any]], reference: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows of ``class_recall.csv``: test recall of each class at the end of the budget, and of the full-pool model."""
    finals = np.array([run["cycles"][-1]["class_recall"] for run in runs])
    full = np.array([ref["class_recall"] for ref in reference])
    return [
        {
            "dataset": dataset,
            "learner": learner,
            "strategy": strategy,
            "class": label,
            **dict(zip(("recall", "recall_low", "recall_high"), mean_ci(finals[:, label], bounds=SCORE_RANGE))),
            "full_pool": float(full[:, label].mean()),
        }
        for label in range(finals.shape[1])
    ]


# The whole-pool scores ``data/metrics.json`` reports for the main learner: the benchmark's metrics.
REFERENCE_METRICS = ("accuracy", "roc_auc", "balanced_accuracy")


def number(value: float) -> float | None:
    """A metric's value as ``data/metrics.json`` holds it: six digits, None where it is not finite."""
    return round(value, 6) if math.isfinite(value) else None


def headline_metrics(
    study: Study,
    summary: list[dict[str, Any]],
    targets: list[dict[str, Any]],
    references: dict[str, list[dict[str, Any]]],
    flags: list[dict[str, Any]],
) -> dict[str, Any]:
    """``data/metrics.json``: per dataset, what a user compares between experiments (``dvc exp show``),
    with the main learner: its test scores trained on the whole pool (``references``: per dataset, one
    score record per seed; mean over seeds), the full-pool primary score, random's AULC, the strategy
    with the best AULC, its gain over random with the Holm-adjusted p, the main target (random's score at the
    budget), the labels random needs to reach it and those the best strategy saves (median [95 % CI] over
    seeds), and the names of the curve checks that flagged the dataset. The detail stays in the CSV files."""
    learner, metric = study.main_learner, study.primary_metric
    main = main_target(study.evaluation).key

    def target_row(dataset: str, strategy: str) -> dict[str, Any] | None:
        key = (dataset, learner, strategy, main)
        return next((t for t in targets if (t["dataset"], t["learner"], t["strategy"], t["target"]) == key), None)

    metrics: dict[str, Any] = {}
    for dataset in study.datasets:
        rows = {r["strategy"]: r for r in summary if r["dataset"] == dataset and r["learner"] == learner}
        random = rows.get(BASELINE)
        others = [r for s, r in rows.items() if s != BASELINE]
        entry: dict[str, Any] = {
            "reference": {m: number(float(np.mean([r[m] for r in references[dataset]]))) for m in REFERENCE_METRICS},
            "full_pool": number(next(iter(rows.values()))["full_pool"]),
            "flags": sorted({f["flag"] for f in flags if f["dataset"] == dataset and f["metric"] == metric}),
        }
        if random is not None:
            entry["random_aulc"] = number(random["aulc"])
            if (baseline := target_row(dataset, BASELINE)) is not None:
                entry |= {"main_target": main, "main_target_score": number(baseline["goal"])}
                entry["random_labels_to_main_target"] = number(baseline["labels"])
        if others:
            best = max(others, key=lambda r: r["aulc"])
            saved = target_row(dataset, best["strategy"])
            entry |= {"best_strategy": best["strategy"], "best_aulc": number(best["aulc"])}
            entry["best_gain_over_random"] = None if random is None else number(best["aulc"] - random["aulc"])
            entry["best_p_holm"] = number(best["p_holm"])
            if saved is not None:
                entry |= {f"best_labels_saved{end}": number(saved[f"saving{end}"]) for end in ("", "_low", "_high")}
        metrics[dataset] = entry
    return metrics
