"""How the strategies behave: stability over seeds, class balance and recall, stopping, and the sweeps."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from medal.analysis.stats import ALPHA
from medal.analysis.tables import Row
from medal.design import BASELINE, SWEEP_SETTINGS, query_cycles
from medal.report.savings import main_rows
from medal.report.text import (
    CRITERION_LABELS,
    LEARNER_LABELS,
    NBSP,
    REPRESENTATION_LABELS,
    SETTING_LABELS,
    STRATEGY_LABELS,
    budget_phrase,
    fmt_ci,
    in_sentence,
    join_names,
    label,
    markdown_table,
    strategy_label,
)
from medal.study import Study


def stability_table(study: Study, provenance: dict[str, dict[str, Any]], summary: list[Row]) -> str:
    """Per strategy (main learner): spread of AULC over seeds, and how often and how far the score falls between
    cycles."""
    rows_by = main_rows(summary, study.main_learner)

    def cell(row: Row) -> str:
        return f"{row['aulc_sd']:.3f} / {row['drops']:.1f} / {row['largest_drop']:.3f}"

    rows = [[strategy_label(s, study), *(cell(rows_by[(d, s)]) for d in study.datasets)] for s in study.strategies]
    caption = (
        f"Stability over seeds with {in_sentence(label(study.main_learner, LEARNER_LABELS))}: standard deviation "
        "of the AULC / "
        f"mean number of drops per run (the score falls by more than {study.evaluation['drop_threshold']} between "
        "consecutive cycles) / mean largest fall per run."
    )
    return markdown_table(
        ["Strategy", *(provenance[d]["title"] for d in study.datasets)], rows, caption, "tbl-stability", 1
    )


def stability_text(study: Study, summary: list[Row]) -> str:
    """A generated sentence: drops per run of each strategy with the main learner, averaged over datasets."""
    per_strategy = {
        s: float(np.mean([r["drops"] for r in summary if r["strategy"] == s and r["learner"] == study.main_learner]))
        for s in study.strategies
    }
    ordered = sorted(per_strategy, key=per_strategy.get)
    fewest, most = ordered[0], ordered[-1]
    lowest, highest = (f"{in_sentence(label(s, STRATEGY_LABELS))} {per_strategy[s]:.1f}" for s in (fewest, most))
    return (
        f"Averaged over the datasets, the number of drops per run ranged from {lowest} to {highest} "
        f"(random sampling {per_strategy.get(BASELINE, math.nan):.1f}), over {query_cycles(study.protocol)} query "
        "cycles per run.\n"
    )


def class_balance_table(study: Study, provenance: dict[str, dict[str, Any]], balance: dict[str, Any]) -> str:
    """Share of each dataset's minority class among the images each strategy queried (main learner), beside the
    pool's."""
    minority = {d: int(np.argmin(balance[d]["pool"])) for d in study.datasets}
    rows = [["Pool", *(f"{100 * balance[d]['pool'][minority[d]]:.1f}" for d in study.datasets)]]
    rows += [
        [
            strategy_label(s, study),
            *(f"{100 * balance[d]['queried'][study.main_learner][s][minority[d]]:.1f}" for d in study.datasets),
        ]
        for s in study.strategies
    ]
    header = [
        "Strategy",
        *(f"{provenance[d]['title']} ({provenance[d]['class_names'][minority[d]]})" for d in study.datasets),
    ]
    caption = (
        "Class balance of what each strategy asked to label: percentage of each dataset's minority class (in "
        "parentheses) "
        f"among the queried images with {in_sentence(label(study.main_learner, LEARNER_LABELS))}, initial set "
        "excluded, "
        "mean over seeds; the first row is its percentage in the pool."
    )
    return markdown_table(header, rows, caption, "tbl-balance", text_columns=1)


CLASSES_PER_ROW = 4  # a recall cell holds a mean and its interval: more columns than this overflow a page


def class_recall_table(study: Study, provenance: dict[str, dict[str, Any]], recall: list[Row]) -> str:
    """Test recall of every class at the end of the budget per strategy (main learner), and of the full-pool model:
    one group of rows per dataset, headed by its class names, one column per class; a dataset with more than
    ``CLASSES_PER_ROW`` classes gets one group per run of that many classes, its names numbered."""
    by_key = {(r["dataset"], r["strategy"], r["class"]): r for r in recall if r["learner"] == study.main_learner}
    most = max(len(provenance[d]["class_names"]) for d in study.datasets)
    width = min(most, CLASSES_PER_ROW)
    any_strategy = study.strategies[0]  # every strategy's rows carry the same full-pool recall
    rows = []
    for dataset in study.datasets:
        names = provenance[dataset]["class_names"]
        for first in range(0, len(names), width):
            classes = range(first, min(first + width, len(names)))
            padding = [""] * (width - len(classes))
            shown = [f"*{c + 1}. {names[c]}*" if most > width else f"*{names[c]}*" for c in classes]
            rows.append([f"**{provenance[dataset]['title']}**", *shown, *padding])
            full_pool = (f"{by_key[(dataset, any_strategy, c)]['full_pool']:.3f}" for c in classes)
            rows.append(["Full pool", *full_pool, *padding])
            for strategy in study.strategies:
                cells = [
                    fmt_ci(*(by_key[(dataset, strategy, c)][k] for k in ("recall", "recall_low", "recall_high")))
                    for c in classes
                ]
                rows.append([strategy_label(strategy, study), *(c.replace(" ", NBSP) for c in cells), *padding])
    columns = [f"Class {c + 1}" for c in range(width)] if most == width else ["Classes", *[""] * (width - 1)]
    caption = (
        f"Recall of each class on the test set after {budget_phrase(study, provenance)} with "
        f"{in_sentence(label(study.main_learner, LEARNER_LABELS))}, mean [95 % CI] over seeds, under each dataset's "
        "class names; the full-pool row is the same learner trained on the whole pool (mean over seeds). Balanced "
        "accuracy is the mean of a dataset's class recalls."
    )
    return markdown_table(["Strategy", *columns], rows, caption, "tbl-recall", text_columns=1)


