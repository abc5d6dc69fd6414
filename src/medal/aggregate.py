"""Aggregate run files into learning curves, AULC and labels-to-target summaries, DVC metrics and plots data."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from medal.conclusions import conclusions
from medal.design import (
    BASELINE,
    SWEEP_SETTINGS,
    run_file_name,
    strategies_for,
    sweep_dir,
    sweep_value_name,
    sweep_values,
)
from medal.errors import UserError
from medal.fileio import load_npz, read_json, write_json_atomic, write_text_atomic
from medal.metrics import METRIC_NAMES
from medal.stats import (
    aulc,
    censored_median,
    drops,
    friedman_nemenyi,
    holm,
    labels_to_target,
    mean_ci,
    paired_wilcoxon,
    stop_when_confident,
    stop_when_stable,
)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6f}"
    return str(value)


def csv_text(header: list[str], rows: Iterable[list[Any]]) -> str:
    """CSV with fixed float formatting (six decimals, empty for NaN) so equal numbers give equal bytes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_fmt(value) for value in row])
    return buffer.getvalue()


def load_runs(runs_dir: Path, dataset: str, strategy: str, learner: str, seeds: int) -> list[dict[str, Any]]:
    """The run files of one configuration, in seed order; a missing file is an error naming the stage to rerun."""
    runs = []
    for seed in range(seeds):
        path = runs_dir / dataset / strategy / run_file_name(learner, seed)
        if not path.is_file():
            raise UserError(f"{path} missing; run `dvc repro al@{dataset}-{strategy}` first")
        runs.append(read_json(path))
    return runs


def _series(run: dict[str, Any], metric: str) -> tuple[list[int], list[float]]:
    return [c["labels"] for c in run["cycles"]], [c[metric] for c in run["cycles"]]


