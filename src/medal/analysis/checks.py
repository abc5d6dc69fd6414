"""Checks of the learning curves that can make a comparison with random sampling misleading, as flags the paper
reports and explains: random sampling losing score as labels are added, a strategy scoring above the same learner
trained on the whole pool, and a label target that random sampling's initial labels already reach."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medal.analysis.metrics import METRIC_NAMES
from medal.analysis.stats import mean_ci
from medal.design import BASELINE, LEARNER_SETTINGS, SWEEP_SETTINGS, run_path, sweep_run_path
from medal.fileio import read_json
from medal.study import Study, plain

RANDOM_DECREASES, ABOVE_REFERENCE, TARGET_BELOW_INITIAL = "random_decreases", "above_reference", "target_below_initial"


def _scores(runs: list[dict[str, Any]], metric: str) -> np.ndarray:
    return np.array([[c[metric] for c in run["cycles"]] for run in runs], dtype=float)


def random_decrease(runs: list[dict[str, Any]], metric: str) -> dict[str, Any] | None:
    """Random sampling's fall from the peak of its mean curve to the budget, paired by seed, when its 95 % CI lies
    below zero (None otherwise): more random labels made the learner worse on the test set."""
    matrix = _scores(runs, metric)
    peak = int(np.argmax(matrix.mean(axis=0)))
    if peak == matrix.shape[1] - 1:
        return None
    change = mean_ci(matrix[:, -1] - matrix[:, peak])
    if not change[2] < 0:
        return None
    labels = [c["labels"] for c in runs[0]["cycles"]]
    return {
        "labels_peak": labels[peak],
        "peak": float(matrix[:, peak].mean()),
        "final": float(matrix[:, -1].mean()),
        **dict(zip(("change", "change_low", "change_high"), change)),
    }


def above_reference(runs: list[dict[str, Any]], reference: float, metric: str) -> dict[str, Any] | None:
    """The label count where a strategy's mean curve lies furthest above the whole-pool score ``reference`` with the
    lower end of its 95 % CI above it (None if it never does): a few chosen labels beat all of them."""
    matrix = _scores(runs, metric)
    intervals = [mean_ci(matrix[:, column]) for column in range(matrix.shape[1])]
    above = [column for column, (_, low, _) in enumerate(intervals) if low > reference]
    if not above:
        return None
    column = max(above, key=lambda c: intervals[c][0])
    mean, low, high = intervals[column]
    return {
        "labels": runs[0]["cycles"][column]["labels"],
        "mean": mean,
        "low": low,
        "high": high,
        "reference": reference,
    }


def curve_flags(
    dataset: str,
    runs: dict[str, list[dict[str, Any]]],
    reference: list[dict[str, Any]],
    metric: str,
) -> list[dict[str, Any]]:
    """The flags of one dataset's runs (one learner, by strategy): random sampling's decrease on every metric, and
    each strategy above the whole-pool reference on the primary ``metric``."""
    flags = []
    if BASELINE in runs:
        for name in METRIC_NAMES:
            found = random_decrease(runs[BASELINE], name)
            if found:
                flags.append({"flag": RANDOM_DECREASES, "dataset": dataset, "metric": name, **found})
    whole_pool = float(np.mean([ref[metric] for ref in reference]))
    for strategy, strategy_runs in runs.items():
        found = above_reference(strategy_runs, whole_pool, metric)
        if found:
            flags.append({"flag": ABOVE_REFERENCE, "dataset": dataset, "metric": metric, "strategy": strategy, **found})
    return flags


def target_flags(dataset: str, metric: str, targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A flag per target (``targets.csv`` rows of random sampling) that random's initial labels already reach."""
    return [
        {
            "flag": TARGET_BELOW_INITIAL,
            "dataset": dataset,
            "metric": metric,
            "target": row["target"],
            "goal": row["goal"],
        }
        for row in targets
        if row["strategy"] == BASELINE and not row["above_initial"]
    ]


def study_value(study: Study, dataset: str, setting: str) -> Any:
    """The value a sweep setting has in the rest of the study (None when no swept value equals it): the protocol's,
    the sweep learner's class weighting, or the representation whose settings are the dataset's ``prepare`` entry."""
    if setting == "representation":
        named = plain(study.sweeps["settings"]["representation"])
        return next((name for name, spec in named.items() if spec == study.feature_spec(dataset)), None)
    if setting in LEARNER_SETTINGS:
        return study.learner_spec(study.sweeps["learner"], dataset).get(setting)
    return study.protocol.get(setting, 0.0 if setting == "label_noise" else None)


def sweep_repeats(study: Study, runs_dir: Path, sweeps_dir: Path) -> list[dict[str, Any]]:
    """Per sweep stage, whether its runs at the study's own value (:func:`study_value`) are the first experiment's
    runs of the same seeds, query for query and score for score: a sweep's default column then differs from the
    first experiment's mean only by the seeds it averages (``al.seeds`` against ``study.main_seeds``)."""
    sweeps = study.sweeps
    rows = []
    for dataset in sweeps["datasets"]:
        for setting in SWEEP_SETTINGS:
            value = study_value(study, dataset, setting)
            if value is None or value not in study.sweep_values[setting]:
                continue
            for strategy in sweeps["strategies"]:
                seeds = range(study.seeds)
                learner = sweeps["learner"]
                comparable = strategy in study.strategies and learner == study.main_learner
                same = comparable and all(
                    read_json(sweeps_dir / sweep_run_path(dataset, setting, strategy, value, seed))["cycles"]
                    == read_json(runs_dir / run_path(dataset, strategy, learner, seed))["cycles"]
                    for seed in seeds
                )
                rows.append(
                    {"dataset": dataset, "setting": setting, "strategy": strategy, "value": value, "same": same}
                )
    return rows
