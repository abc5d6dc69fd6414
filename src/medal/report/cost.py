"""Where the compute goes (CPU time per strategy and dataset, from the run records of the main experiment) and what
bounding it costs: the check of the candidate cap, each strategy's verdict against random with and without it."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from medal.analysis.capped import cap_label
from medal.analysis.comparisons import merge_identical
from medal.analysis.conclusions import holm_decision
from medal.design import BASELINE, STAGE_TIMING_FILE, run_path
from medal.fileio import read_json
from medal.report.text import (
    LEARNER_LABELS,
    STRATEGY_LABELS,
    dataset_sizes,
    in_sentence,
    join_names,
    label,
    markdown_table,
    merged_label,
    supplement_ref,
)
from medal.reproduce.environment import format_duration
from medal.study import Study


def strategy_seconds(study: Study, timings_dir: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """Per (dataset, strategy): mean seconds per run of the main learner spent updating it and querying, over the
    main experiment's seeds (each run on one core, so wall time is its CPU time)."""
    learner = study.main_learner
    seconds = {}
    for dataset in study.datasets:
        for strategy in study.strategies:
            runs = [
                read_json(timings_dir / run_path(dataset, strategy, learner, seed))["cycles"]
                for seed in range(study.seeds_for(learner, dataset))
            ]
            fit = sum(c["fit_seconds"] for cycles in runs for c in cycles) / len(runs)
            query = sum(c["query_seconds"] for cycles in runs for c in cycles) / len(runs)
            seconds[(dataset, strategy)] = (fit, query)
    return seconds


def strategy_time_table(
    study: Study, provenance: dict[str, dict[str, Any]], seconds: dict[tuple[str, str], tuple[float, float]]
) -> str:
    """Seconds per run (update + query) of every strategy on every dataset, and each strategy's share of the main
    experiment's total."""
    datasets = study.datasets
    strategies = study.strategies
    # The experiment's totals: each dataset's mean run times as many times as it has seeds.
    seeds = {d: study.seeds_for(study.main_learner, d) for d in datasets}
    total = sum(seeds[d] * sum(seconds[(d, s)]) for d in datasets for s in strategies)
    rows = []
    for strategy in strategies:
        cells = [f"{sum(seconds[(d, strategy)]):.1f}" for d in datasets]
        share = sum(seeds[d] * sum(seconds[(d, strategy)]) for d in datasets) / total
        rows.append([label(strategy, STRATEGY_LABELS), *cells, f"{100 * share:.1f}"])
    query_share = sum(seeds[d] * seconds[(d, s)][1] for d in datasets for s in strategies) / total
    header = ["Strategy", *(provenance[d]["title"] for d in datasets), "Share (%)"]
    cap = study.protocol.get("max_candidates")
    shown = f"at most {cap:,} unlabelled images (`al.max_candidates`)" if cap else "the whole unlabelled pool"
    caption = (
        "CPU seconds per run with the main learner (updating it after each batch plus choosing the next batch; "
        "one core per run), mean over the main experiment's seeds, and each strategy's share of the main "
        f"experiment's total; querying took {100 * query_share:.0f}% of that total. Each query was shown {shown}. "
        "Measured on the machine that built this paper."
    )
    return markdown_table(header, rows, caption, "tbl-strategy-time", text_columns=1)


def build_time(timings: Path) -> dict[str, Any]:
    """One build's compute, from its timings folder: per strategy and in all, the seconds every run spent updating
    its learner and querying (each run on one core, so CPU time), the runs' whole durations (scoring included), and
    the experiment stages' wall time against those durations divided by the processes that ran each stage (1.0:
    no process ever idle inside a stage)."""
    fit_query = defaultdict(float)
    run_seconds = 0.0
    runs = 0
    stage_wall = 0.0
    stage_capacity = 0.0
    for stage_file in sorted(timings.rglob(STAGE_TIMING_FILE)):
        stage = read_json(stage_file)
        stage_runs = 0.0
        for path in sorted(stage_file.parent.rglob("*.json")):
            if path.name == STAGE_TIMING_FILE:
                continue
            record = read_json(path)
            fit_query[record["strategy"]] += sum(c["fit_seconds"] + c["query_seconds"] for c in record["cycles"])
            stage_runs += record["seconds"]
            runs += 1
        run_seconds += stage_runs
        if stage.get("computed_on"):  # a stage that published a study-wide submission's runs computed none itself
            stage_wall += stage["wall_seconds"]
            stage_capacity += stage_runs / stage["computed_on"]["workers"]
    total = sum(fit_query.values())
    return {
        "runs": runs,
        "fit_query_seconds": total,
        "fit_query_share_by_strategy": {s: fit_query[s] / total for s in sorted(fit_query, key=fit_query.get)[::-1]},
        "fit_query_seconds_by_strategy": dict(sorted(fit_query.items())),
        "run_seconds": run_seconds,
        "experiment_stage_wall_seconds": stage_wall,
        "stage_wall_over_runs_per_process": stage_wall / stage_capacity if stage_capacity else None,
    }