def summarise_configuration(
    runs: list[dict[str, Any]],
    reference: list[dict[str, float]],
    metric: str,
    fractions: list[float],
    drop_threshold: float,
) -> dict[str, Any]:
    """Per-seed AULC, labels to each target fraction of the full-pool score, and drops of one (dataset, learner,
    strategy)."""
    per_seed_aulc, finals, drop_counts, largest_drops = [], [], [], []
    per_seed_labels: dict[float, list[int | None]] = {fraction: [] for fraction in fractions}
    for run, ref in zip(runs, reference):
        labels, scores = _series(run, metric)
        per_seed_aulc.append(aulc(labels, scores))
        for fraction in fractions:
            per_seed_labels[fraction].append(labels_to_target(labels, scores, fraction * ref[metric]))
        finals.append(scores[-1])
        count, largest = drops(scores, drop_threshold)
        drop_counts.append(count)
        largest_drops.append(largest)
    return {
        "aulc_sd": float(np.std(per_seed_aulc, ddof=1)) if len(runs) > 1 else math.nan,
        "drops": mean_ci(drop_counts),
        "largest_drop": mean_ci(largest_drops),
        "per_seed_aulc": per_seed_aulc,
        "aulc": mean_ci(per_seed_aulc),
        "final": mean_ci(finals),
        "full_pool": mean_ci([ref[metric] for ref in reference]),
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


def percent_key(fraction: float) -> str:
    """'95' for 0.95: the label of a target in file columns and metric names."""
    return f"{100 * fraction:g}"


def target_rows(
    dataset: str, learner: str, summaries: dict[str, dict[str, Any]], fractions: list[float], beyond_budget: int
) -> list[dict[str, Any]]:
    """Rows of ``targets.csv``: per strategy and target, the labels needed (median over all seeds, a run
    that never reached the target censored at the budget: +inf where the median or a bound lies
    beyond it), the share of seeds that reached it, and the labels saved versus random (:func:`paired_saving`)."""
    rows = []
    for strategy, summary in summaries.items():
        for fraction in fractions:
            per_seed = summary["per_seed_labels"][fraction]
            if BASELINE in summaries and strategy != BASELINE:
                baseline = summaries[BASELINE]["per_seed_labels"][fraction]
                saving, saving_pct, bounded = paired_saving(baseline, per_seed, beyond_budget)
            else:
                saving, saving_pct, bounded = (math.nan,) * 3, math.nan, 0
            rows.append(
                {
                    "dataset": dataset,
                    "learner": learner,
                    "strategy": strategy,
                    "target": percent_key(fraction),
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
    dataset: str, learner: str, strategy: str, metric: str, summary: dict[str, Any], p_values: tuple[float, float]
) -> dict[str, Any]:
    """One row of ``summary.csv``: column names and values together, in the file's column order."""

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
        "p_wilcoxon": p_values[0],
        "p_holm": p_values[1],
        "aulc_sd": summary["aulc_sd"],
        **with_ci("drops", "drops_low", "drops_high", summary["drops"]),
        **with_ci("largest_drop", "largest_drop_low", "largest_drop_high", summary["largest_drop"]),
    }


def wilcoxon_against_baseline(summaries: dict[str, dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Per strategy: Wilcoxon signed-rank p-value of its per-seed AULC against random, and Holm-adjusted over the
    strategies."""
    if BASELINE not in summaries:
        return {}
    others = [s for s in summaries if s != BASELINE]
    raw = [paired_wilcoxon(summaries[BASELINE]["per_seed_aulc"], summaries[s]["per_seed_aulc"]) for s in others]
    return {s: (p, adjusted) for s, p, adjusted in zip(others, raw, holm(raw))}


def friedman_over_seeds(study: dict[str, Any], per_seed_aulc: dict[tuple[str, str], list[float]]) -> dict[str, Any]:
    """Friedman test and Nemenyi CD of every strategy with the main learner, over (dataset, seed) blocks."""
    strategies = study["strategies"]
    n_seeds = len(per_seed_aulc[(study["datasets"][0], strategies[0])])
    scores = np.array(
        [
            [per_seed_aulc[(dataset, strategy)][seed] for strategy in strategies]
            for dataset in study["datasets"]
            for seed in range(n_seeds)
        ]
    )
    return {"strategies": strategies, "blocks_of": "dataset and seed", **friedman_nemenyi(scores)}


def friedman_over_learners(study: dict[str, Any], summary_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Friedman test and Nemenyi CD of the learner-comparison strategies' mean AULC over (dataset, learner) blocks."""
    strategies = study["learner_strategies"]
    aulc_by = {(row["dataset"], row["learner"], row["strategy"]): row["aulc"] for row in summary_rows}
    blocks = [(d, learner) for d in study["datasets"] for learner in study["learners"]]
    scores = np.array([[aulc_by[(d, learner, s)] for s in strategies] for d, learner in blocks])
    return {"strategies": strategies, "blocks_of": "dataset and learner", **friedman_nemenyi(scores)}


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
    rules = {
        "stabilizing_predictions": lambda cycles: stop_when_stable(
            [c["kappa_previous"] for c in cycles], **stopping["stabilizing_predictions"]
        ),
        "expected_error": lambda cycles: stop_when_confident(
            [c["expected_error"] for c in cycles], **stopping["expected_error"]
        ),
    }
    rows = []
    for criterion, rule in rules.items():
        stops = [rule(run["cycles"]) for run in runs]
        at = [run["cycles"][-1 if stop is None else stop] for run, stop in zip(runs, stops)]
        rows.append(
            {
                "dataset": dataset,
                "learner": learner,
                "strategy": strategy,
                "criterion": criterion,
                "stopped": sum(stop is not None and stop < len(run["cycles"]) - 1 for run, stop in zip(runs, stops)),
                "seeds": len(runs),
                **dict(zip(("labels", "labels_low", "labels_high"), mean_ci([c["labels"] for c in at]))),
                **dict(zip(("score", "score_low", "score_high"), mean_ci([c[metric] for c in at]))),
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
            **dict(zip(("recall", "recall_low", "recall_high"), mean_ci(finals[:, label]))),
            "full_pool": float(full[:, label].mean()),
        }
        for label in range(finals.shape[1])
    ]


def sweep_rows(params: dict[str, Any], sweeps_dir: Path) -> list[dict[str, Any]]:
    """Rows of ``sweeps.csv``: per sweep value and strategy, AULC and final score, and AULC minus random's paired by
    seed."""
    sweeps, seeds = params["sweeps"], params["al"]["seeds"]
    metric = params["evaluation"]["primary_metric"]
    rows = []
    for dataset in sweeps["datasets"]:
        for setting in SWEEP_SETTINGS:
            for value in sweep_values(params, setting):
                aulcs: dict[str, list[float]] = {}
                for strategy in sweeps["strategies"]:
                    folder = sweep_dir(sweeps_dir, dataset, setting, strategy) / sweep_value_name(value)
                    paths = [folder / run_file_name(strategy, seed) for seed in range(seeds)]
                    missing = [path for path in paths if not path.is_file()]
                    if missing:
                        raise UserError(
                            f"{missing[0]} missing; run `dvc repro sweep@{dataset}-{setting}-{strategy}` first"
                        )
                    runs = [read_json(path) for path in paths]
                    aulcs[strategy] = [aulc(*_series(run, metric)) for run in runs]
                    difference = (math.nan,) * 3
                    p_value = math.nan
                    if strategy != BASELINE and BASELINE in aulcs:
                        difference = mean_ci(np.subtract(aulcs[strategy], aulcs[BASELINE]))
                        p_value = paired_wilcoxon(aulcs[BASELINE], aulcs[strategy])
                    rows.append(
                        {
                            "dataset": dataset,
                            "setting": setting,
                            "value": sweep_value_name(value),
                            "strategy": strategy,
                            **dict(zip(("aulc", "aulc_low", "aulc_high"), mean_ci(aulcs[strategy]))),
                            **dict(
                                zip(
                                    ("final", "final_low", "final_high"),
                                    mean_ci([r["cycles"][-1][metric] for r in runs]),
                                )
                            ),
                            **dict(zip(("vs_random", "vs_random_low", "vs_random_high"), difference)),
                            "p_wilcoxon": p_value,
                            "p_holm": math.nan,
                            "seeds": seeds,
                        }
                    )
    _holm_within_settings(rows)
    return rows


def _holm_within_settings(rows: list[dict[str, Any]]) -> None:
    """Holm-adjust the sweep p-values within each family: all values of one setting for one dataset and strategy."""
    families: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if not math.isnan(row["p_wilcoxon"]):
            families.setdefault((row["dataset"], row["setting"], row["strategy"]), []).append(row)
    for family in families.values():
        for row, adjusted in zip(family, holm([row["p_wilcoxon"] for row in family])):
            row["p_holm"] = adjusted


def headline_metrics(
    params: dict[str, Any], summary: list[dict[str, Any]], targets: list[dict[str, Any]]
) -> dict[str, Any]:
    """``data/metrics.json``: per dataset, what a user compares between experiments (``dvc exp show``),
    with the main learner: the full-pool score, random's AULC, the strategy with the best AULC, its gain
    over random with the Holm-adjusted p, and the labels it saves at the middle target (median over
    seeds). The detail stays in the CSV files."""
    learner = params["study"]["main_learner"]
    fractions = sorted(params["evaluation"]["target_fractions"])
    middle = percent_key(fractions[len(fractions) // 2])

    def number(value: float) -> float | None:
        return round(value, 6) if math.isfinite(value) else None

    metrics: dict[str, Any] = {}
    for dataset in params["study"]["datasets"]:
        rows = {r["strategy"]: r for r in summary if r["dataset"] == dataset and r["learner"] == learner}
        random = rows.get(BASELINE)
        others = [r for s, r in rows.items() if s != BASELINE]
        entry: dict[str, Any] = {"full_pool": number(next(iter(rows.values()))["full_pool"])}
        if random is not None:
            entry["random_aulc"] = number(random["aulc"])
        if others:
            best = max(others, key=lambda r: r["aulc"])
            saved = next(
                (
                    t
                    for t in targets
                    if (t["dataset"], t["learner"], t["strategy"], t["target"])
                    == (dataset, learner, best["strategy"], middle)
                ),
                None,
            )
            entry.update(
                {
                    "best_strategy": best["strategy"],
                    "best_aulc": number(best["aulc"]),
                    "best_gain_over_random": None if random is None else number(best["aulc"] - random["aulc"]),
                    "best_p_holm": number(best["p_holm"]),
                    f"best_labels_saved_at_{middle}": None if saved is None else number(saved["saving"]),
                }
            )
        metrics[dataset] = entry
    return metrics


def same_queries(queries: dict[str, tuple]) -> list[list[str]]:
    """Groups of two or more strategies whose runs queried exactly the same images, in study order."""
    groups: dict[tuple, list[str]] = {}
    for strategy, sequence in queries.items():
        groups.setdefault(sequence, []).append(strategy)
    return [group for group in groups.values() if len(group) > 1]


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    write_text_atomic(path, csv_text(list(rows[0]), [list(row.values()) for row in rows]))


def aggregate(
    params: dict[str, Any],
    runs_dir: Path,
    sweeps_dir: Path,
    reference_dir: Path,
    prepared_dir: Path,
    out_dir: Path,
    metrics_path: Path,
    conclusions_path: Path,
) -> None:
    """Write under ``out_dir`` the learning curves, AULC, labels-to-target, stopping, class-recall and sweep
    summaries (CSV), the identical-queries, Friedman and class-balance results (JSON) and ``plots/*.csv``,
    the DVC metrics file and the conclusions (:mod:`medal.conclusions`)."""
    study, seeds = params["study"], params["al"]["seeds"]
    metric = params["evaluation"]["primary_metric"]
    fractions = params["evaluation"]["target_fractions"]
    drop_threshold = params["evaluation"]["drop_threshold"]
    curve_rows: list[list[Any]] = []
    summary_rows: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    stopping: list[dict[str, Any]] = []
    recall: list[dict[str, Any]] = []
    beyond_budget = params["al"]["budget"] + params["al"]["batch_size"]
    plot_files: dict[str, str] = {}
    identical: dict[str, dict[str, list[list[str]]]] = {}
    balance: dict[str, Any] = {}
    main_aulc: dict[tuple[str, str], list[float]] = {}
    for dataset in study["datasets"]:
        reference = read_json(reference_dir / f"{dataset}.json")["learners"]
        y_pool = load_npz(prepared_dir / f"{dataset}.npz")["y_pool"]
        n_classes = int(y_pool.max()) + 1
        balance[dataset] = {"pool": (np.bincount(y_pool, minlength=n_classes) / len(y_pool)).tolist(), "queried": {}}
        for learner in study["learners"]:
            summaries: dict[str, dict[str, Any]] = {}
            plot_rows: list[list[Any]] = []
            queries: dict[str, tuple] = {}
            learner_reference = reference[learner][:seeds]
            for strategy in strategies_for(study, learner):
                runs = load_runs(runs_dir, dataset, strategy, learner, seeds)
                labels_axis = [c["labels"] for c in runs[0]["cycles"]]
                queries[strategy] = tuple(tuple(i for c in run["cycles"] for i in c["queried"]) for run in runs)
                for name in METRIC_NAMES:
                    matrix = np.array([[c[name] for c in run["cycles"]] for run in runs], dtype=float)
                    for column, n_labels in enumerate(labels_axis):
                        mean, low, high = mean_ci(matrix[:, column])
                        curve_rows.append([dataset, learner, strategy, name, n_labels, mean, low, high, len(runs)])
                        if name == metric:
                            plot_rows.append([n_labels, strategy, mean, low, high])
                balance[dataset]["queried"].setdefault(learner, {})[strategy] = queried_class_shares(
                    runs, y_pool, n_classes
                )
                summaries[strategy] = summarise_configuration(
                    runs, learner_reference, metric, fractions, drop_threshold
                )
                stopping += stopping_rows(
                    dataset, learner, strategy, runs, learner_reference, metric, params["evaluation"]["stopping"]
                )
                recall += class_recall_rows(dataset, learner, strategy, runs, learner_reference)
                if learner == study["main_learner"]:
                    main_aulc[(dataset, strategy)] = summaries[strategy]["per_seed_aulc"]
            p_values = wilcoxon_against_baseline(summaries)
            targets += target_rows(dataset, learner, summaries, fractions, beyond_budget)
            for strategy, summary in summaries.items():
                summary_rows.append(
                    summary_row(
                        dataset, learner, strategy, metric, summary, p_values.get(strategy, (math.nan, math.nan))
                    )
                )
            identical.setdefault(dataset, {})[learner] = same_queries(queries)
            # `dvc plots show` draws the column named in dvc.yaml (y: mean) with the CI band.
            plot_files[f"{dataset}__{learner}.csv"] = csv_text(
                ["labels", "strategy", "mean", "ci_low", "ci_high"], plot_rows
            )
    write_text_atomic(
        out_dir / "curves.csv",
        csv_text(["dataset", "learner", "strategy", "metric", "labels", "mean", "ci_low", "ci_high", "n"], curve_rows),
    )
    sweeps = sweep_rows(params, sweeps_dir)
    for name, rows in (
        ("summary.csv", summary_rows),
        ("targets.csv", targets),
        ("stopping.csv", stopping),
        ("class_recall.csv", recall),
        ("sweeps.csv", sweeps),
    ):
        _write_rows(out_dir / name, rows)
    write_json_atomic(out_dir / "identical.json", identical)
    write_json_atomic(out_dir / "class_balance.json", balance)
    friedman = {
        "strategies": friedman_over_seeds(study, main_aulc),
        "learners": friedman_over_learners(study, summary_rows),
    }
    write_json_atomic(out_dir / "friedman.json", friedman)
    write_json_atomic(metrics_path, headline_metrics(params, summary_rows, targets))
    write_json_atomic(conclusions_path, conclusions(summary_rows, targets, sweeps, friedman, BASELINE))
    for name, text in plot_files.items():
        write_text_atomic(out_dir / "plots" / name, text)


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV written by this module."""
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
