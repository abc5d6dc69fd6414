"""Which strategies save labels: AULC against random, significance, ranks, and labels to each target."""

from __future__ import annotations

import math
import re
from typing import Any

from medal.analysis.comparisons import TOO_FEW_BLOCKS
from medal.analysis.conclusions import holm_decision
from medal.analysis.metrics import METRIC_LABELS
from medal.analysis.stats import ALPHA
from medal.analysis.summaries import Target, main_target, target_text
from medal.analysis.tables import Row
from medal.design import BASELINE
from medal.report.text import (
    LEARNER_LABELS,
    NBSP,
    STRATEGY_LABELS,
    budget_phrase,
    capitalised,
    class_counts,
    dataset_sizes,
    fmt_ci,
    in_sentence,
    join_names,
    label,
    main_seeds_phrase,
    markdown_table,
    strategy_label,
    study_budgets,
    supplement_ref,
)
from medal.study import Study


def significance_mark(row: Row, baseline: Row | None) -> str:
    """' ▲' or ' ▼' when the Holm-adjusted paired t-test against random is significant, else ''."""
    if baseline is None:
        return ""
    decision = holm_decision(row["p_holm"], row["aulc"] - baseline["aulc"])
    return {"above random": " ▲", "below random": " ▼"}.get(decision, "")


def _best(values: dict[str, float]) -> set[str]:
    finite = {k: v for k, v in values.items() if not math.isnan(v)}
    if not finite:
        return set()
    top = max(finite.values())
    return {k for k, v in finite.items() if v == top}


def main_rows(summary: list[Row], learner: str) -> dict[tuple[str, str], Row]:
    """Summary rows of one learner by (dataset, strategy)."""
    return {(r["dataset"], r["strategy"]): r for r in summary if r["learner"] == learner}


def _aulc_cell(row: Row, baseline: Row | None, bold: bool) -> str:
    text = fmt_ci(row["aulc"], row["aulc_low"], row["aulc_high"])
    return (f"**{text}**" if bold else text) + significance_mark(row, baseline)


def aulc_table(study: Study, provenance: dict[str, dict[str, Any]], summary: list[Row]) -> str:
    """AULC mean [95 % CI] of every strategy with the main learner, one column per dataset; the best in bold."""
    rows_by = main_rows(summary, study.main_learner)
    best = {d: _best({s: rows_by[(d, s)]["aulc"] for s in study.strategies}) for d in study.datasets}
    rows = [
        [
            strategy_label(s, study),
            *(_aulc_cell(rows_by[(d, s)], rows_by.get((d, BASELINE)), s in best[d]) for d in study.datasets),
        ]
        for s in study.strategies
    ]
    metric = in_sentence(METRIC_LABELS[study.primary_metric])
    caption = (
        f"Normalised area under the learning curve ({metric}) with "
        f"{in_sentence(label(study.main_learner, LEARNER_LABELS))}, "
        f"mean [95 % CI] over {main_seeds_phrase(study, provenance)}; the highest mean per dataset in bold. "
        "Paired t-test "
        f"against random sampling, Holm-corrected over the strategies of a dataset: ▲ higher, ▼ lower "
        f"than random at p < {ALPHA}."
    )
    header = ["Strategy", *(provenance[d]["title"] for d in study.datasets)]
    return markdown_table(header, rows, caption, "tbl-aulc", text_columns=1)


def significant(rows: dict[str, Row]) -> tuple[list[str], list[str]]:
    """The strategies (keys of ``rows``, one dataset and learner) significantly above and below random sampling."""
    marks = {s: significance_mark(row, rows.get(BASELINE)) for s, row in rows.items() if s != BASELINE}
    return [s for s, m in marks.items() if m == " ▲"], [s for s, m in marks.items() if m == " ▼"]