def parallel_text(timings_dir: Path) -> str:
    """One sentence: the runs' total duration and how close the experiment stages' wall time came to it divided by
    the processes."""
    totals = build_time(timings_dir)
    if totals["stage_wall_over_runs_per_process"] is None:
        return ""
    return (
        f"The runs took {format_duration(totals['run_seconds'])} one after another; the experiment stages' wall "
        f"time was {totals['stage_wall_over_runs_per_process']:.2f} times that divided by the processes each "
        "stage ran on (1.00 would leave no process idle)."
    )


def _verdict(row: dict[str, Any]) -> str:
    return holm_decision(row["p_holm"], row["vs_random"])


def _shown(cap: int | None, unlabelled: int) -> str:
    """What a query of a condition with candidate cap ``cap`` could see, on a pool of ``unlabelled`` images."""
    return f"up to {cap:,} shown" if cap is not None and cap < unlabelled else f"whole pool ({unlabelled:,} unlabelled)"


def _capped_conditions(study: Study, provenance: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """How many unlabelled images a query of each condition of the candidate cap's check could see, as column
    headings: the study's runs, then the check's."""
    check = study.cap_check
    about = provenance[check["dataset"]]
    unlabelled = sum(about["counts"]["train"]) - dataset_sizes(study, provenance, check["dataset"])["initial_labels"]
    return _shown(study.protocol.get("max_candidates"), unlabelled), _shown(check["max_candidates"], unlabelled)


def _check_rule(study: Study) -> str:
    """The check's rule in words: the study's cap lifted, or a cap of its own."""
    cap = study.cap_check["max_candidates"]
    if cap is None:
        return "every query shown the whole unlabelled pool"
    return f"every query shown a seeded random subset of at most {cap:,} unlabelled images"


# The values of a capped-check row that say what a strategy did (two strategies with all of them equal share a row).
CAPPED_RESULT_KEYS = ("vs_random", "vs_random_low", "vs_random_high", "p_holm")


def _capped_strategies(rows: list[dict[str, Any]], caps: tuple[str, str]) -> tuple[list[str], dict[str, list[str]]]:
    """The strategies other than random, each once with those whose results equal its own in both conditions ``caps``
    merged into it (on two classes least confident, margin and entropy rank the images alike)."""
    by = {(row["max_candidates"], row["strategy"]): row for row in rows}
    return merge_identical(
        [s for s in dict.fromkeys(row["strategy"] for row in rows) if s != BASELINE],
        lambda strategy: tuple(by[(cap, strategy)][key] for cap in caps for key in CAPPED_RESULT_KEYS),
    )


def capped_table(study: Study, provenance: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    """Each strategy's AULC difference from random sampling [95 % CI] and its Holm-corrected verdict, in the main
    experiment's runs and under the candidate cap's check, side by side."""
    uncapped, capped = _capped_conditions(study, provenance)
    study_cap = rows[0]["max_candidates"]
    by = {(row["max_candidates"], row["strategy"]): row for row in rows}
    caps = (study_cap, cap_label(study.cap_check["max_candidates"]))
    strategies, merged = _capped_strategies(rows, caps)
    table = []
    for strategy in strategies:
        pair = [by[(cap, strategy)] for cap in caps]
        cells = [
            f"{r['vs_random']:+.3f} [{r['vs_random_low']:+.3f}, {r['vs_random_high']:+.3f}], {_verdict(r)}"
            for r in pair
        ]
        same = "yes" if _verdict(pair[0]) == _verdict(pair[1]) else "**no**"
        table.append([merged_label(strategy, merged, STRATEGY_LABELS), *cells, same])
    check = study.cap_check
    caption = (
        f"The candidate cap's check on {provenance[check['dataset']]['title']}: each strategy's AULC minus random "
        f"sampling's with {in_sentence(label(study.main_learner, LEARNER_LABELS))} (mean [95 % CI] over "
        f"seeds 0 to {rows[0]['seeds'] - 1}, paired by seed) and its verdict by the paired t-test, Holm-corrected over "
        f"the strategies, once in the main experiment's runs and once with {_check_rule(study)} (random sampling "
        "under the same rule). Strategies with the very same results in both share a row."
    )
    header = ["Strategy", f"Main runs: {uncapped}", f"Check: {capped}", "Same verdict"]
    return markdown_table(header, table, caption, "tbl-capped", text_columns=1)


def capped_text(study: Study, provenance: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    """One sentence: which verdicts against random the candidate cap's check changed."""
    study_cap = rows[0]["max_candidates"]
    capped = cap_label(study.cap_check["max_candidates"])
    by = {(row["max_candidates"], row["strategy"]): row for row in rows}
    strategies, merged = _capped_strategies(rows, (study_cap, capped))
    changed = [
        f"{in_sentence(merged_label(s, merged, STRATEGY_LABELS))} ({_verdict(by[(study_cap, s)])} in the main runs, "
        f"{_verdict(by[(capped, s)])} in the check)"
        for s in strategies
        if _verdict(by[(study_cap, s)]) != _verdict(by[(capped, s)])
    ]
    check = study.cap_check
    opening = (
        f"On {provenance[check['dataset']]['title']}, with {_check_rule(study)} instead of the main runs' rule, "
        f"{len(changed)} of {len(strategies)} verdicts against random sampling changed "
        f"({supplement_ref('tbl-capped')})"
    )
    return opening + (f": {join_names(changed)}.\n" if changed else "; every verdict held.\n")
