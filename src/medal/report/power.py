"""What the study can detect and what it can rule out: each strategy against random with the minimal important
difference, the paired t-test, the equivalence test and the minimum detectable effect."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from medal.analysis.stats import ALPHA, DETECTION_POWER
from medal.analysis.tables import Row
from medal.design import BASELINE
from medal.report.text import (
    NBSP,
    fmt_ci,
    main_seeds_phrase,
    markdown_table,
    strategy_label,
    supplement_ref,
)
from medal.study import Study

# Verdicts of one comparison with random, in the order the text counts them.
VERDICTS = ("better", "worse", "equivalent", "inconclusive")
# How the table marks each verdict, in a column narrow enough for seven columns on a page.
VERDICT_MARKS = {"better": "▲", "worse": "▼", "equivalent": "=", "inconclusive": "–"}


def verdict(row: Row) -> str:
    """``better``/``worse`` when the Holm-adjusted paired t-test rejects equality (by the sign of the mean
    difference), ``equivalent`` when the Holm-adjusted equivalence test places the difference within the
    minimal important difference, else ``inconclusive``."""
    if row["p_holm"] < ALPHA:
        return "better" if row["difference"] > 0 else "worse"
    if row["p_tost_holm"] < ALPHA:
        return "equivalent"
    return "inconclusive"


def _main_comparisons(study: Study, summary: list[Row]) -> list[Row]:
    order = {s: i for i, s in enumerate(study.strategies)}
    return [
        r
        for r in summary
        if r["learner"] == study.main_learner and r["strategy"] != BASELINE and r["strategy"] in order
    ]


def _p(p: float) -> str:
    return "n/a" if math.isnan(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _interval(low: float, high: float) -> str:
    """'[low, high]' with a space that does not break; 'n/a' when not computed."""
    if math.isnan(low):
        return "n/a"
    return f"[{low:.3f},{NBSP}{high:.3f}]"


def test_set_text(comparisons: list[Row]) -> str:
    """How much resampling the test images widens the intervals, and which decisions survive it."""
    rows = [r for r in comparisons if not math.isnan(r["difference_test_low"])]
    if not rows:
        return (
            "The primary metric needs class probabilities, so no interval with test-set resampling is computed "
            "(only accuracy, balanced accuracy and macro-F1 are recomputed from the stored test predictions)."
        )
    widths = np.array([r["difference_high"] - r["difference_low"] for r in rows])
    with_test = np.array([r["difference_test_high"] - r["difference_test_low"] for r in rows])
    ratio = with_test[widths > 0] / widths[widths > 0]
    decided = [r for r in rows if verdict(r) in ("better", "worse")]
    kept = sum(r["difference_test_low"] > 0 or r["difference_test_high"] < 0 for r in decided)
    widening = (
        f"changed the width of the 95 % intervals by a median factor of {np.median(ratio):.2f} "
        f"(range {ratio.min():.2f}–{ratio.max():.2f})"
        if len(ratio)
        else "left the intervals as they were"
    )
    return (
        f"Resampling the test images together with the seeds {widening}; of the {len(decided)} comparisons the "
        f"t-test decided, {kept} keep an interval with test-set sampling that excludes zero."
    )


def _bound(value: float) -> str:
    return "n/a" if math.isnan(value) else f"±{value:.3f}"


def power_table(study: Study, provenance: dict[str, dict[str, Any]], summary: list[Row]) -> str:
    """Per dataset and strategy (main learner): the AULC difference from random, the tests and the verdict. The
    interval's spaces do not break, so no cell splits a number across lines."""
    mid = study.evaluation["minimal_important_difference"]["aulc"]
    comparisons = _main_comparisons(study, summary)
    rows = []
    for dataset in study.datasets:
        rows.append([f"**{provenance[dataset]['title']}**", "", "", "", "", "", ""])
        for r in (r for r in comparisons if r["dataset"] == dataset):
            interval = fmt_ci(r["difference"], r["difference_low"], r["difference_high"])
            rows.append(
                [
                    strategy_label(r["strategy"], study),
                    interval.replace(" ", NBSP),
                    _interval(r["difference_test_low"], r["difference_test_high"]),
                    _p(r["p_holm"]),
                    _bound(r.get("equivalence_bound", math.nan)),
                    f"{r['mde']:.3f}",
                    VERDICT_MARKS[verdict(r)],
                ]
            )
    header = ["Strategy", "ΔAULC [95 % CI]", "With test set", "p (t)", f"Equiv.{NBSP}within", "MDE", "Verdict"]
    caption = (
        "Each strategy against random sampling with the main learner: mean AULC difference over seeds with its "
        "95 % CI; with test set: the 95 % interval when the test images are resampled together with the seeds "
        "(paired bootstrap); p: the paired t-test, Holm-adjusted over the strategies of one dataset; equivalent "
        "within: the smallest margin ±m within which the equivalence test (TOST) would show the strategy equivalent "
        f"to random sampling; MDE: the difference the t-test detects with {100 * DETECTION_POWER:g} % power (both at "
        f"Holm's strictest level); verdict: ▲ better or ▼ worse (t-test), = equivalent within the minimal important "
        f"difference ±{mid:g} (TOST, Holm-adjusted), – inconclusive. The Wilcoxon signed-rank and TOST p-values are "
        "in the aggregate's summary table."
    )
    return markdown_table(header, rows, caption, "tbl-power", text_columns=1)


