"""The conclusion's opening sentences, generated from the results that answer the research question."""

from __future__ import annotations

import math
from typing import Any

from medal.analysis.comparisons import TOO_FEW_BLOCKS
from medal.analysis.metrics import METRIC_LABELS, METRIC_NAMES
from medal.analysis.stats import ALPHA
from medal.analysis.summaries import main_target, study_targets, target_text
from medal.analysis.tables import Row
from medal.design import BASELINE
from medal.report.savings import main_rows, significance_mark, significant
from medal.report.setup import is_image
from medal.report.text import (
    LEARNER_LABELS,
    NBSP,
    STRATEGY_LABELS,
    class_counts,
    fmt_ci,
    in_sentence,
    join_names,
    label,
    markdown_table,
    merged_label,
    strategy_label,
    supplement_ref,
)
from medal.study import Study


def shown_difference(row: Row, baseline: Row | None) -> str:
    """'above' or 'below' random sampling when the Holm-corrected test over seeds is significant and the 95 %
    interval that also resamples the test images excludes zero on the same side; '' otherwise (also where that
    interval was not computed)."""
    mark = significance_mark(row, baseline)
    low, high = row.get("difference_test_low", math.nan), row.get("difference_test_high", math.nan)
    if mark == " ▲" and low > 0:
        return "above"
    if mark == " ▼" and high < 0:
        return "below"
    return ""


def _significance_sentence(
    study: Study, provenance: dict[str, dict[str, Any]], rows_by: dict[tuple[str, str], Row]
) -> str:
    """How many strategies were shown above and below random sampling on each dataset, with the test images
    resampled too, beside the counts of the tests over seeds alone."""
    others = [s for s in study.strategies if s != BASELINE]
    shown, seed_only = [], []
    for dataset in study.datasets:
        rows = {s: rows_by[(dataset, s)] for s in others}
        baseline = rows_by.get((dataset, BASELINE))
        verdicts = [shown_difference(row, baseline) for row in rows.values()]
        up, down = significant({**rows, BASELINE: baseline} if baseline else rows)
        shown.append(f"{verdicts.count('above')} and {verdicts.count('below')} on {provenance[dataset]['title']}")
        seed_only.append(f"{len(up)} and {len(down)}")
    return (
        f"With {in_sentence(label(study.main_learner, LEARNER_LABELS))}, of {len(others)} distinct strategies, the "
        "numbers whose AULC lay above and below random sampling's (Holm-corrected paired tests over seeds, and a 95 % "
        f"interval that also resamples the test images excluding zero) were {join_names(shown)} (the tests over "
        f"seeds alone: {', '.join(seed_only)})."
    )


def _rank_sentence(friedman: dict[str, Any], provenance: dict[str, dict[str, Any]]) -> list[str]:
    """Per dataset where a strategy ranked ahead of random sampling: by how many ranks, against the critical
    difference."""
    parts = []
    for dataset, test in friedman["datasets"].items():
        ranks = dict(zip(friedman["strategies"], test["average_ranks"]))
        best = min(ranks, key=ranks.get)
        if best == BASELINE or BASELINE not in ranks:
            continue
        gap = ranks[BASELINE] - ranks[best]
        relation = "more" if gap >= test["critical_difference"] else "less"
        name = in_sentence(merged_label(best, friedman.get("merged", {}), STRATEGY_LABELS))
        parts.append(
            f"on {provenance[dataset]['title']} {name} led random sampling by {gap:.2f} ranks, {relation} than the "
            f"critical difference of {test['critical_difference']:.2f}"
        )
    return [f"Ranked over the seeds of each dataset, {join_names(parts)}."] if parts else []


def _across_sentence(across: dict[str, Any] | None) -> list[str]:
    """How many strategies the comparison across the image sets placed above, within the margin of and below random
    sampling, or that the sets were too few for a verdict (nothing without at least two image sets)."""
    if not across or len(across["datasets"]) < 2:
        return []
    verdicts = [r["decision"] for r in across["strategies"].values()]
    if TOO_FEW_BLOCKS in verdicts:
        return [
            f"With {len(across['datasets'])} image sets, no verdict across medical image sets is possible: the "
            f"Bayesian signed-rank test could not show even a large lead at {across['probability']:g}."
        ]
    return [
        f"Across the {len(across['datasets'])} image sets as independent blocks (Bayesian signed-rank test), "
        f"{verdicts.count('above random')} strategies were shown above random sampling, "
        f"{verdicts.count('equivalent')} equivalent to it within ±{across['rope']:g} and "
        f"{verdicts.count('below random')} below it; the other {verdicts.count('undecided')} stayed undecided."
    ]


