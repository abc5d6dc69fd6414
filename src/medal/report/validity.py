"""What can make a comparison with random sampling misleading, as the results show it: the class priors of pool and
test set, what the learners' class weighting changes, and the curve checks the aggregate stage flagged."""

from __future__ import annotations

from typing import Any

from medal.analysis.checks import ABOVE_REFERENCE, RANDOM_DECREASES
from medal.analysis.metrics import METRIC_LABELS
from medal.analysis.summaries import FULL_POOL_TARGET, study_targets, target_text
from medal.analysis.tables import Row
from medal.report.savings import unbreakable
from medal.report.text import LEARNER_LABELS, STRATEGY_LABELS, fmt_ci, in_sentence, join_names, label, markdown_table

# A pool and a test set whose class shares differ by more than this many percentage points are named in the text.
PRIOR_SHIFT_POINTS = 5.0
# The metrics the class-weight table shows: the one that depends on the decision threshold, and the one that
# does not.
WEIGHTING_METRICS = ("balanced_accuracy", "roc_auc")
INTERVAL = ("mean", "mean_low", "mean_high")


def _shares(counts: list[int]) -> list[float]:
    return [100 * n / sum(counts) for n in counts]


def prior_shift_text(params: dict[str, Any], provenance: dict[str, dict[str, Any]]) -> str:
    """The datasets whose test set holds the classes in other shares than the pool, by class."""
    shifted = []
    for dataset in params["study"]["datasets"]:
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
        "as random labels follow the pool's ratio, although its ranking of the images improves; @tbl-class-weight "
        "measures this.\n"
    )


def class_weight_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]], rows: list[Row]) -> str:
    """Per sweep dataset and strategy: balanced accuracy and ROC-AUC with the initial labels and at the budget,
    with the learner's classes weighted alike and unweighted (the class-weight sweep)."""
    by = {(r["dataset"], r["strategy"], r["class_weight"], r["metric"], r["labels"]): r for r in rows}
    sweeps = params["sweeps"]
    label_counts = sorted({r["labels"] for r in rows})
    table = []
    for dataset in sweeps["datasets"]:
        for strategy in sweeps["strategies"]:
            for weighting in sweeps["settings"]["class_weight"]:
                cells = [
                    unbreakable(fmt_ci(*(by[(dataset, strategy, weighting, metric, n)][k] for k in INTERVAL)))
                    for metric in WEIGHTING_METRICS
                    for n in label_counts
                ]
                table.append([provenance[dataset]["title"], label(strategy, STRATEGY_LABELS), weighting, *cells])
    header = [
        "Dataset",
        "Strategy",
        "Class weight",
        *(f"{METRIC_LABELS[m]} at {n}" for m in WEIGHTING_METRICS for n in label_counts),
    ]
    caption = (
        f"What the learner's class weighting changes ({in_sentence(label(sweeps['learner'], LEARNER_LABELS))}, "
        f"{params['al']['seeds']} seeds each): test balanced accuracy and ROC-AUC, mean [95 % CI], with the initial "
        "labels and at the budget, with every class weighing the same in the fit (balanced, the study's setting) and "
        "with every labelled image weighing the same (none)."
    )
    return markdown_table(header, table, caption, "tbl-class-weight", text_columns=3)


def _flag_sentence(flag: dict[str, Any], params: dict[str, Any], provenance: dict[str, dict[str, Any]]) -> str:
    title = provenance[flag["dataset"]]["title"]
    metric = in_sentence(METRIC_LABELS[flag["metric"]])
    if flag["flag"] == RANDOM_DECREASES:
        return (
            f"on {title}, random sampling's {metric} falls from {flag['peak']:.3f} at {flag['labels_peak']} labels to "
            f"{flag['final']:.3f} at the budget (paired change "
            f"{fmt_ci(flag['change'], flag['change_low'], flag['change_high'])})"
        )
    if flag["flag"] == ABOVE_REFERENCE:
        return (
            f"on {title}, {in_sentence(label(flag['strategy'], STRATEGY_LABELS))} scores a {metric} of "
            f"{fmt_ci(flag['mean'], flag['low'], flag['high'])} at {flag['labels']} labels, above the "
            f"{flag['reference']:.3f} of the same learner trained on the whole pool"
        )
    # TARGET_BELOW_INITIAL
    target = next(t for t in study_targets(params["evaluation"]) if t.key == flag["target"])
    return (
        f"on {title}, the target {target_text(target, params['al'])} ({metric} {flag['goal']:.3f}) is reached by "
        "random sampling's initial labels, so labels to it measure nothing"
        + (" (its table row says so)" if target.kind == FULL_POOL_TARGET else "")
    )


def flags_text(params: dict[str, Any], provenance: dict[str, dict[str, Any]], flags: list[dict[str, Any]]) -> str:
    """The curve checks' flags on the primary metric, one clause each, then those on the other metrics."""
    primary = params["evaluation"]["primary_metric"]
    main = [f for f in flags if f["metric"] == primary]
    others = [f for f in flags if f["metric"] != primary]
    text = (
        "The aggregate stage checks every dataset's curves for three things that would make a comparison with random "
        "sampling misleading: random sampling losing score as labels are added (the fall from the peak of its mean "
        "curve to the budget, paired by seed, with a 95 % CI below zero), a strategy scoring above the same learner "
        "trained on the whole pool (the lower end of its CI above that score), and a label target that random "
        "sampling's initial labels already reach. "
    )
    if main:
        text += f"On the primary metric it flagged: {'; '.join(_flag_sentence(f, params, provenance) for f in main)}. "
    else:
        text += f"On the primary metric, {in_sentence(METRIC_LABELS[primary])}, it flagged nothing. "
    if others:
        text += f"On the other metrics it flagged: {'; '.join(_flag_sentence(f, params, provenance) for f in others)}."
    return text + "\n"
