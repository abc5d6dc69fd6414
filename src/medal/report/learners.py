"""Learners and update modes: AULC per learner, partial_fit against refitting, and wall-clock cost."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from medal.analysis.tables import Row
from medal.design import BASELINE, run_path
from medal.experiment.learners import UPDATE_MODES
from medal.fileio import read_json
from medal.report.savings import significance_mark
from medal.report.text import (
    ESTIMATOR_LABELS,
    LEARNER_LABELS,
    NBSP,
    STRATEGY_LABELS,
    in_sentence,
    join_names,
    label,
    markdown_table,
    seeds_phrase,
)
from medal.study import Study


def learners_table(study: Study, provenance: dict[str, dict[str, Any]], summary: list[Row]) -> str:
    """AULC of every learner with the learner-comparison strategies: mean ± CI half-width, significance against
    random."""
    by_key = {(r["dataset"], r["learner"], r["strategy"]): r for r in summary}

    def cell(dataset: str, learner: str, strategy: str) -> str:
        row = by_key[(dataset, learner, strategy)]
        half = (row["aulc_high"] - row["aulc_low"]) / 2
        text = f"{row['aulc']:.3f}" + ("" if math.isnan(half) else f" ± {half:.3f}")
        return text + significance_mark(row, by_key.get((dataset, learner, BASELINE)))

    strategies = study.learner_strategies
    rows = []
    for dataset in study.learner_datasets:
        rows.append([f"**{provenance[dataset]['title']}**", *([""] * len(strategies))])
        rows += [
            [label(learner, LEARNER_LABELS), *(cell(dataset, learner, s).replace(" ", NBSP) for s in strategies)]
            for learner in study.learners
        ]
    header = ["Learner", *(label(s, STRATEGY_LABELS) for s in strategies)]
    caption = (
        "AULC of every learner with "
        f"{join_names([in_sentence(label(s, STRATEGY_LABELS)) for s in study.learner_strategies])}: "
        f"mean ± half-width of the 95 % CI over {seeds_phrase(study)}; ▲/▼ as in the main text's AULC table, "
        "Holm-corrected within each (dataset, learner) pair."
    )
    return markdown_table(header, rows, caption, "tbl-learners", text_columns=1)


def learner_aulc(study: Study, summary: list[Row]) -> dict[tuple[str, str], float]:
    """Mean AULC of each (dataset, learner) over the learner-comparison strategies."""
    shared = set(study.learner_strategies)
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in summary:
        if r["strategy"] in shared:
            values[(r["dataset"], r["learner"])].append(r["aulc"])
    return {key: float(np.mean(v)) for key, v in values.items()}


def learners_text(study: Study, provenance: dict[str, dict[str, Any]], summary: list[Row]) -> str:
    """Generated sentences: the best and worst learner per dataset, and partial_fit's AULC against refitting per
    estimator."""
    means = learner_aulc(study, summary)
    sentences = []
    for d in study.learner_datasets:
        ranked = sorted(study.learners, key=lambda learner: -means[(d, learner)])
        sentences.append(
            f"On {provenance[d]['title']} the mean AULC over these strategies ranged from {means[(d, ranked[-1])]:.3f} "
            f"with {in_sentence(label(ranked[-1], LEARNER_LABELS))} to {means[(d, ranked[0])]:.3f} "
            f"with {in_sentence(label(ranked[0], LEARNER_LABELS))}."
        )
    for estimator, modes in update_modes(study):
        changes = []
        for mode, learner in incremental(modes):
            gaps = [means[(d, learner)] - means[(d, modes["fit"])] for d in study.learner_datasets]
            change = (
                "left the mean AULC unchanged to three decimals"
                if max(abs(g) for g in gaps) < 0.0005
                else f"changed the mean AULC by {min(gaps):+.3f} to {max(gaps):+.3f}"
            )
            changes.append(f"{MODE_NAMES[mode]} {change}")
        sentences.append(
            f"For {in_sentence(label(estimator, ESTIMATOR_LABELS))}, against refitting across the datasets, "
            f"{join_names(changes)}."
        )
    return " ".join(sentences) + "\n"


def timing_table(
    study: Study, provenance: dict[str, dict[str, Any]], timings: dict[tuple[str, str], tuple[float, float]]
) -> str:
    """Mean milliseconds per cycle spent updating each learner and querying, one group of rows per dataset."""
    rows = []
    for dataset in study.learner_datasets:
        rows.append([f"**{provenance[dataset]['title']}**", "", ""])
        rows += [
            [label(learner, LEARNER_LABELS), *(f"{timings[(dataset, learner)][i]:.2f}" for i in (0, 1))]
            for learner in study.learners
        ]
    header = ["Learner", "Update (ms)", "Query (ms)"]
    caption = (
        "Wall-clock milliseconds per cycle to update the learner and to select the next batch, averaged over "
        f"{join_names([in_sentence(label(s, STRATEGY_LABELS)) for s in study.learner_strategies])}, "
        "seeds and "
        "cycles (one process per run, measured on the machine that built this paper)."
    )
    return markdown_table(header, rows, caption, "tbl-timing", text_columns=1)


def speedup_text(study: Study, timings: dict[tuple[str, str], tuple[float, float]]) -> str:
    """Generated sentence: how much faster a ``partial_fit`` update was than a refit, per estimator (wall clock)."""
    parts = []
    for estimator, modes in update_modes(study):
        for mode, learner in incremental(modes):
            speed = [timings[(d, modes["fit"])][0] / timings[(d, learner)][0] for d in study.learner_datasets]
            parts.append(
                f"{min(speed):.1f} to {max(speed):.1f} times as long as {MODE_NAMES[mode]} for "
                f"{in_sentence(label(estimator, ESTIMATOR_LABELS))}"
            )
    if not parts:
        return "\n"
    return f"Measured in this build, a refit took {join_names(parts)}, across the datasets.\n"


# How the generated text names each update mode other than refitting.
MODE_NAMES = {"warm_start": "a warm-started update", "partial_fit": "a `partial_fit` update"}


def incremental(modes: dict[str, str]) -> list[tuple[str, str]]:
    """The (update mode, learner) pairs of :func:`update_modes`' entry other than refitting."""
    return [(mode, learner) for mode, learner in modes.items() if mode != "fit"]