def _group_name(datasets: list[str], provenance: dict[str, dict[str, Any]], kind: str) -> str:
    """'BreastMNIST and PneumoniaMNIST, the image sets' or 'WDBC, the tabular set'."""
    names = join_names([provenance[d]["title"] for d in datasets])
    return f"{names}, the {kind} set{'s' if len(datasets) > 1 else ''}"


def _saving_sentences(
    study: Study,
    provenance: dict[str, dict[str, Any]],
    targets: list[Row],
    images_above: bool,
    cite: bool = True,
) -> list[str]:
    """The largest median saving at the main target, on the image sets and on the others apart, and what was shown
    on images: a saving counts only where its interval lies above zero."""
    main = main_target(study.evaluation)
    savings = [
        r
        for r in targets
        if r["learner"] == study.main_learner
        and r["target"] == main.key
        and r["above_initial"]
        and r["strategy"] != BASELINE
        and not math.isnan(r["saving"])
    ]
    images = [d for d in study.datasets if is_image(provenance[d])]
    groups = [(images, "image"), ([d for d in study.datasets if d not in images], "tabular")]
    sentences = []
    image_saving_shown = False
    for datasets, kind in groups:
        rows = [r for r in savings if r["dataset"] in datasets]
        if not rows:
            continue
        top = max(rows, key=lambda r: r["saving"])
        shown = top["saving_low"] > 0
        image_saving_shown |= shown and kind == "image"
        saving = fmt_ci(top["saving"], top["saving_low"], top["saving_high"], 0)
        by = in_sentence(strategy_label(top["strategy"], study))
        reached = target_text(main, study.protocol, class_counts(provenance, datasets))
        what = "it" if sentences else f"the largest median saving to reach {reached}"
        sentences.append(
            f"On {_group_name(datasets, provenance, kind)}, {what} was {saving} labels, by {by} on "
            f"{provenance[top['dataset']]['title']}"
            + ("" if shown else "; its interval includes zero, so it is not a saving the data show")
            + (f" ({supplement_ref('tbl-labels')})." if cite else ".")
        )
    if images and not images_above and not image_saving_shown:
        sentences.append(
            "On the medical images, then, no strategy was shown to save annotation over random sampling in this "
            "setting."
        )
    return sentences


def conclusion_text(
    study: Study,
    provenance: dict[str, dict[str, Any]],
    summary: list[Row],
    friedman: dict[str, Any],
    targets: list[Row],
    cite: bool = True,
    across: dict[str, Any] | None = None,
) -> str:
    """The study's answer in a few generated sentences: significant wins over random, the rank analysis, the
    verdicts ``across`` the image sets, and the largest label saving at the middle target, all with the main
    learner. ``cite=False`` (the abstract's version) leaves out the references to tables and the rank analysis."""
    rows_by = main_rows(summary, study.main_learner)
    images_above = any(
        shown_difference(rows_by[(d, s)], rows_by.get((d, BASELINE))) == "above"
        for d in study.datasets
        if is_image(provenance[d])
        for s in study.strategies
        if s != BASELINE
    )
    sentences = [
        _significance_sentence(study, provenance, rows_by),
        *(_rank_sentence(friedman, provenance) if cite else []),
        *_across_sentence(across),
        *_saving_sentences(study, provenance, targets, images_above, cite),
    ]
    return " ".join(sentences) + "\n"


def learner_answers_table(study: Study, provenance: dict[str, dict[str, Any]], summary: list[Row]) -> str:
    """Per learner and dataset, the learner-comparison strategies significantly above (▲) and below (▼) random."""
    rows = []
    for learner in study.learners:
        by = main_rows(summary, learner)
        cells = []
        for dataset in study.learner_datasets:
            up, down = significant({s: by[(dataset, s)] for s in study.learner_strategies if (dataset, s) in by})
            parts = [f"▲ {label(s, STRATEGY_LABELS)}" for s in up] + [f"▼ {label(s, STRATEGY_LABELS)}" for s in down]
            cells.append(", ".join(parts) or "none")
        rows.append([label(learner, LEARNER_LABELS), *cells])
    header = ["Learner", *(provenance[d]["title"] for d in study.learner_datasets)]
    compared = join_names([in_sentence(label(s, STRATEGY_LABELS)) for s in study.learner_strategies if s != BASELINE])
    caption = (
        f"The answer per learner: which of {compared} had a significantly higher (▲) or lower (▼) AULC than random "
        "sampling (paired t-test, Holm-corrected within each dataset and learner)."
    )
    return markdown_table(header, rows, caption, "tbl-answers", text_columns=len(header))