def _equivalence_sentence(comparisons: list[Row], mid: float) -> list[str]:
    """The margins within which the data could show equivalence, against the minimal important difference."""
    bounds = np.array([r.get("equivalence_bound", math.nan) for r in comparisons])
    bounds = bounds[np.isfinite(bounds)]
    if not len(bounds):
        return []
    return [
        f"The equivalence test could show a strategy equivalent to random sampling within a margin of "
        f"±{np.median(bounds):.3f} at the median (range ±{bounds.min():.3f} to ±{bounds.max():.3f}); "
        f"{int(np.sum(bounds <= mid))} of the {len(bounds)} comparisons are that close within ±{mid:g}."
    ]


def power_text(study: Study, provenance: dict[str, dict[str, Any]], summary: list[Row]) -> str:
    """The minimal important difference, what the study could detect, and how the comparisons came out."""
    comparisons = _main_comparisons(study, summary)
    if not comparisons:
        return ""
    mid = study.evaluation["minimal_important_difference"]["aulc"]
    mde = np.array([r["mde"] for r in comparisons])
    mde = mde[np.isfinite(mde)]
    counts = {v: sum(verdict(r) == v for r in comparisons) for v in VERDICTS}
    normality = sum(r["p_normality"] < ALPHA for r in comparisons)
    disagree = sum((r["p_holm"] < ALPHA) != (r["p_wilcoxon_holm"] < ALPHA) for r in comparisons)
    detect = (
        f"a median of {np.median(mde):.3f} (range {mde.min():.3f}–{mde.max():.3f})"
        if len(mde)
        else "no finite difference"
    )
    relation = "smaller" if len(mde) and np.median(mde) < mid else "larger"
    seeds = main_seeds_phrase(study, provenance)
    sentences = [
        f"The minimal important difference is {mid:g} in AULC. With {seeds}, the paired t-test at Holm's "
        f"strictest level detects with {100 * DETECTION_POWER:g} % power an AULC difference of {detect}, "
        f"{relation} than that margin ({supplement_ref('tbl-power')}).",
        *_equivalence_sentence(comparisons, mid),
        f"Of the {len(comparisons)} comparisons with random sampling, {counts['better']} found the strategy better, "
        f"{counts['worse']} worse, {counts['equivalent']} equivalent within ±{mid:g} and {counts['inconclusive']} "
        "could not decide.",
        f"The Shapiro–Wilk test doubted the normality of the differences in {normality} of the "
        f"{len(comparisons)} comparisons, and the Wilcoxon signed-rank test reached another decision than the "
        f"t-test in {disagree}.",
        test_set_text(comparisons),
    ]
    return " ".join(sentences) + "\n"
