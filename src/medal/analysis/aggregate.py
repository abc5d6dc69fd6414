"""Aggregate run files into learning curves, AULC and labels-to-target summaries, DVC metrics and plots data."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medal.analysis.capped import capped_rows
from medal.analysis.checks import curve_flags, sweep_repeats, target_flags
from medal.analysis.comparisons import (
    across_datasets,
    compare_with_baseline,
    duplicates_of,
    friedman_over_learners,
    friedman_per_dataset,
    metric_comparison_rows,
    same_queries,
    test_set_intervals,
)
from medal.analysis.conclusions import conclusions
from medal.analysis.metrics import METRIC_NAMES
from medal.analysis.ordinal import ordinal_rows
from medal.analysis.stats import SCORE_RANGE, mean_ci
from medal.analysis.summaries import (
    class_recall_rows,
    headline_metrics,
    queried_class_shares,
    stopping_rows,
    stopping_tradeoff_rows,
    study_targets,
    summarise_configuration,
    summary_row,
    target_goals,
    target_rows,
)
from medal.analysis.sweeps import class_weight_rows, sweep_rows
from medal.analysis.tables import (
    CAPPED,
    CLASS_RECALL,
    CLASS_WEIGHT,
    CURVES,
    DIFFERENCES,
    METRIC_COMPARISONS,
    ORDINAL,
    PLOT,
    STOPPING,
    STOPPING_TRADEOFF,
    SUMMARY,
    SWEEPS,
    TARGETS,
)
from medal.design import BASELINE, label_sizes, run_path
from medal.errors import UserError
from medal.fileio import load_npz, read_json, write_json_atomic, write_text_atomic
from medal.study import Study, plain


def load_runs(runs_dir: Path, dataset: str, strategy: str, learner: str, seeds: int) -> list[dict[str, Any]]:
    """The run files of one configuration, in seed order; a missing file is an error naming the stage to rerun."""
    runs = []
    for seed in range(seeds):
        path = runs_dir / run_path(dataset, strategy, learner, seed)
        if not path.is_file():
            raise UserError(f"{path} missing; run `dvc repro al@{dataset}` first")
        runs.append(read_json(path))
    return runs


def load_reference(reference_dir: Path, dataset: str, learners: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """The whole-pool results of ``learners`` (name -> seeds) on ``dataset``, one per seed; a file that holds fewer
    seeds or other learners than the runs (built for other settings) is an error naming the stage to rerun."""
    path = reference_dir / f"{dataset}.json"
    if not path.is_file():
        raise UserError(f"{path} missing; run `dvc repro reference@{dataset}` first")
    reference = read_json(path)["learners"]
    for learner, seeds in learners.items():
        held = len(reference.get(learner, []))
        if held < seeds:
            raise UserError(
                f"{path} holds {held} seeds of {learner} and the study runs {seeds}; it was built for other "
                f"settings: run `dvc repro reference@{dataset}` (or `dvc repro`) before aggregating"
            )
    return {learner: reference[learner][:seeds] for learner, seeds in learners.items()}


@dataclass
class Aggregates:
    """What the aggregate stage writes, gathered over (dataset, learner) in study order."""

    curves: list[list[Any]] = field(default_factory=list)
    differences: list[list[Any]] = field(default_factory=list)
    tradeoff: list[dict[str, Any]] = field(default_factory=list)  # stopping thresholds, main learner
    metric_comparisons: list[dict[str, Any]] = field(default_factory=list)  # every metric, main learner
    summary: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    stopping: list[dict[str, Any]] = field(default_factory=list)
    recall: list[dict[str, Any]] = field(default_factory=list)
    plots: dict[str, str] = field(default_factory=dict)
    identical: dict[str, dict[str, list[list[str]]]] = field(default_factory=dict)
    balance: dict[str, Any] = field(default_factory=dict)
    main_aulc: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    references: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # main learner, whole pool
    flags: list[dict[str, Any]] = field(default_factory=list)  # main learner: medal.analysis.checks
    image_datasets: list[str] = field(default_factory=list)  # the datasets whose samples are images
    ordinal_datasets: list[str] = field(default_factory=list)  # those whose classes are ordered grades
    ordinal: list[dict[str, Any]] = field(default_factory=list)  # main learner: medal.analysis.ordinal


def metric_matrix(runs: list[dict[str, Any]], metric: str) -> np.ndarray:
    """One metric of every run (rows) at every cycle (columns)."""
    return np.array([[c[metric] for c in run["cycles"]] for run in runs], dtype=float)


def curve_rows(
    dataset: str, learner: str, strategy: str, runs: list[dict[str, Any]], metric: str
) -> tuple[list[list[Any]], list[list[Any]]]:
    """Rows of ``curves.csv`` (every metric, mean and CI at each label count) and of the primary metric's plot."""
    labels_axis = [c["labels"] for c in runs[0]["cycles"]]
    curves, plot = [], []
    for name in METRIC_NAMES:
        matrix = metric_matrix(runs, name)
        for column, n_labels in enumerate(labels_axis):
            mean, low, high = mean_ci(matrix[:, column], bounds=SCORE_RANGE)
            curves.append([dataset, learner, strategy, name, n_labels, mean, low, high, len(runs)])
            if name == metric:
                plot.append([n_labels, strategy, mean, low, high])
    return curves, plot


