"""The check of the candidate cap (experiment 4): each strategy against random sampling on ``cap_check.dataset``,
once in the main experiment's runs of seeds ``0 .. al.seeds - 1`` (each query shown up to ``al.max_candidates``
unlabelled images) and once in the capped runs of the same seeds, with the same paired tests and Holm's correction
as the main comparison (:func:`~medal.analysis.comparisons.compare_with_baseline`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medal.analysis.comparisons import compare_with_baseline, duplicates_of, same_queries, series
from medal.analysis.stats import SCORE_RANGE, aulc, mean_ci
from medal.design import run_path
from medal.errors import UserError
from medal.fileio import read_json
from medal.study import Study

# How a condition's cap is written in the table when a query may see the whole unlabelled pool.
NO_CAP = "none"


def cap_label(cap: int | None) -> str:
    """How a condition's cap (``al.max_candidates`` or ``cap_check.max_candidates``) is written in ``capped.csv``."""
    return NO_CAP if cap is None else str(cap)


def _runs(root: Path, dataset: str, strategy: str, learner: str, seeds: int, stage: str) -> list[dict[str, Any]]:
    """One strategy's runs below ``root`` in seed order; a missing file names the DVC stage that writes it."""
    paths = [root / run_path(dataset, strategy, learner, seed) for seed in range(seeds)]
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise UserError(f"{missing[0]} missing; run `dvc repro {stage}` first")
    return [read_json(path) for path in paths]


def condition_rows(
    runs: dict[str, list[dict[str, Any]]], dataset: str, cap: str, metric: str, margin: float
) -> list[dict[str, Any]]:
    """Rows of ``capped.csv`` for one condition: every strategy's AULC and its difference from random's, paired by
    seed, with the Holm-adjusted paired t-test (strategies that queried the very same images count once)."""
    summaries = {s: {"per_seed_aulc": [aulc(*series(run, metric)) for run in r]} for s, r in runs.items()}
    queries = {s: tuple(tuple(i for c in run["cycles"] for i in c["queried"]) for run in r) for s, r in runs.items()}
    comparisons = compare_with_baseline(summaries, margin, duplicates_of(same_queries(queries)))
    rows = []
    for strategy, summary in summaries.items():
        comparison = comparisons.get(strategy, {})
        rows.append(
            {
                "dataset": dataset,
                "max_candidates": cap,
                "strategy": strategy,
                **dict(zip(("aulc", "aulc_low", "aulc_high"), mean_ci(summary["per_seed_aulc"], bounds=SCORE_RANGE))),
                **{
                    f"vs_random{suffix}": comparison.get(f"difference{suffix}", float("nan"))
                    for suffix in ("", "_low", "_high")
                },
                "p_holm": comparison.get("p_holm", float("nan")),
                "seeds": len(summary["per_seed_aulc"]),
            }
        )
    return rows


def capped_rows(study: Study, runs_dir: Path, capped_dir: Path) -> list[dict[str, Any]]:
    """Rows of ``capped.csv``: the main experiment's condition, then the check's."""
    check, evaluation = study.cap_check, study.evaluation
    dataset, learner, seeds = check["dataset"], study.main_learner, study.seeds
    study_cap = study.protocol.get("max_candidates")
    conditions = (
        (cap_label(study_cap), runs_dir, f"al@{dataset}"),
        (cap_label(check["max_candidates"]), capped_dir, "capped"),
    )
    rows = []
    for cap, root, stage in conditions:
        runs = {s: _runs(root, dataset, s, learner, seeds, stage) for s in study.strategies}
        rows += condition_rows(
            runs, dataset, cap, evaluation["primary_metric"], evaluation["minimal_important_difference"]["aulc"]
        )
    return rows
