"""What can make a comparison with random sampling misleading, as the results show it: the class priors of pool and
test set, what the learners' class weighting changes, and the curve checks the aggregate stage flagged."""

from __future__ import annotations

import math
from typing import Any

from medal.analysis.checks import ABOVE_REFERENCE, RANDOM_DECREASES, TARGET_BELOW_INITIAL
from medal.analysis.metrics import METRIC_LABELS
from medal.analysis.summaries import FULL_POOL_TARGET, study_targets, target_text
from medal.analysis.tables import Row
from medal.report.savings import unbreakable
from medal.report.text import (
    LEARNER_LABELS,
    STRATEGY_LABELS,
    class_counts,
    fmt_ci,
    in_sentence,
    join_names,
    label,
    markdown_table,
    supplement_ref,
)
from medal.study import Study

# A pool and a test set whose class shares differ by more than this many percentage points are named in the text.
PRIOR_SHIFT_POINTS = 5.0
# The metrics the class-weight table shows: the one that depends on the decision threshold, and the one that
# does not.
WEIGHTING_METRICS = ("balanced_accuracy", "roc_auc")
INTERVAL = ("mean", "mean_low", "mean_high")


def _shares(counts: list[int]) -> list[float]:
    return [100 * n / sum(counts) for n in counts]


def prior_shift_text(study: Study, provenance: dict[str, dict[str, Any]]) -> str:
    """The datasets whose test set holds the classes in other shares than the pool, by class."""
    shifted = []
    for dataset in study.datasets:
        p = provenance[dataset]
        pool, test = _shares(p["counts"]["train"]), _shares(p["counts"]["test"])
        worst = max(range(len(pool)), key=lambda c: abs(pool[c] - test[c]))
        if abs(pool[worst] - test[worst]) > PRIOR_SHIFT_POINTS:
            shifted.append(
                f"{p['title']}'s pool holds {pool[worst]:.1f} % {p['class_names'][worst]} images, its test set "
                f"{test[worst]:.1f} %"
            )
    if not shifted:
        return (
            f"In every dataset the test set holds each class in about the share the pool does (within "
            f"{PRIOR_SHIFT_POINTS:g} percentage points).\n"
        )
    return (
        f"The test set does not always hold the classes in the pool's shares: {join_names(shifted)}. A model whose "
        "decision threshold follows the class ratio of its labelled set then loses balanced accuracy on the test set "
        "as random labels follow the pool's ratio, although its ranking of the images improves; "
        f"{supplement_ref('tbl-class-weight')} measures this.\n"
    )


def class_weight_table(study: Study, provenance: dict[str, dict[str, Any]], rows: list[Row]) -> str:
    """Per sweep dataset and strategy: balanced accuracy and ROC-AUC from the initial labels to the budget, with
    the learner's classes weighted alike and unweighted (the class-weight sweep)."""
    by = {(r["dataset"], r["strategy"], r["class_weight"], r["metric"], r["labels"]): r for r in rows}
    sweeps = study.sweeps
    label_counts = sorted({r["labels"] for r in rows})
    first, last = label_counts[0], label_counts[-1]
    table = []
    for dataset in sweeps["datasets"]:
        table.append([f"**{provenance[dataset]['title']}**", "", "", ""])
        for strategy in sweeps["strategies"]:
            for weighting in sweeps["settings"]["class_weight"]:
                cells = []
                for metric in WEIGHTING_METRICS:
                    start, end = (
                        by[(dataset, strategy, weighting, metric, first)],
                        by[(dataset, strategy, weighting, metric, last)],
                    )
                    interval = fmt_ci(*(end[k] for k in INTERVAL))
                    cells.append(unbreakable(f"{fmt_ci(start['mean'], math.nan, math.nan)} → {interval}"))
                table.append([label(strategy, STRATEGY_LABELS), weighting, *cells])
    header = ["Strategy", "Class weight", *(METRIC_LABELS[m] for m in WEIGHTING_METRICS)]
    caption = (
        f"What the learner's class weighting changes ({in_sentence(label(sweeps['learner'], LEARNER_LABELS))}, "
        f"{study.seeds} seeds each): test score with the initial {first} labels → at the budget of {last}, "
        "mean [95 % CI], with every class weighing the same in the fit (balanced, the study's setting) and with "
        "every labelled image weighing the same (none)."
    )
    return markdown_table(header, table, caption, "tbl-class-weight", text_columns=2)