def difference_rows(dataset: str, learner: str, runs: dict[str, list[dict[str, Any]]], metric: str) -> list[list[Any]]:
    """Rows of ``differences.csv``: at each label count, each strategy's primary metric minus random's, paired by
    seed, with its mean and 95 % CI."""
    if BASELINE not in runs:
        return []
    labels_axis = [c["labels"] for c in runs[BASELINE][0]["cycles"]]
    baseline = metric_matrix(runs[BASELINE], metric)
    rows = []
    for strategy, strategy_runs in runs.items():
        if strategy == BASELINE:
            continue
        matrix = metric_matrix(strategy_runs, metric) - baseline
        for column, n_labels in enumerate(labels_axis):
            rows.append([dataset, learner, strategy, n_labels, *mean_ci(matrix[:, column])])
    return rows


def class_count(y_pool: np.ndarray) -> int:
    """A dataset's number of classes, counted in its pool as the runs count them: its classes are 0 .. k - 1, each
    with samples in the pool (:func:`~medal.data.sources.check_canonical`)."""
    return len(np.unique(y_pool))


def add_learner(
    study: Study,
    out: Aggregates,
    dataset: str,
    learner: str,
    runs: dict[str, list[dict[str, Any]]],
    reference: list[dict[str, Any]],
    labels: dict[str, np.ndarray],
) -> None:
    """Summarise the runs of every strategy one learner ran on one dataset into ``out``; ``labels``: the prepared
    file's ``y_pool`` and ``y_test``."""
    evaluation = plain(study.evaluation)
    metric, drop_threshold = evaluation["primary_metric"], evaluation["drop_threshold"]
    y_pool = labels["y_pool"]
    n_classes = class_count(y_pool)
    sizes = label_sizes(study.protocol, n_classes)
    goals = target_goals(study_targets(evaluation), runs.get(BASELINE), reference, metric, sizes["budget"])
    summaries: dict[str, dict[str, Any]] = {}
    plot_rows: list[list[Any]] = []
    for strategy, strategy_runs in runs.items():
        curves, plot = curve_rows(dataset, learner, strategy, strategy_runs, metric)
        out.curves += curves
        plot_rows += plot
        shares = queried_class_shares(strategy_runs, y_pool, n_classes)
        out.balance[dataset]["queried"].setdefault(learner, {})[strategy] = shares
        summaries[strategy] = summarise_configuration(strategy_runs, reference, metric, goals, drop_threshold)
        out.stopping += stopping_rows(
            dataset, learner, strategy, strategy_runs, reference, metric, evaluation["stopping"]
        )
        out.recall += class_recall_rows(dataset, learner, strategy, strategy_runs, reference)
        if learner == study.main_learner:
            out.main_aulc[(dataset, strategy)] = summaries[strategy]["per_seed_aulc"]
    out.differences += difference_rows(dataset, learner, runs, metric)
    queries = {s: tuple(tuple(i for c in run["cycles"] for i in c["queried"]) for run in r) for s, r in runs.items()}
    groups = same_queries(queries)
    out.identical.setdefault(dataset, {})[learner] = groups
    margin = evaluation["minimal_important_difference"]["aulc"]
    comparisons = compare_with_baseline(summaries, margin, duplicates_of(groups))
    if learner == study.main_learner:
        _add_main_learner(
            study, out, dataset, runs, reference, labels["y_test"], n_classes, comparisons, duplicates_of(groups)
        )
        if dataset in out.ordinal_datasets:
            out.ordinal += ordinal_rows(dataset, runs, y_pool, labels["y_test"])
    _add_targets(study, out, dataset, learner, runs, reference, summaries, goals, sizes)
    for strategy, summary in summaries.items():
        out.summary.append(summary_row(dataset, learner, strategy, metric, summary, comparisons.get(strategy, {})))
    # `dvc plots show` draws the column named in dvc.yaml (y: mean) with the CI band.
    out.plots[f"{dataset}__{learner}.csv"] = PLOT.text(plot_rows)