def update_modes(study: Study) -> list[tuple[str, dict[str, str]]]:
    """(estimator, {update mode: learner}) for each estimator the study runs both refitted (``fit``) and with another
    update mode; the modes in :data:`UPDATE_MODES` order, ``fit`` first."""
    by_estimator: dict[str, dict[str, str]] = defaultdict(dict)
    for name in study.learners:
        spec = study.learner_specs[name]
        by_estimator[spec["estimator"]].setdefault(spec["update"], name)
    return [
        (estimator, {mode: modes[mode] for mode in UPDATE_MODES if mode in modes})
        for estimator, modes in by_estimator.items()
        if "fit" in modes and len(modes) > 1
    ]


def mean_timings(study: Study, timings_dir: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """Per (dataset, learner): mean milliseconds per learner update and per query, over the learner-comparison
    strategies (which every learner runs), seeds and cycles."""
    means = {}
    for dataset in study.learner_datasets:
        for learner in study.learners:
            fit, query = [], []
            for strategy in study.learner_strategies:
                for seed in range(study.seeds_for(learner, dataset)):
                    cycles = read_json(timings_dir / run_path(dataset, strategy, learner, seed))["cycles"]
                    fit += [c["fit_seconds"] for c in cycles]
                    query += [c["query_seconds"] for c in cycles[:-1]]  # the last cycle queries nothing
            means[(dataset, learner)] = (1000 * float(np.mean(fit)), 1000 * float(np.mean(query)))
    return means