def _grouped(flags: list[dict[str, Any]], study: Study, provenance: dict[str, dict[str, Any]]) -> list[str]:
    """One clause per dataset and kind of flag, naming every strategy or target it concerns."""
    clauses = []
    for dataset in study.datasets:
        title = provenance[dataset]["title"]
        mine = [f for f in flags if f["dataset"] == dataset]
        for flag in (f for f in mine if f["flag"] == RANDOM_DECREASES):
            clauses.append(
                f"on {title}, random sampling's {in_sentence(METRIC_LABELS[flag['metric']])} falls from "
                f"{flag['peak']:.3f} at {flag['labels_peak']} labels to {flag['final']:.3f} at the budget (paired "
                f"change {fmt_ci(flag['change'], flag['change_low'], flag['change_high'])})"
            )
        above = [f for f in mine if f["flag"] == ABOVE_REFERENCE]
        if above:
            top = max(above, key=lambda f: f["mean"])
            names = join_names([in_sentence(label(f["strategy"], STRATEGY_LABELS)) for f in above])
            clauses.append(
                f"on {title}, {names} score{'s' if len(above) == 1 else ''} a "
                f"{in_sentence(METRIC_LABELS[top['metric']])} above the {top['reference']:.3f} of the same learner "
                f"trained on the whole pool at some label count (the highest: "
                f"{in_sentence(label(top['strategy'], STRATEGY_LABELS))}, "
                f"{fmt_ci(top['mean'], top['low'], top['high'])} at {top['labels']} labels)"
            )
        reached = [f for f in mine if f["flag"] == TARGET_BELOW_INITIAL]
        if reached:
            targets = [t for t in study_targets(study.evaluation) if t.key in {f["target"] for f in reached}]
            shares = [f"{t.key} %" for t in targets if t.kind == FULL_POOL_TARGET]
            named = join_names(
                [
                    target_text(t, study.protocol, class_counts(provenance, [dataset]))
                    for t in targets
                    if t.kind != FULL_POOL_TARGET
                ]
                + ([f"{join_names(shares)} of the full-pool score"] if shares else [])
            )
            clauses.append(f"on {title}, random sampling's initial labels already reach {named}")
    return clauses


def flags_text(study: Study, provenance: dict[str, dict[str, Any]], flags: list[dict[str, Any]]) -> str:
    """The curve checks' flags, grouped by dataset and kind: those on the primary metric, then those on the others,
    and what each kind means for the comparison."""
    primary = study.primary_metric
    main = _grouped([f for f in flags if f["metric"] == primary], study, provenance)
    others = _grouped([f for f in flags if f["metric"] != primary], study, provenance)
    text = (
        "The aggregate stage checks every dataset's curves for three things that would make a comparison with random "
        "sampling misleading: random sampling losing score as labels are added (the fall from the peak of its mean "
        "curve to the budget, paired by seed, with a 95 % CI below zero), a strategy scoring above the same learner "
        "trained on the whole pool (the lower end of its CI above that score), and a label target that random "
        "sampling's initial labels already reach. "
    )
    if main:
        text += f"On the primary metric it flagged: {'; '.join(main)}. "
    else:
        text += f"On the primary metric, {in_sentence(METRIC_LABELS[primary])}, it flagged nothing. "
    if any(f["flag"] == ABOVE_REFERENCE for f in flags):
        text += (
            "A few well-chosen labels can rank the test images better than all of them: the whole-pool model is "
            "a reference, not a ceiling, and a strategy's gain over random sampling is read against random sampling. "
        )
    if any(f["flag"] == TARGET_BELOW_INITIAL for f in flags):
        text += "Labels to a target the initial labels reach are left out of the savings. "
    if others:
        text += (
            f"On the other metrics it flagged: {'; '.join(others)}. These metrics score the predicted classes, so a "
            "decision threshold that moves between pool and test set lowers them while the ranking improves."
        )
    return text.rstrip() + "\n"