def _add_targets(
    study: Study,
    out: Aggregates,
    dataset: str,
    learner: str,
    runs: dict[str, list[dict[str, Any]]],
    reference: list[dict[str, Any]],
    summaries: dict[str, dict[str, Any]],
    goals: dict[str, list[float]],
    sizes: dict[str, int],
) -> None:
    """The labels to each target (``goals``) and, for the main learner, the curve checks' flags; ``sizes``: the
    dataset's :func:`~medal.design.label_sizes`."""
    metric = study.primary_metric
    beyond_budget = sizes["budget"] + sizes["batch_size"]
    initial = float(np.mean([run["cycles"][0][metric] for run in runs[BASELINE]])) if BASELINE in runs else np.nan
    targets = target_rows(dataset, learner, summaries, goals, initial, beyond_budget)
    out.targets += targets
    if learner == study.main_learner:
        out.flags += curve_flags(dataset, runs, reference, metric) + target_flags(dataset, metric, targets)


def _add_main_learner(
    study: Study,
    out: Aggregates,
    dataset: str,
    runs: dict[str, list[dict[str, Any]]],
    reference: list[dict[str, Any]],
    y_test: np.ndarray,
    n_classes: int,
    comparisons: dict[str, dict[str, float]],
    duplicates: dict[str, str],
) -> None:
    """What only the main learner's runs give: the stopping trade-off, the intervals with test-set resampling
    (added to ``comparisons``) and the comparisons on every metric."""
    evaluation = plain(study.evaluation)
    metric = evaluation["primary_metric"]
    out.tradeoff += stopping_tradeoff_rows(
        dataset, runs, reference, metric, evaluation["stopping"], evaluation["stopping_thresholds"]
    )
    bootstrap = evaluation["test_bootstrap"]
    rng = np.random.default_rng([bootstrap["random_state"], zlib.crc32(dataset.encode())])
    intervals = test_set_intervals(runs, y_test, n_classes, metric, bootstrap["resamples"], rng, study.n_jobs)
    for strategy, (low, high) in intervals.items():
        comparisons[strategy].update(difference_test_low=low, difference_test_high=high)
    margin = evaluation["minimal_important_difference"]["aulc"]
    out.metric_comparisons += metric_comparison_rows(dataset, runs, METRIC_NAMES, margin, duplicates)