def ordinal_table(study: Study, provenance: dict[str, dict[str, Any]], ordinal: list[Row]) -> str:
    """Per ordinal dataset and strategy (main learner): quadratic-weighted kappa and balanced accuracy at the initial
    labels and at the budget, mean [95 % CI] over seeds; empty when no dataset of the study is ordinal."""
    if not ordinal:
        return ""
    by_key = {(r["dataset"], r["strategy"], r["labels"]): r for r in ordinal}
    rows = []
    for dataset in [d for d in study.datasets if any(r["dataset"] == d for r in ordinal)]:
        counts = sorted({r["labels"] for r in ordinal if r["dataset"] == dataset})
        first, last = counts[0], counts[-1]
        rows.append([f"**{provenance[dataset]['title']}**", f"{first} labels", "", f"{last} labels", ""])
        for strategy in study.strategies:
            cells = [
                fmt_ci(*(by_key[(dataset, strategy, n)][f"{metric}{end}"] for end in ("", "_low", "_high")))
                for n in (first, last)
                for metric in ("kappa", "balanced_accuracy")
            ]
            rows.append([strategy_label(strategy, study), *(c.replace(" ", NBSP) for c in cells)])
    header = ["Strategy", "Kappa", "Balanced accuracy", "Kappa", "Balanced accuracy"]
    caption = (
        "Datasets whose classes are ordered grades: Cohen's kappa with quadratic weights (a prediction k grades off "
        "weighs k²) and balanced accuracy on the test set with "
        f"{in_sentence(label(study.main_learner, LEARNER_LABELS))}, at the initial labels and at the budget, mean "
        "[95 % CI] over seeds."
    )
    return markdown_table(header, rows, caption, "tbl-ordinal", text_columns=1)


def _stopping_cell(row: Row) -> str:
    text = f"{row['labels']:.0f}{NBSP}·{NBSP}{row['percent_of_full']:.0f}{NBSP}%"
    return text if row["stopped"] == row["seeds"] else f"{text} ({row['stopped']}/{row['seeds']})"


def stopping_table(study: Study, provenance: dict[str, dict[str, Any]], stopping: list[Row]) -> str:
    """Where each stopping criterion stopped the main learner's runs, and the score reached there: one column per
    criterion, one group of rows per dataset, no line break inside a number and its unit."""
    by_key = {(r["dataset"], r["strategy"], r["criterion"]): r for r in stopping if r["learner"] == study.main_learner}
    criteria = list(study.evaluation["stopping"])
    rows = []
    for dataset in study.datasets:
        rows.append([f"**{provenance[dataset]['title']}**", *([""] * len(criteria))])
        rows += [
            [strategy_label(s, study), *(_stopping_cell(by_key[(dataset, s, c)]) for c in criteria)]
            for s in study.strategies
        ]
    header = ["Strategy", *(label(c, CRITERION_LABELS) for c in criteria)]
    sp, ee = (
        study.evaluation["stopping"]["stabilizing_predictions"],
        study.evaluation["stopping"]["expected_error"],
    )
    caption = (
        f"Stopping without test labels, with {in_sentence(label(study.main_learner, LEARNER_LABELS))}: mean "
        "labels at the "
        "stop · mean test score there in percent of the full-pool score. Stabilizing predictions stops once the pool "
        f"predictions agree with the previous cycle's at Cohen's κ ≥ {sp['kappa']} for {sp['window']} cycles in a row; "
        f"expected error once the mean of 1 − max p̂ over the unlabelled pool is at most {ee['threshold']}. A run "
        "that never "
        "stops counts at the budget; where not every run stopped earlier, the share that did is in parentheses."
    )
    return markdown_table(header, rows, caption, "tbl-stopping", text_columns=1)