def results_text(
    study: Study,
    provenance: dict[str, dict[str, Any]],
    summary: list[Row],
    identical: dict[str, Any],
) -> str:
    """One generated paragraph over the datasets (main learner): each dataset's best AULC against random's, how many
    strategies beat or trailed random significantly on each, and which strategies chose the same images where."""
    learner = study.main_learner
    rows_by = main_rows(summary, learner)
    bests, counts, same = [], [], {}
    for dataset in study.datasets:
        title = provenance[dataset]["title"]
        rows = {s: rows_by[(dataset, s)] for s in study.strategies}
        best = max(rows, key=lambda s: rows[s]["aulc"])
        b = rows[best]
        name = in_sentence(label(best, STRATEGY_LABELS))
        text = f"{name} on {title}, {fmt_ci(b['aulc'], b['aulc_low'], b['aulc_high'])}"
        if BASELINE in rows and best != BASELINE:
            r = rows[BASELINE]
            text += f" (random sampling {fmt_ci(r['aulc'], r['aulc_low'], r['aulc_high'])})"
            above, below = significant(rows)
            counts.append(f"{len(above)} and {len(below)} on {title}")
        bests.append(text)
        for group in identical[dataset].get(learner, []):
            same.setdefault(tuple(group), []).append(title)
    sentences = [f"The highest AULC was reached by {join_names(bests)} (@tbl-aulc)."]
    if counts:
        sentences.append(
            f"After Holm correction over the {len(study.strategies) - 1} strategies of a dataset, the numbers "
            f"significantly above and below random sampling were {join_names(counts)}."
        )
    sentences += [
        f"{capitalised(join_names([in_sentence(label(s, STRATEGY_LABELS)) for s in group]))} queried exactly the "
        f"same images in every seed on {join_names(titles)}."
        for group, titles in same.items()
    ]
    return " ".join(sentences) + "\n"


def _friedman_sentence(test: dict[str, Any], names: dict[str, str], where: str) -> str:
    """One Friedman test (``test`` with its ``strategies``): the best average rank, against random sampling's, the
    verdict and the Nemenyi critical difference."""
    ranks = dict(zip(test["strategies"], test["average_ranks"]))
    best = min(ranks, key=ranks.get)
    text = (
        f"{where}, over {test['blocks']} blocks, {in_sentence(label(best, names))} had the best average rank "
        f"({ranks[best]:.2f}; random sampling {ranks.get(BASELINE, math.nan):.2f})"
    )
    if math.isnan(test["p_value"]):
        return text + "; the Friedman test needs at least three strategies and two blocks."
    verdict = "reject" if test["p_value"] < ALPHA else "do not reject"
    return text + (
        f"; the Friedman test gives χ² = {test['statistic']:.2f}, p = {test['p_value']:.3g}, so we {verdict} that "
        f"all rank alike at α = {ALPHA}, and the Nemenyi critical difference is {test['critical_difference']:.2f}."
    )


def _friedman_per_dataset(friedman: dict[str, Any], names: dict[str, str], provenance: dict[str, Any]) -> list[str]:
    """One Friedman test per dataset, said once over the datasets: the best average ranks, the verdicts and the
    Nemenyi critical differences."""
    bests, verdicts, differences, untested = [], {"rejects": [], "does not reject": []}, [], []
    for dataset, test in friedman["datasets"].items():
        title = provenance[dataset]["title"]
        ranks = dict(zip(friedman["strategies"], test["average_ranks"]))
        best = min(ranks, key=ranks.get)
        bests.append(
            f"{in_sentence(label(best, names))} on {title} ({ranks[best]:.2f}; random sampling "
            f"{ranks.get(BASELINE, math.nan):.2f})"
        )
        if math.isnan(test["p_value"]):
            untested.append(title)
            continue
        verdict = "rejects" if test["p_value"] < ALPHA else "does not reject"
        verdicts[verdict].append(f"{title} (χ² = {test['statistic']:.2f}, p = {test['p_value']:.3g})")
        differences.append(f"{test['critical_difference']:.2f} on {title} ({test['blocks']} blocks)")
    sentences = [f"With the seeds of each dataset as blocks, the best average rank went to {join_names(bests)}."]
    sentences += [
        f"The Friedman test {verdict} that all strategies rank alike at α = {ALPHA} on {join_names(items)}."
        for verdict, items in verdicts.items()
        if items
    ]
    if differences:
        sentences.append(f"The Nemenyi critical difference is {join_names(differences)}.")
    if untested:
        sentences.append(f"On {join_names(untested)} the Friedman test needs at least three strategies and two blocks.")
    return sentences