def write_aggregates(
    study: Study,
    out: Aggregates,
    sweeps: list[dict[str, Any]],
    class_weights: list[dict[str, Any]],
    capped: list[dict[str, Any]],
    out_dir: Path,
    metrics_path: Path,
    conclusions_path: Path,
) -> None:
    """Write the gathered aggregates (``class_weights``: :func:`class_weight_rows`; ``capped``: the candidate cap's
    check, :func:`~medal.analysis.capped.capped_rows`), the Friedman analyses, the metrics and the conclusions."""
    design = plain(study.settings["study"])
    for table, rows in (
        (CURVES, out.curves),
        (DIFFERENCES, out.differences),
        (STOPPING_TRADEOFF, out.tradeoff),
        (METRIC_COMPARISONS, out.metric_comparisons),
        (SUMMARY, out.summary),
        (TARGETS, out.targets),
        (STOPPING, out.stopping),
        (CLASS_RECALL, out.recall),
        (SWEEPS, sweeps),
        (CLASS_WEIGHT, class_weights),
        (CAPPED, capped),
        (ORDINAL, out.ordinal),
    ):
        write_text_atomic(out_dir / table.file, table.text(rows))
    write_json_atomic(out_dir / "identical.json", out.identical)
    write_json_atomic(out_dir / "class_balance.json", out.balance)
    write_json_atomic(out_dir / "flags.json", out.flags)
    friedman = {
        "strategies": friedman_per_dataset(
            design,
            out.main_aulc,
            {d: duplicates_of(by_learner.get(study.main_learner, [])) for d, by_learner in out.identical.items()},
        ),
        "learners": friedman_over_learners(design, out.summary),
    }
    write_json_atomic(out_dir / "friedman.json", friedman)
    distinct = friedman["strategies"]["strategies"]
    across = across_datasets(study.main_learner, distinct, out.image_datasets, out.summary, plain(study.evaluation))
    write_json_atomic(out_dir / "across.json", across)
    write_json_atomic(metrics_path, headline_metrics(study, out.summary, out.targets, out.references, out.flags))
    write_json_atomic(
        conclusions_path, conclusions(out.summary, out.targets, sweeps, friedman, BASELINE, across, capped)
    )
    for name, text in out.plots.items():
        write_text_atomic(out_dir / "plots" / name, text)


def aggregate(
    study: Study,
    runs_dir: Path,
    sweeps_dir: Path,
    capped_dir: Path,
    reference_dir: Path,
    prepared_dir: Path,
    raw_dir: Path,
    out_dir: Path,
    metrics_path: Path,
    conclusions_path: Path,
) -> None:
    """Write under ``out_dir`` the learning curves, AULC, labels-to-target, stopping, class-recall and sweep
    summaries (CSV), the identical-queries, Friedman and class-balance results (JSON) and ``plots/*.csv``,
    the DVC metrics file and the conclusions (:mod:`medal.analysis.conclusions`)."""
    out = Aggregates()
    for dataset in study.datasets:
        provenance = read_json(raw_dir / f"{dataset}.json")
        if len(provenance["shape"]) >= 2:  # images, grey or colour, not feature vectors
            out.image_datasets.append(dataset)
        if provenance.get("ordinal", False):
            out.ordinal_datasets.append(dataset)
        learners = {learner: study.seeds_for(learner, dataset) for learner in study.learners_on(dataset)}
        reference = load_reference(reference_dir, dataset, learners)
        out.references[dataset] = reference[study.main_learner]
        prepared = load_npz(prepared_dir / f"{dataset}.npz")
        y_pool = prepared["y_pool"]
        out.balance[dataset] = {
            "pool": (np.bincount(y_pool) / len(y_pool)).tolist(),  # classes 0 .. k - 1, each in the pool
            "queried": {},
        }
        for learner, seeds in learners.items():
            runs = {s: load_runs(runs_dir, dataset, s, learner, seeds) for s in study.strategies_for(learner)}
            labels = {"y_pool": y_pool, "y_test": prepared["y_test"]}
            add_learner(study, out, dataset, learner, runs, reference[learner], labels)
    sweeps = sweep_rows(study, sweeps_dir)
    write_json_atomic(out_dir / "sweep_repeats.json", sweep_repeats(study, runs_dir, sweeps_dir))
    weights, capped = class_weight_rows(study, sweeps_dir), capped_rows(study, runs_dir, capped_dir)
    write_aggregates(study, out, sweeps, weights, capped, out_dir, metrics_path, conclusions_path)