def stopping_text(study: Study, stopping: list[Row]) -> str:
    """A generated sentence per criterion: share of runs stopped before the budget and the score kept, main learner."""
    sentences = []
    for criterion in study.evaluation["stopping"]:
        rows = [r for r in stopping if r["criterion"] == criterion and r["learner"] == study.main_learner]
        stopped = sum(r["stopped"] for r in rows)
        runs = sum(r["seeds"] for r in rows)
        labels = float(np.mean([r["labels"] for r in rows]))
        percent = float(np.mean([r["percent_of_full"] for r in rows]))
        sentences.append(
            f"{label(criterion, CRITERION_LABELS)} stopped {stopped} of {runs} runs before the budget; averaged over "
            f"strategies and datasets it ended at {labels:.0f} labels with {percent:.0f} % of the full-pool score."
        )
    return " ".join(sentences) + "\n"


def value_label(setting: str, value: str) -> str:
    """How a sweep value reads in the paper: a representation's display name, or the number as written."""
    return label(value, REPRESENTATION_LABELS) if setting == "representation" else value


def _sweep_cell(row: Row) -> str:
    """A strategy's AULC minus random's at one sweep value, with ▲/▼ where the Holm-adjusted paired test decides."""
    mark = " ▲" if row["vs_random"] > 0 else " ▼"
    text = fmt_ci(row["vs_random"], row["vs_random_low"], row["vs_random_high"]).replace(" ", NBSP)
    return text + (mark if row["p_holm"] < ALPHA else "")


def sweep_table(study: Study, provenance: dict[str, dict[str, Any]], sweeps: list[Row]) -> str:
    """Every sweep in one table: per setting and value, each strategy's AULC minus random's on each sweep dataset."""
    sweep = study.sweeps
    strategies = [s for s in sweep["strategies"] if s != BASELINE]
    by = {(r["dataset"], r["setting"], r["value"], r["strategy"]): r for r in sweeps}
    columns = [(d, s) for d in sweep["datasets"] for s in strategies]
    rows = []
    for setting in SWEEP_SETTINGS:
        values = list(dict.fromkeys(r["value"] for r in sweeps if r["setting"] == setting))
        rows.append([f"**{label(setting, SETTING_LABELS)}**", *([""] * len(columns))])
        for value in values:
            cells = [
                _sweep_cell(by[(d, setting, value, s)]) if (d, setting, value, s) in by else "–" for d, s in columns
            ]
            rows.append([value_label(setting, value), *cells])
    header = [
        "Value",
        *(
            provenance[d]["title"] + ("" if len(strategies) == 1 else f" ({label(s, STRATEGY_LABELS)})")
            for d, s in columns
        ),
    ]
    names = join_names([in_sentence(label(s, STRATEGY_LABELS)) for s in strategies])
    caption = (
        f"Settings that may change the answer: {names} minus random sampling in AULC with "
        f"{in_sentence(label(sweep['learner'], LEARNER_LABELS))}, paired by seed, mean [95 % CI], one setting "
        "varied at a time with the others at the study's values; ▲/▼: the paired t-test, Holm-corrected within "
        "the values of one setting for one dataset and strategy, decides."
    )
    return markdown_table(header, rows, caption, "tbl-sweeps", text_columns=1)


def sweep_summary(
    study: Study, provenance: dict[str, dict[str, Any]], sweeps: list[Row], repeats: list[dict[str, Any]]
) -> str:
    """Which sweep values, if any, moved a strategy significantly away from random sampling; and whether a sweep's
    runs at the study's own value repeat the first experiment's (``repeats``: ``sweep_repeats.json``)."""
    decided = [r for r in sweeps if r["strategy"] != BASELINE and r["p_holm"] < ALPHA]
    if not decided:
        text = "At no value of any setting did a strategy's AULC differ significantly from random's (@tbl-sweeps)."
    else:
        parts = [
            f"{in_sentence(label(r['strategy'], STRATEGY_LABELS))} on {provenance[r['dataset']]['title']} at "
            f"{in_sentence(label(r['setting'], SETTING_LABELS))} {value_label(r['setting'], r['value'])} "
            f"({'above' if r['vs_random'] > 0 else 'below'})"
            for r in decided
        ]
        text = (
            f"Of the settings swept, the difference from random sampling was significant only for {join_names(parts)} "
            "(@tbl-sweeps); at every other value its interval includes zero or the test does not decide."
        )
    return f"{text} {_repeats_text(study, repeats)}".rstrip() + "\n"


def _repeats_text(study: Study, repeats: list[dict[str, Any]]) -> str:
    """Why a sweep's column at the study's own value can differ from the first experiment's numbers."""
    if not repeats:
        return ""
    seeds = study.seeds
    main_seeds = join_names(sorted({str(study.seeds_for(study.main_learner, d)) for d in study.sweeps["datasets"]}))
    differing = [r for r in repeats if not r["same"]]
    if not differing:
        return (
            f"At the study's own value of each setting, every sweep's runs are the first experiment's runs of the same "
            f"{seeds} seeds, query for query and score for score; its difference from random sampling there differs "
            f"from @tbl-aulc's only because @tbl-aulc averages {main_seeds} seeds."
        )
    named = join_names(
        sorted({f"{in_sentence(label(r['setting'], SETTING_LABELS))} on {r['dataset']}" for r in differing})
    )
    return (
        f"At the study's own value, the runs of the {named} sweeps are not the first experiment's runs of the same "
        "seeds, so their difference from random sampling there is a separate measurement."
    )