def friedman_text(
    friedman: dict[str, Any], names: dict[str, str], figure: str, provenance: dict[str, dict[str, Any]]
) -> str:
    """Generated sentences on a Friedman analysis and its critical-difference diagram (``figure``: how the text
    refers to it): one test per dataset (seeds as blocks) when ``friedman`` holds ``datasets``, else one test over
    its blocks."""
    if "datasets" in friedman:
        sentences = _friedman_per_dataset(friedman, names, provenance)
    else:
        sentences = [_friedman_sentence(friedman, names, f"With one block per {friedman['blocks_of']}")]
    sentences.append(
        f"Strategies whose average ranks differ by less than the critical difference are not distinguished ({figure})."
    )
    sentences += [
        f"{capitalised(join_names([in_sentence(label(s, names)) for s in [first, *others]]))} queried the same "
        "images in every block and are ranked once."
        for first, others in friedman.get("merged", {}).items()
    ]
    sentences += [
        f"{join_names([label(learner, LEARNER_LABELS) for learner in [first, *others]])} gave identical results "
        "and count as one block per dataset."
        for first, others in friedman.get("merged_learners", {}).items()
    ]
    return " ".join(sentences) + "\n"


def _needed_cell(row: Row, budget: int) -> str:
    """Median [95 % CI] labels needed, '> budget' where the median or a bound lies beyond it, and the
    share of seeds that reached the target when not all did."""
    reached, seeds = row["reached"], row["seeds"]
    if reached == 0:
        return f"> {budget} (0/{seeds})"

    def number(value: float) -> str:
        return f"> {budget}" if value == math.inf else f"{value:.0f}"

    median, low, high = row["labels"], row["labels_low"], row["labels_high"]
    text = number(median) if math.isnan(low) else f"{number(median)} [{number(low)}, {number(high)}]"
    return text if reached == seeds else f"{text} ({reached}/{seeds})"


def _saving_cell(row: Row) -> list[str]:
    """Median [95 % CI] labels saved versus random, and the percentage with how many pairs are bounds."""
    if row["strategy"] == BASELINE:
        return ["(baseline)", ""]
    images = fmt_ci(row["saving"], row["saving_low"], row["saving_high"], 0)
    percent = f"{row['saving_pct']:.0f} %"
    bounded = row["saving_bounded"]
    return [images, percent if bounded == 0 else f"{percent} ({bounded}/{row['seeds']} bounds)"]


def unbreakable(text: str) -> str:
    """``text`` with non-breaking spaces inside brackets and before a unit, so that a table cell never splits
    an interval or a number from its unit across lines."""
    text = re.sub(r"\[[^\]]*\]", lambda match: match.group(0).replace(" ", NBSP), text)
    return re.sub(r"(\d) (%|bounds)", rf"\1{NBSP}\2", text).replace("> ", f">{NBSP}")


def labels_table(study: Study, provenance: dict[str, dict[str, Any]], targets: list[Row], target: Target) -> str:
    """Per dataset and strategy (main learner): labels needed to reach one target, and labels saved versus random;
    the table's id is ``tbl-labels`` for the main target and ``tbl-labels-<key>`` for the others. A dataset whose
    target random sampling's initial labels already reach gets one line that says so instead of its rows."""
    by_key = {
        (r["dataset"], r["strategy"]): r
        for r in targets
        if r["learner"] == study.main_learner and r["target"] == target.key
    }
    metric = METRIC_LABELS[study.primary_metric]
    rows = []
    for dataset in study.datasets:
        budget = dataset_sizes(study, provenance, dataset)["budget"]
        baseline = by_key[(dataset, BASELINE)]
        title = f"**{provenance[dataset]['title']}** (target {metric} {baseline['goal']:.3f})"
        if not baseline["above_initial"]:
            rows.append([title, "reached with the initial labels: not informative", "", ""])
            continue
        rows.append([title, "", "", ""])
        for strategy in study.strategies:
            row = by_key[(dataset, strategy)]
            cells = [_needed_cell(row, budget), *_saving_cell(row)]
            rows.append([strategy_label(strategy, study), *(unbreakable(c) for c in cells)])
    header = ["Strategy", "Needed", "Saved (images)", "Saved (%)"]
    reached = target_text(target, study.protocol, class_counts(provenance, study.datasets))
    budgets = study_budgets(study, provenance)
    beyond = f"> {budgets[0]}" if len(budgets) == 1 else "> the dataset's budget"
    caption = (
        f"Labels queried from the (simulated) oracle to reach {reached} "
        f"({metric}, mean over seeds) with {in_sentence(label(study.main_learner, LEARNER_LABELS))}. Needed: "
        f"median [95 % CI] over all seeds; a seed that did not reach the target within "
        f"{budget_phrase(study, provenance)} counts as needing more (censored), so a median or bound beyond the "
        "budget reads "
        f"{beyond}, and the share of seeds that reached the target is in parentheses. Saved: labels "
        "saved versus random sampling, paired by seed over all seeds, median [95 % CI] of the per-seed difference in "
        "images, and the total in percent of what random sampling needed; an unreached run counts as needing one "
        "batch past the budget, so such a pair's saving is a bound (their number is in parentheses); positive means "
        "fewer labels than random. CIs from order statistics (distribution-free)."
    )
    return markdown_table(header, rows, caption, labels_table_id(study, target), text_columns=1)