def target_answers_text(study: Study, provenance: dict[str, dict[str, Any]], targets: list[Row]) -> str:
    """Per target fraction (main learner): the strategies whose saving over random has a CI above zero, and those
    that save at least the minimal important share of random's labels."""
    learner = study.main_learner
    shown = set(study.strategies)  # strategies merged into another are named with it
    share = study.evaluation["minimal_important_difference"]["labels_saved_percent"]
    sentences = []
    for target in study_targets(study.evaluation):
        rows = [
            r
            for r in targets
            if r["learner"] == learner
            and r["target"] == target.key
            and r["above_initial"]
            and r["strategy"] in shown
            and r["strategy"] != BASELINE
            and r["saving_low"] > 0
        ]
        found = [
            f"{in_sentence(strategy_label(r['strategy'], study))} on {provenance[r['dataset']]['title']}"
            + (f" ({r['saving_pct']:.0f} %)" if r["saving_pct"] >= share else "")
            for r in rows
        ]
        sentences.append(
            f"To reach {target_text(target, study.protocol, class_counts(provenance, study.datasets))}, "
            + (
                f"the saving's interval lies above zero for {join_names(found)}."
                if found
                else "no saving's interval lies above zero."
            )
        )
    return (
        " ".join(sentences)
        + f" A percentage in brackets marks a saving of at least {share:g} % of the labels random sampling needed, "
        "the minimal important saving.\n"
    )


def _metric_counts(study: Study, rows: list[Row]) -> dict[tuple[str, str], tuple[int, int]]:
    """Per (dataset, metric): how many distinct strategies had a significantly higher and lower AULC than random."""
    shown = set(study.strategies)
    counts = {}
    for dataset in study.datasets:
        for metric in METRIC_NAMES:
            chosen = [r for r in rows if r["dataset"] == dataset and r["metric"] == metric and r["strategy"] in shown]
            decided = [r for r in chosen if r["p_holm"] < ALPHA]
            counts[(dataset, metric)] = (
                sum(r["difference"] > 0 for r in decided),
                sum(r["difference"] < 0 for r in decided),
            )
    return counts


def metric_answers_table(study: Study, provenance: dict[str, dict[str, Any]], rows: list[Row]) -> str:
    """Per dataset and metric (main learner): the number of strategies significantly above (▲) and below (▼)
    random sampling on that metric's AULC."""
    counts = _metric_counts(study, rows)
    table = [
        [provenance[d]["title"], *(f"▲{NBSP}{counts[(d, m)][0]} ▼{NBSP}{counts[(d, m)][1]}" for m in METRIC_NAMES)]
        for d in study.datasets
    ]
    header = ["Dataset", *(METRIC_LABELS[m] for m in METRIC_NAMES)]
    caption = (
        f"The answer per metric with {in_sentence(label(study.main_learner, LEARNER_LABELS))}: of the "
        f"{len([s for s in study.strategies if s != BASELINE])} distinct strategies, how many had a "
        "significantly higher (▲) or lower (▼) AULC of each metric than random sampling (paired t-test, "
        "Holm-corrected over the strategies of one dataset and metric); the primary metric is "
        f"{in_sentence(METRIC_LABELS[study.primary_metric])}."
    )
    return markdown_table(header, table, caption, "tbl-metrics")


def metric_answers_text(study: Study, provenance: dict[str, dict[str, Any]], rows: list[Row]) -> str:
    """Whether the answer depends on the metric: per dataset, the metrics whose counts differ from the primary's."""
    counts = _metric_counts(study, rows)
    primary = study.primary_metric
    parts = []
    for dataset in study.datasets:
        others = [m for m in METRIC_NAMES if counts[(dataset, m)] != counts[(dataset, primary)]]
        if others:
            listed = join_names(
                [
                    f"{in_sentence(METRIC_LABELS[m])} ({counts[(dataset, m)][0]} and {counts[(dataset, m)][1]})"
                    for m in others
                ]
            )
            parts.append(
                f"on {provenance[dataset]['title']}, {counts[(dataset, primary)][0]} above and "
                f"{counts[(dataset, primary)][1]} below by the primary metric, but by {listed}"
            )
    if not parts:
        return (
            "Every metric gives the same numbers of strategies above and below random sampling "
            f"({supplement_ref('tbl-metrics')}).\n"
        )
    return f"The answer depends on the metric ({supplement_ref('tbl-metrics')}): {'; '.join(parts)}.\n"