def labels_table_id(study: Study, target: Target) -> str:
    """``tbl-labels`` for the main target (the one the main text shows), else ``tbl-labels-<key>``."""
    main = main_target(study.evaluation)
    return "tbl-labels" if target == main else f"tbl-labels-{target.key.replace('_', '-')}"


ACROSS_MARKS = {"above random": "▲", "below random": "▼", "equivalent": "=", "undecided": "–", TOO_FEW_BLOCKS: ""}


def across_table(study: Study, provenance: dict[str, dict[str, Any]], across: dict[str, Any]) -> str:
    """Each strategy against random sampling across the image sets: the AULC difference on each, the posterior of
    the Bayesian signed-rank test and its verdict."""
    datasets = across["datasets"]
    if not across["strategies"]:
        return ""
    rows = [
        [
            strategy_label(strategy, study),
            *(f"{difference:+.3f}".replace("-", "−") for difference in result["differences"]),
            *(f"{result[region]:.2f}" for region in ("below", "within", "above")),
            ACROSS_MARKS[result["decision"]],
        ]
        for strategy, result in across["strategies"].items()
    ]
    header = ["Strategy", *(provenance[d]["title"] for d in datasets), "P(below)", "P(equiv.)", "P(above)", "Verdict"]
    learner = in_sentence(label(study.main_learner, LEARNER_LABELS))
    caption = (
        f"Across the image sets as independent blocks, with {learner}: each strategy's mean AULC minus random "
        "sampling's on each set, and the posterior probability of the Bayesian signed-rank test that the difference "
        f"lies below, within and above ±{across['rope']:g} (the minimal important difference), each set's difference "
        "drawn with the standard error of its interval with test-set resampling; "
        + (
            "no verdict: too few sets for the test to show a lead at "
            if any(r["decision"] == TOO_FEW_BLOCKS for r in across["strategies"].values())
            else "verdict where one reaches "
        )
        + f"{across['probability']:g}: ▲ above, ▼ below, = equivalent, – undecided."
    )
    return markdown_table(header, rows, caption, "tbl-across", text_columns=1)


def across_text(study: Study, provenance: dict[str, dict[str, Any]], across: dict[str, Any]) -> str:
    """What the comparison across the image sets decided, and what it could decide with this many sets."""
    datasets = across["datasets"]
    if not across["strategies"]:
        return "The study has no image set, so no comparison across image sets is made.\n"
    verdicts = [r["decision"] for r in across["strategies"].values()]
    best = across["best_case"]["above"]
    names = join_names([provenance[d]["title"] for d in datasets])
    opening = f"Across the {len(datasets)} image sets ({names}) as independent blocks, the Bayesian signed-rank test "
    reach = (
        f"With {len(datasets)} sets, a strategy ahead by ten times the minimal important difference on every one would "
        f"reach a posterior probability of {best:.2f}"
    )
    noise = (
        "Each set's difference enters the test with the standard error of its interval with test-set resampling, so a "
        "difference measured with noise is not taken as exact."
    )
    if TOO_FEW_BLOCKS in verdicts:
        return (
            f"{opening}[@benavoli2017time] draws no verdict. {reach}, below the {across['probability']:g} the study "
            "asks for, and a design that cannot show a lead does not call strategies equivalent either (two sets whose "
            "differences both lie inside the margin would otherwise make equivalence certain). The posterior "
            f"probabilities are in {supplement_ref('tbl-across')}; the answer across image sets needs more sets.\n"
        )
    counts = ", ".join(
        f"{verdicts.count(decision)} {name}"
        for decision, name in (
            ("above random", "above random sampling"),
            ("equivalent", f"equivalent to it within ±{across['rope']:g}"),
            ("below random", "below it"),
            ("undecided", "undecided"),
        )
    )
    return (
        f"{opening}[@benavoli2017time] found, of {len(verdicts)} strategies, {counts} "
        f"({supplement_ref('tbl-across')}). {reach}. {noise}\n"
    )
