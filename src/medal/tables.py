"""Tables, generated sentences and variables for the manuscript, all computed from DVC outputs.

Every number the manuscript states comes from here (or from a figure): the ``.qmd`` only includes
these files and quotes these variables.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from medal.aggregate import percent_key
from medal.design import BASELINE, run_file_name, strategies_for, sweep_values
from medal.blas import PINNED_KERNEL, REQUIRED_FLAGS
from medal.environment import RUN_PACKAGES, format_duration
from medal.learners import CalibratedSVC
from medal.fileio import read_json
from medal.metrics import METRIC_LABELS
from medal.stats import ALPHA

STRATEGY_LABELS = {
    "random": "Random",
    "least_confident": "Least confident",
    "margin": "Margin",
    "entropy": "Entropy",
    "density_weighted": "Density-weighted entropy",
    "qbc_vote_entropy": "QBC vote entropy",
    "qbc_kl_divergence": "QBC KL divergence",
    "epistemic": "Epistemic uncertainty",
    "mcpal": "McPAL",
    "mc_eer": "MC expected error reduction",
    "coreset": "Core-Set",
    "typiclust": "TypiClust",
    "probcover": "ProbCover",
    "badge": "BADGE",
    "dal": "Discriminative AL",
}

LEARNER_LABELS = {
    "logreg": "Logistic regression (fit)",
    "sgd_partial_fit": "SGD log-loss (partial_fit)",
    "sgd_refit": "SGD log-loss (fit)",
    "gnb_partial_fit": "Gaussian NB (partial_fit)",
    "gnb_refit": "Gaussian NB (fit)",
    "mlp_partial_fit": "MLP (partial_fit)",
    "mlp_refit": "MLP (fit)",
    "random_forest": "Random forest (fit)",
    "svm_rbf": "RBF SVM (fit)",
}


ESTIMATOR_LABELS = {
    "logistic_regression": "Logistic regression",
    "sgd_log_loss": "SGD log-loss",
    "gaussian_nb": "Gaussian NB",
    "mlp": "MLP",
    "random_forest": "Random forest",
    "svm_rbf": "RBF SVM",
}


def label(name: str, labels: dict[str, str]) -> str:
    """Display name for a params.yaml key; unknown keys fall back to a readable form of the key."""
    return labels.get(name, name.replace("_", " ").capitalize())


PROPER_NAMES = ("Gaussian",)


def in_sentence(text: str) -> str:
    """A display name inside a sentence: 'Logistic regression' -> 'logistic regression'; names with inner capitals
    ('SGD', 'Core-Set', 'McPAL') or proper names ('Gaussian NB') unchanged."""
    first = text.split(" ")[0]
    if first in PROPER_NAMES or any(c.isupper() for c in first[1:]):
        return text
    return text[:1].lower() + text[1:]


def capitalised(text: str) -> str:
    """The text with its first letter upper-case, to open a sentence."""
    return text[:1].upper() + text[1:]


def join_names(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'; empty for no names."""
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


CRITERION_LABELS = {"stabilizing_predictions": "Stabilizing predictions", "expected_error": "Expected error"}
SETTING_LABELS = {
    "batch_size": "Batch size",
    "initial_labels": "Initial labelled images",
    "label_noise": "Oracle label noise",
    "representation": "Features",
}
REPRESENTATION_LABELS = {"pca50": "PCA (50)", "raw_pixels": "Raw pixels"}


def _num(text: str) -> float:
    return float(text) if text != "" else math.nan


def fmt_ci(mean: float, low: float, high: float, digits: int = 3) -> str:
    """``mean [low, high]``, or just the mean when the interval is undefined."""
    if math.isnan(mean):
        return "n/a"

    def number(value: float) -> str:
        return f"{round(value, digits) + 0.0:.{digits}f}"  # + 0.0 turns -0.0 into 0.0

    if math.isnan(low):
        return number(mean)
    return f"{number(mean)} [{number(low)}, {number(high)}]"


CELL_WIDTH_CAP = 36


def markdown_table(header: list[str], rows: list[list[str]], caption: str, label_id: str, text_columns: int = 2) -> str:
    """A pipe table with a caption and a cross-reference id, understood by Quarto and by Pandoc.

    The first ``text_columns`` columns are left-aligned, the rest (numbers) right-aligned. The
    separator's dash counts are proportional to each column's longest cell: Pandoc turns them
    into relative column widths.
    """
    # A column needs room for its longest unbreakable word (a code name); longer text wraps, so its
    # length counts only up to a cap, which leaves room for columns of unbreakable names.
    widths = [
        max(max(len(word) for cell in column for word in cell.split() or [""]),
            min(CELL_WIDTH_CAP, max(len(cell) for cell in column)))
        for column in zip(header, *rows)
    ]
    total = sum(widths)
    dashes = [max(6, round(60 * width / total)) for width in widths]
    separator = [":" + "-" * n if i < text_columns else "-" * n + ":" for i, n in enumerate(dashes)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(separator) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + f"\n\n: {caption} {{#{label_id}}}\n"


def datasets_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]]) -> str:
    """Datasets as used: modality, classes, pool and test sizes, class balance, copy and checksum."""
    rows = []
    for dataset in params["study"]["datasets"]:
        p = provenance[dataset]
        pool, test = p["counts"]["train"], p["counts"]["test"]
        balance = " / ".join(str(n) for n in pool)
        copy = {"mirror": "GitHub mirror", "official": "Zenodo (official)", "bundled": "scikit-learn bundled"}[p["variant"]]
        classes = " / ".join(p["class_names"])
        rows.append([p["title"], p["modality"], classes, str(sum(pool)), balance, str(sum(test)), copy, f"`{p['canonical_md5'][:8]}`"])
    header = ["Dataset", "Modality", "Classes", "Pool", "Pool per class", "Test", "Copy used", "Canonical md5"]
    caption = ("Datasets as used in this study, computed from the canonical data files; canonical md5: first digits of "
               "the checksum of the canonical file the fetch stage writes (the source file's md5 is in the text).")
    return markdown_table(header, rows, caption, "tbl-datasets", text_columns=3)


def significance_mark(row: dict[str, str], baseline: dict[str, str] | None) -> str:
    """' ▲' or ' ▼' when the Holm-adjusted Wilcoxon test against random is significant, else ''."""
    if baseline is None or row["p_holm"] == "" or _num(row["p_holm"]) >= ALPHA:
        return ""
    return " ▲" if _num(row["aulc"]) > _num(baseline["aulc"]) else " ▼"


def _best(values: dict[str, float]) -> set[str]:
    finite = {k: v for k, v in values.items() if not math.isnan(v)}
    if not finite:
        return set()
    top = max(finite.values())
    return {k for k, v in finite.items() if v == top}




def _main_rows(summary: list[dict[str, str]], learner: str) -> dict[tuple[str, str], dict[str, str]]:
    """Summary rows of one learner by (dataset, strategy)."""
    return {(r["dataset"], r["strategy"]): r for r in summary if r["learner"] == learner}


def _aulc_cell(row: dict[str, str], baseline: dict[str, str] | None, bold: bool) -> str:
    text = fmt_ci(_num(row["aulc"]), _num(row["aulc_low"]), _num(row["aulc_high"]))
    return (f"**{text}**" if bold else text) + significance_mark(row, baseline)


def aulc_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]], summary: list[dict[str, str]]) -> str:
    """AULC mean [95 % CI] of every strategy with the main learner, one column per dataset; the best in bold."""
    study = params["study"]
    rows_by = _main_rows(summary, study["main_learner"])
    best = {d: _best({s: _num(rows_by[(d, s)]["aulc"]) for s in study["strategies"]}) for d in study["datasets"]}
    rows = [
        [label(s, STRATEGY_LABELS), *(_aulc_cell(rows_by[(d, s)], rows_by.get((d, BASELINE)), s in best[d]) for d in study["datasets"])]
        for s in study["strategies"]
    ]
    metric = METRIC_LABELS[params["evaluation"]["primary_metric"]].lower()
    caption = (
        f"Normalised area under the learning curve ({metric}) with {in_sentence(label(study['main_learner'], LEARNER_LABELS))}, "
        f"mean [95 % CI] over {params['al']['seeds']} seeds; the highest mean per dataset in bold. Paired Wilcoxon "
        f"signed-rank test against random sampling, Holm-corrected over the strategies of a dataset: ▲ higher, ▼ lower "
        f"than random at p < {ALPHA}."
    )
    header = ["Strategy", *(provenance[d]["title"] for d in study["datasets"])]
    return markdown_table(header, rows, caption, "tbl-aulc", text_columns=1)


def learners_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]], summary: list[dict[str, str]]) -> str:
    """AULC of every learner with the learner-comparison strategies: mean ± CI half-width, significance against random."""
    study = params["study"]
    by_key = {(r["dataset"], r["learner"], r["strategy"]): r for r in summary}
    columns = [(d, s) for d in study["datasets"] for s in study["learner_strategies"]]

    def cell(dataset: str, learner: str, strategy: str) -> str:
        row = by_key[(dataset, learner, strategy)]
        half = (_num(row["aulc_high"]) - _num(row["aulc_low"])) / 2
        text = f"{_num(row['aulc']):.3f}" + ("" if math.isnan(half) else f" ± {half:.3f}")
        return text + significance_mark(row, by_key.get((dataset, learner, BASELINE)))

    rows = [[label(l, LEARNER_LABELS), *(cell(d, l, s) for d, s in columns)] for l in study["learners"]]
    header = ["Learner", *(f"{provenance[d]['title']}: {label(s, STRATEGY_LABELS)}" for d, s in columns)]
    caption = (
        f"AULC of every learner with {join_names([in_sentence(label(s, STRATEGY_LABELS)) for s in study['learner_strategies']])}: "
        f"mean ± half-width of the 95 % CI over {params['al']['seeds']} seeds; ▲/▼ as in @tbl-aulc, Holm-corrected within "
        "each (dataset, learner) pair."
    )
    return markdown_table(header, rows, caption, "tbl-learners", text_columns=1)


def _needed_cell(row: dict[str, str], budget: int) -> str:
    """Median [95 % CI] labels needed, '> budget' where the median or a bound lies beyond it, and the
    share of seeds that reached the target when not all did."""
    reached, seeds = int(row["reached"]), int(row["seeds"])
    if reached == 0:
        return f"> {budget} (0/{seeds})"

    def number(value: float) -> str:
        return f"> {budget}" if value == math.inf else f"{value:.0f}"

    median, low, high = _num(row["labels"]), _num(row["labels_low"]), _num(row["labels_high"])
    text = number(median) if math.isnan(low) else f"{number(median)} [{number(low)}, {number(high)}]"
    return text if reached == seeds else f"{text} ({reached}/{seeds})"


def _saving_cell(row: dict[str, str]) -> str:
    """Median [95 % CI] labels saved versus random and the percentage, with how many pairs are bounds."""
    if row["strategy"] == BASELINE:
        return "(baseline)"
    images = fmt_ci(_num(row["saving"]), _num(row["saving_low"]), _num(row["saving_high"]), 0)
    text = f"{images}; {_num(row['saving_pct']):.0f} %"
    bounded = int(row["saving_bounded"])
    return text if bounded == 0 else f"{text} ({bounded}/{row['seeds']} bounds)"


def labels_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]], targets: list[dict[str, str]]) -> str:
    """Per dataset and strategy (main learner): labels needed for each target and labels saved versus random."""
    study = params["study"]
    by_key = {(r["dataset"], r["strategy"], r["target"]): r for r in targets if r["learner"] == study["main_learner"]}
    keys = [percent_key(f) for f in params["evaluation"]["target_fractions"]]
    rows = [
        [provenance[d]["title"] if i == 0 else "", label(s, STRATEGY_LABELS),  # the dataset named once per group
         *(cell for k in keys
           for cell in (_needed_cell(by_key[(d, s, k)], params["al"]["budget"]), _saving_cell(by_key[(d, s, k)])))]
        for d in study["datasets"]
        for i, s in enumerate(study["strategies"])
    ]
    header = ["Dataset", "Strategy", *(f"{title} {k}\u00a0%" for k in keys for title in ("Needed", "Saved"))]
    caption = (
        f"Labels queried from the (simulated) oracle to reach {join_names([k + ' %' for k in keys])} of the full-pool score with "
        f"{in_sentence(label(study['main_learner'], LEARNER_LABELS))}. Needed: median [95 % CI] over all seeds; a seed "
        f"that did not reach the target within {params['al']['budget']} labels counts as needing more (censored), so a "
        f"median or bound beyond the budget reads > {params['al']['budget']}, and the share of seeds that reached the "
        "target is in parentheses. Saved: labels saved versus random sampling, paired by seed over all seeds, median "
        "[95 % CI] of the per-seed difference in images and the total in percent of what random sampling needed; an "
        "unreached run counts as needing one batch past the budget, so such a pair's saving is a bound (their number is "
        "in parentheses); positive means fewer labels than random. CIs from order statistics (distribution-free)."
    )
    return markdown_table(header, rows, caption, "tbl-labels", text_columns=2)


def stability_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]], summary: list[dict[str, str]]) -> str:
    """Per strategy (main learner): spread of AULC over seeds, and how often and how far the score falls between cycles."""
    study = params["study"]
    rows_by = _main_rows(summary, study["main_learner"])

    def cell(row: dict[str, str]) -> str:
        return f"{_num(row['aulc_sd']):.3f} / {_num(row['drops']):.1f} / {_num(row['largest_drop']):.3f}"

    rows = [[label(s, STRATEGY_LABELS), *(cell(rows_by[(d, s)]) for d in study["datasets"])] for s in study["strategies"]]
    caption = (
        f"Stability over seeds with {in_sentence(label(study['main_learner'], LEARNER_LABELS))}: standard deviation of the AULC / "
        f"mean number of drops per run (the score falls by more than {params['evaluation']['drop_threshold']} between "
        "consecutive cycles) / mean largest fall per run."
    )
    return markdown_table(["Strategy", *(provenance[d]["title"] for d in study["datasets"])], rows, caption, "tbl-stability", 1)


def stability_text(params: dict[str, Any], summary: list[dict[str, str]]) -> str:
    """A generated sentence: drops per run of each strategy with the main learner, averaged over datasets."""
    study = params["study"]
    per_strategy = {
        s: float(np.mean([_num(r["drops"]) for r in summary if r["strategy"] == s and r["learner"] == study["main_learner"]]))
        for s in study["strategies"]
    }
    ordered = sorted(per_strategy, key=per_strategy.get)
    fewest, most = ordered[0], ordered[-1]
    lowest, highest = (f"{in_sentence(label(s, STRATEGY_LABELS))} {per_strategy[s]:.1f}" for s in (fewest, most))
    return (
        f"Averaged over the datasets, the number of drops per run ranged from {lowest} to {highest} "
        f"(random sampling {per_strategy.get(BASELINE, math.nan):.1f}), over {_cycles(params['al'])} query cycles per run.\n"
    )


def class_balance_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]], balance: dict[str, Any]) -> str:
    """Share of each dataset's minority class among the images each strategy queried (main learner), beside the pool's."""
    study = params["study"]
    minority = {d: int(np.argmin(balance[d]["pool"])) for d in study["datasets"]}
    rows = [["Pool", *(f"{100 * balance[d]['pool'][minority[d]]:.1f}" for d in study["datasets"])]]
    rows += [
        [label(s, STRATEGY_LABELS),
         *(f"{100 * balance[d]['queried'][study['main_learner']][s][minority[d]]:.1f}" for d in study["datasets"])]
        for s in study["strategies"]
    ]
    header = ["Strategy", *(f"{provenance[d]['title']} ({provenance[d]['class_names'][minority[d]]})" for d in study["datasets"])]
    caption = (
        "Class balance of what each strategy asked to label: percentage of each dataset's minority class (in parentheses) "
        f"among the queried images with {in_sentence(label(study['main_learner'], LEARNER_LABELS))}, initial set excluded, "
        "mean over seeds; the first row is its percentage in the pool."
    )
    return markdown_table(header, rows, caption, "tbl-balance", text_columns=1)


def class_recall_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]], recall: list[dict[str, str]]) -> str:
    """Test recall of every class at the end of the budget per strategy (main learner), and of the full-pool model."""
    study = params["study"]
    by_key = {(r["dataset"], r["strategy"], int(r["class"])): r for r in recall if r["learner"] == study["main_learner"]}
    columns = [(d, c) for d in study["datasets"] for c in range(len(provenance[d]["class_names"]))]
    any_strategy = study["strategies"][0]  # every strategy's rows carry the same full-pool recall
    rows = [["Full pool", *(f"{_num(by_key[(d, any_strategy, c)]['full_pool']):.3f}" for d, c in columns)]]
    rows += [
        [label(s, STRATEGY_LABELS), *(fmt_ci(*(_num(by_key[(d, s, c)][k]) for k in ("recall", "recall_low", "recall_high"))) for d, c in columns)]
        for s in study["strategies"]
    ]
    header = ["Strategy", *(f"{provenance[d]['title']}: {provenance[d]['class_names'][c]}" for d, c in columns)]
    caption = (
        f"Recall of each class on the test set after {params['al']['budget']} labels with "
        f"{in_sentence(label(study['main_learner'], LEARNER_LABELS))}, mean [95 % CI] over seeds; the first row is the same "
        "learner trained on the whole pool (mean over seeds). Balanced accuracy is the mean of a dataset's class recalls."
    )
    return markdown_table(header, rows, caption, "tbl-recall", text_columns=1)


def _stopping_cell(row: dict[str, str]) -> str:
    text = f"{_num(row['labels']):.0f} · {_num(row['percent_of_full']):.0f} %"
    return text if row["stopped"] == row["seeds"] else f"{text} ({row['stopped']}/{row['seeds']})"


def stopping_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]], stopping: list[dict[str, str]]) -> str:
    """Where each stopping criterion stopped the main learner's runs, and the score reached there."""
    study = params["study"]
    by_key = {(r["dataset"], r["strategy"], r["criterion"]): r for r in stopping if r["learner"] == study["main_learner"]}
    criteria = list(params["evaluation"]["stopping"])
    columns = [(d, c) for d in study["datasets"] for c in criteria]
    rows = [[label(s, STRATEGY_LABELS), *(_stopping_cell(by_key[(d, s, c)]) for d, c in columns)] for s in study["strategies"]]
    header = ["Strategy", *(f"{provenance[d]['title']}: {label(c, CRITERION_LABELS)}" for d, c in columns)]
    sp, ee = params["evaluation"]["stopping"]["stabilizing_predictions"], params["evaluation"]["stopping"]["expected_error"]
    caption = (
        f"Stopping without test labels, with {in_sentence(label(study['main_learner'], LEARNER_LABELS))}: mean labels at the "
        "stop · mean test score there in percent of the full-pool score. Stabilizing predictions stops once the pool "
        f"predictions agree with the previous cycle's at Cohen's κ ≥ {sp['kappa']} for {sp['window']} cycles in a row; "
        f"expected error once the mean of 1 − max p̂ over the unlabelled pool is at most {ee['threshold']}. A run that never "
        "stops counts at the budget; where not every run stopped earlier, the share that did is in parentheses."
    )
    return markdown_table(header, rows, caption, "tbl-stopping", text_columns=1)


def stopping_text(params: dict[str, Any], stopping: list[dict[str, str]]) -> str:
    """A generated sentence per criterion: share of runs stopped before the budget and the score kept, main learner."""
    study = params["study"]
    sentences = []
    for criterion in params["evaluation"]["stopping"]:
        rows = [r for r in stopping if r["criterion"] == criterion and r["learner"] == study["main_learner"]]
        stopped = sum(int(r["stopped"]) for r in rows)
        runs = sum(int(r["seeds"]) for r in rows)
        labels = float(np.mean([_num(r["labels"]) for r in rows]))
        percent = float(np.mean([_num(r["percent_of_full"]) for r in rows]))
        sentences.append(
            f"{label(criterion, CRITERION_LABELS)} stopped {stopped} of {runs} runs before the budget; averaged over "
            f"strategies and datasets it ended at {labels:.0f} labels with {percent:.0f} % of the full-pool score."
        )
    return " ".join(sentences) + "\n"


def timing_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]],
                 timings: dict[tuple[str, str], tuple[float, float]]) -> str:
    """Mean milliseconds per cycle spent updating each learner and querying, one column pair per dataset."""
    datasets = params["study"]["datasets"]
    rows = [
        [label(l, LEARNER_LABELS), *(f"{timings[(d, l)][i]:.2f}" for d in datasets for i in (0, 1))]
        for l in params["study"]["learners"]
    ]
    header = ["Learner", *(f"{provenance[d]['title']}: {kind}" for d in datasets for kind in ("update", "query"))]
    caption = (
        "Wall-clock milliseconds per cycle to update the learner and to select the next batch, averaged over "
        f"{join_names([in_sentence(label(s, STRATEGY_LABELS)) for s in params['study']['learner_strategies']])}, seeds and "
        "cycles (one process per run, measured on the machine that built this paper)."
    )
    return markdown_table(header, rows, caption, "tbl-timing", text_columns=1)


def learner_aulc(params: dict[str, Any], summary: list[dict[str, str]]) -> dict[tuple[str, str], float]:
    """Mean AULC of each (dataset, learner) over the learner-comparison strategies."""
    shared = set(params["study"]["learner_strategies"])
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in summary:
        if r["strategy"] in shared:
            values[(r["dataset"], r["learner"])].append(_num(r["aulc"]))
    return {key: float(np.mean(v)) for key, v in values.items()}


def learners_text(params: dict[str, Any], provenance: dict[str, dict[str, Any]], summary: list[dict[str, str]]) -> str:
    """Generated sentences: the best and worst learner per dataset, and partial_fit's AULC against refitting per estimator."""
    study = params["study"]
    means = learner_aulc(params, summary)
    sentences = []
    for d in study["datasets"]:
        ranked = sorted(study["learners"], key=lambda l: -means[(d, l)])
        sentences.append(
            f"On {provenance[d]['title']} the mean AULC over these strategies ranged from {means[(d, ranked[-1])]:.3f} "
            f"with {in_sentence(label(ranked[-1], LEARNER_LABELS))} to {means[(d, ranked[0])]:.3f} "
            f"with {in_sentence(label(ranked[0], LEARNER_LABELS))}."
        )
    for estimator, incremental, refit in update_mode_pairs(params):
        gaps = [means[(d, incremental)] - means[(d, refit)] for d in study["datasets"]]
        change = (
            "left the mean AULC unchanged to three decimals"
            if max(abs(g) for g in gaps) < 0.0005
            else f"changed the mean AULC by {min(gaps):+.3f} to {max(gaps):+.3f}"
        )
        sentences.append(
            f"For {in_sentence(label(estimator, ESTIMATOR_LABELS))}, `partial_fit` {change} against refitting across the datasets."
        )
    return " ".join(sentences) + "\n"


def speedup_text(params: dict[str, Any], timings: dict[tuple[str, str], tuple[float, float]]) -> str:
    """Generated sentence: how much faster a ``partial_fit`` update was than a refit, per estimator (wall clock)."""
    parts = []
    for estimator, incremental, refit in update_mode_pairs(params):
        speed = [timings[(d, refit)][0] / timings[(d, incremental)][0] for d in params["study"]["datasets"]]
        parts.append(f"{min(speed):.1f} to {max(speed):.1f} times as long for {in_sentence(label(estimator, ESTIMATOR_LABELS))}")
    if not parts:
        return "\n"
    return f"Measured in this build, a refit took {join_names(parts)} as a `partial_fit` update, across the datasets.\n"


def friedman_text(friedman: dict[str, Any], names: dict[str, str], figure: str) -> str:
    """A generated sentence on one Friedman test and its critical-difference diagram."""
    ranks = dict(zip(friedman["strategies"], friedman["average_ranks"]))
    best = min(ranks, key=ranks.get)
    text = (
        f"Over {friedman['blocks']} blocks (one per {friedman['blocks_of']}), {in_sentence(label(best, names))} had the "
        f"best average rank ({ranks[best]:.2f}; random sampling {ranks.get(BASELINE, math.nan):.2f})"
    )
    if math.isnan(friedman["p_value"]):
        return text + "; the Friedman test needs at least three strategies and two blocks.\n"
    verdict = "reject" if friedman["p_value"] < ALPHA else "do not reject"
    return text + (
        f". The Friedman test gives χ² = {friedman['statistic']:.2f}, p = {friedman['p_value']:.3g}: we {verdict} "
        f"that all strategies rank alike at α = {ALPHA}. Strategies whose average ranks differ by less than the "
        f"Nemenyi critical difference, {friedman['critical_difference']:.2f}, are not distinguished (@{figure}).\n"
    )


def _significant(rows: dict[str, dict[str, str]]) -> tuple[list[str], list[str]]:
    """The strategies (keys of ``rows``, one dataset and learner) significantly above and below random sampling."""
    marks = {s: significance_mark(row, rows.get(BASELINE)) for s, row in rows.items() if s != BASELINE}
    return [s for s, m in marks.items() if m == " ▲"], [s for s, m in marks.items() if m == " ▼"]


def results_text(
    params: dict[str, Any], provenance: dict[str, dict[str, Any]], summary: list[dict[str, str]], identical: dict[str, Any]
) -> str:
    """One generated paragraph per dataset (main learner): the best AULC against random, how many strategies beat
    or trailed random significantly, and which strategies chose the same images."""
    study = params["study"]
    learner = study["main_learner"]
    rows_by = _main_rows(summary, learner)
    paragraphs = []
    for dataset in study["datasets"]:
        rows = {s: rows_by[(dataset, s)] for s in study["strategies"]}
        best = max(rows, key=lambda s: _num(rows[s]["aulc"]))
        b = rows[best]
        text = (
            f"On {provenance[dataset]['title']}, {in_sentence(label(best, STRATEGY_LABELS))} had the highest AULC, "
            f"{fmt_ci(_num(b['aulc']), _num(b['aulc_low']), _num(b['aulc_high']))}"
        )
        if BASELINE in rows and best != BASELINE:
            r = rows[BASELINE]
            text += f", against {fmt_ci(_num(r['aulc']), _num(r['aulc_low']), _num(r['aulc_high']))} for random sampling"
            above, below = _significant(rows)
            text += (
                f"; after Holm correction {len(above)} of {len(rows) - 1} strategies were significantly above random "
                f"and {len(below)} below"
            )
        paragraph = text + "."
        for group in identical[dataset].get(learner, []):
            names = join_names([in_sentence(label(s, STRATEGY_LABELS)) for s in group])
            paragraph += f" {capitalised(names)} queried exactly the same images in every seed."
        paragraphs.append(paragraph)
    return "\n\n".join(paragraphs) + "\n"


def conclusion_text(
    params: dict[str, Any], provenance: dict[str, dict[str, Any]], summary: list[dict[str, str]],
    friedman: dict[str, Any], targets: list[dict[str, str]],
) -> str:
    """The study's answer in a few generated sentences: significant wins over random, the rank analysis,
    and the largest label saving at the middle target, all with the main learner."""
    study = params["study"]
    learner = study["main_learner"]
    rows_by = _main_rows(summary, learner)
    above, below = set(), set()
    for dataset in study["datasets"]:
        up, down = _significant({s: rows_by[(dataset, s)] for s in study["strategies"]})
        above.update(up)
        below.update(down)
    others = len([s for s in study["strategies"] if s != BASELINE])

    def names(group: set[str]) -> str:
        return join_names([in_sentence(label(s, STRATEGY_LABELS)) for s in study["strategies"] if s in group])

    sentences = [
        f"With {in_sentence(label(learner, LEARNER_LABELS))}, {len(above)} of {others} strategies had a significantly "
        f"higher AULC than random sampling on "
        + ("the dataset" if len(study["datasets"]) == 1 else f"at least one of the {len(study['datasets'])} datasets")
        + (f" ({names(above)})" if above else "")
        + f", and {len(below)} a significantly lower one" + (f" ({names(below)})" if below else "") + "."
    ]
    ranks = dict(zip(friedman["strategies"], friedman["average_ranks"]))
    best = min(ranks, key=ranks.get)
    if best != BASELINE and BASELINE in ranks:
        gap = ranks[BASELINE] - ranks[best]
        relation = "more" if gap >= friedman["critical_difference"] else "less"
        sentences.append(
            f"Ranked over datasets and seeds, {in_sentence(label(best, STRATEGY_LABELS))} led random sampling by "
            f"{gap:.2f} ranks, {relation} than the critical difference of {friedman['critical_difference']:.2f}."
        )
    fractions = params["evaluation"]["target_fractions"]
    middle = percent_key(fractions[len(fractions) // 2])
    savings = [r for r in targets if r["learner"] == learner and r["target"] == middle and r["strategy"] != BASELINE
               and r["saving"] != ""]
    top = max(savings, key=lambda r: _num(r["saving"])) if savings else None
    if top is not None:
        sentences.append(
            f"The largest median saving to reach {middle} % of the full-pool score was "
            f"{fmt_ci(_num(top['saving']), _num(top['saving_low']), _num(top['saving_high']), 0)} labels, by "
            f"{in_sentence(label(top['strategy'], STRATEGY_LABELS))} on {provenance[top['dataset']]['title']} (@tbl-labels)."
        )
    if not above and (top is None or not _num(top["saving_low"]) > 0):
        sentences.append(
            "In this setting, then, no strategy saved annotation reliably over random sampling: even the largest "
            "saving's interval includes zero."
        )
    elif not above:
        sentences.append(
            "No strategy's AULC beat random sampling significantly, although that saving's interval lies above zero."
        )
    return " ".join(sentences) + "\n"


def _value_label(setting: str, value: str) -> str:
    return label(value, REPRESENTATION_LABELS) if setting == "representation" else value


def sweep_text(params: dict[str, Any], provenance: dict[str, dict[str, Any]], sweeps: list[dict[str, str]], setting: str) -> str:
    """A generated sentence per dataset: each non-random strategy's AULC minus random's at every value of one setting."""
    sentences = []
    for dataset in params["sweeps"]["datasets"]:
        for strategy in params["sweeps"]["strategies"]:
            if strategy == BASELINE:
                continue
            rows = [r for r in sweeps if r["dataset"] == dataset and r["setting"] == setting and r["strategy"] == strategy]
            parts = [
                f"{fmt_ci(_num(r['vs_random']), _num(r['vs_random_low']), _num(r['vs_random_high']))} at "
                f"{_value_label(setting, r['value'])} (Holm-adjusted p = {_num(r['p_holm']):.2g})"
                for r in rows
            ]
            sentences.append(
                f"On {provenance[dataset]['title']}, {in_sentence(label(strategy, STRATEGY_LABELS))} minus random AULC was "
                f"{join_names(parts)}."
            )
    return " ".join(sentences) + "\n"


def _cycles(al: dict[str, Any]) -> int:
    return math.ceil((al["budget"] - al["initial_labels"]) / al["batch_size"])


def update_mode_pairs(params: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(estimator, partial_fit learner, fit learner) for each estimator the study runs with both update modes."""
    by_estimator: dict[str, dict[str, str]] = defaultdict(dict)
    for name in params["study"]["learners"]:
        spec = params["learners"][name]
        by_estimator[spec["estimator"]].setdefault(spec["update"], name)
    return [(e, modes["partial_fit"], modes["fit"]) for e, modes in by_estimator.items() if len(modes) == 2]


def mean_timings(params: dict[str, Any], timings_dir: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """Per (dataset, learner): mean milliseconds per learner update and per query, over the learner-comparison
    strategies (which every learner runs), seeds and cycles."""
    means = {}
    for dataset in params["study"]["datasets"]:
        for learner in params["study"]["learners"]:
            fit, query = [], []
            for strategy in params["study"]["learner_strategies"]:
                for seed in range(params["al"]["seeds"]):
                    cycles = read_json(timings_dir / dataset / strategy / run_file_name(learner, seed))["cycles"]
                    fit += [c["fit_seconds"] for c in cycles]
                    query += [c["query_seconds"] for c in cycles[:-1]]  # the last cycle queries nothing
            means[(dataset, learner)] = (1000 * float(np.mean(fit)), 1000 * float(np.mean(query)))
    return means


def provenance_text(params: dict[str, Any], provenance: dict[str, dict[str, Any]]) -> str:
    """Which copy of each dataset was used and how its class counts compare with the official release."""
    sentences = []
    for dataset in params["study"]["datasets"]:
        p = provenance[dataset]
        if p["variant"] == "bundled":
            sentences.append(f"{p['title']} is the copy bundled with scikit-learn (canonical md5 `{p['canonical_md5']}`).")
            continue
        source = "the official Zenodo file" if p["variant"] == "official" else "a copy from a public GitHub repository, not the official Zenodo file,"
        text = f"{p['title']} was read from {source} with source-file md5 `{p['source_md5']}` (the canonical file made from it is in @tbl-datasets)."
        differences = []
        for split in ("train", "val", "test"):
            got, official = p["counts"][split], p["official_counts"][split]
            if got != official:
                name = "pool (training split)" if split == "train" else f"{split} split"
                per_class = ", ".join(
                    f"{g} {c} instead of {o}" for g, o, c in zip(got, official, p["class_names"]) if g != o
                )
                differences.append(f"its {name} holds {per_class}")
        if differences:
            text += " Compared with the official release, " + "; ".join(differences) + "."
        else:
            text += " Its split sizes and class counts equal those of the official release."
        if p.get("copy_note"):
            text += " " + p["copy_note"]
        sentences.append(text)
    return " ".join(sentences) + "\n"


def _features(settings: dict[str, Any]) -> str:
    if settings["features"] == "pca":
        return f"the first {settings['pca_components']} principal components of the standardised pixels"
    return "the standardised raw features"


def data_description(params: dict[str, Any], provenance: dict[str, dict[str, Any]]) -> str:
    """One generated paragraph describing each dataset of the study and its feature representation."""
    sentences = []
    for dataset in params["study"]["datasets"]:
        p = provenance[dataset]
        kind = f"{shape_text(p)} grey-scale images" if is_image(p) else f"{shape_text(p)} features per sample"
        sentences.append(
            f"{p['title']} holds {kind}: {p['description']}. Its learners see {_features(params['prepare'][dataset])}."
        )
    return " ".join(sentences) + "\n"


def is_image(provenance: dict[str, Any]) -> bool:
    """Whether a dataset's samples are 2-D images (rather than feature vectors)."""
    return len(provenance["shape"]) == 2


def shape_text(provenance: dict[str, Any]) -> str:
    """A sample's shape as printed in the paper, e.g. '28 × 28'."""
    return " × ".join(str(n) for n in provenance["shape"])


def _image_limitation(sizes: list[str]) -> str:
    if not sizes:
        return "This configuration uses no images, only tabular features."
    return f"The images are small ({join_names(sizes)} pixels), far below clinical resolution."




QUERY_GRID_IMAGES = 10  # images per strategy in the queried-images figure
QUERY_GRID_SEED = 0  # the run they come from


def n_runs(params: dict[str, Any]) -> int:
    """Number of active-learning runs the study performs: both experiments and every sweep value."""
    study, sweeps, seeds = params["study"], params["sweeps"], params["al"]["seeds"]
    main = sum(len(strategies_for(study, l)) for l in study["learners"]) * len(study["datasets"])
    swept = sum(len(sweep_values(params, s)) for s in sweeps["settings"]) * len(sweeps["strategies"]) * len(sweeps["datasets"])
    return (main + swept) * seeds


def variables(params: dict[str, Any], provenance: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Numbers and names quoted in the manuscript's prose (Quarto's ``{{< var >}}`` shortcodes)."""
    al, study = params["al"], params["study"]
    return {
        "al": {
            "seeds": al["seeds"],
            "initial": al["initial_labels"],
            "batch": al["batch_size"],
            "budget": al["budget"],
            "cycles": _cycles(al),
        },
        "target_percents": join_names([percent_key(f) for f in params["evaluation"]["target_fractions"]]),
        "primary_metric": METRIC_LABELS[params["evaluation"]["primary_metric"]].lower(),
        "n_datasets": len(params["study"]["datasets"]),
        "blas_kernel": PINNED_KERNEL,
        "svm_folds": CalibratedSVC().folds,
        "blas_processors": f"x86-64 processor with {join_names(sorted(flag.upper() for flag in REQUIRED_FLAGS))}",
        "dataset_list": join_names([provenance[d]["title"] for d in params["study"]["datasets"]]),
        "grid": {
            "dataset": next((provenance[d]["title"] for d in params["study"]["datasets"] if is_image(provenance[d])), "none"),
            "images": QUERY_GRID_IMAGES,
            "seed": QUERY_GRID_SEED,
        },
        "image_limitation": _image_limitation(sorted({shape_text(provenance[d]) for d in study["datasets"] if is_image(provenance[d])})),
        "n_strategies": len(study["strategies"]),
        "n_learners": len(study["learners"]),
        "main_learner": in_sentence(label(study["main_learner"], LEARNER_LABELS)),
        "learner_strategies": join_names([in_sentence(label(s, STRATEGY_LABELS)) for s in study["learner_strategies"]]),
        "n_learner_strategies": len(study["learner_strategies"]),
        "sweeps": {
            "datasets": join_names([provenance[d]["title"] for d in params["sweeps"]["datasets"]]),
            "learner": in_sentence(label(params["sweeps"]["learner"], LEARNER_LABELS)),
            "strategies": join_names([in_sentence(label(s, STRATEGY_LABELS)) for s in params["sweeps"]["strategies"]]),
            **{
                setting: join_names([_value_label(setting, str(v)) for v in sweep_values(params, setting)])
                for setting in params["sweeps"]["settings"]
            },
        },
        "mc_eer_candidates": params["strategies"].get("mc_eer", {}).get("max_candidates", "all"),
        "qbc_members": params["strategies"].get("qbc_vote_entropy", {}).get("n_members", 5),
        "n_runs": n_runs(params),
    }




def _setting(value: Any, nested: bool = False) -> str:
    """A params.yaml value as table text: lists in brackets, mappings as ``key=value`` (in parentheses when nested)."""
    if isinstance(value, dict):
        text = ", ".join(f"{k}={_setting(v, True)}" for k, v in value.items())
        return f"({text})" if nested else text
    if isinstance(value, list):
        return "[" + ", ".join(_setting(v, True) for v in value) + "]"
    return "null" if value is None else str(value)


def _flatten(key: str, value: Any) -> list[tuple[str, Any]]:
    """(dotted key, value) rows: nested mappings are split down to mappings of plain values."""
    if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
        return [row for k, v in value.items() for row in _flatten(f"{key}.{k}", v)]
    return [(key, value)]


# The params.yaml sections that decide the results, in the table's order (data sources are in the
# datasets table; compute, data and paper change where and how, not what).
PARAMETER_SECTIONS = ("study", "al", "sweeps", "prepare", "evaluation", "learners", "strategies")


def parameters_table(params: dict[str, Any]) -> str:
    """Every setting of ``params.yaml`` that decides a result, as written there."""
    rows = []
    for section in PARAMETER_SECTIONS:
        for name, value in params[section].items():
            key = f"{section}.{name}"
            pairs = [(key, value)] if section in ("learners", "strategies") else _flatten(key, value)
            rows += [[f"`{k}`", _setting(v).replace("|", "\\|")] for k, v in pairs]
    caption = ("Every setting of `params.yaml` that decides a result, as the pipeline read it for this paper; "
               "`dvc exp run -S key=value` changes one.")
    return markdown_table(["Setting", "Value"], rows, caption, "tbl-params", text_columns=2)


def _values(records: list[dict[str, Any]], section: str, key: str) -> str:
    """The value all stages recorded, or every distinct value when stages ran in different environments."""
    seen = sorted({str(r["environment"][section][key]) for r in records})
    return " / ".join(seen) or "not recorded"


def environment_table(records: list[dict[str, Any]], renderer_versions: dict[str, str]) -> str:
    """Hardware and software of the experiment stages (as they recorded them) and of the build tools."""
    rows = [
        ["CPU", _values(records, "machine", "cpu")],
        ["Logical cores", _values(records, "machine", "logical_cores")],
        ["Memory (GiB)", _values(records, "machine", "memory_gib")],
        ["Operating system", _values(records, "machine", "os")],
        ["Python", _values(records, "machine", "python")],
        ["BLAS (library version, kernel)", " / ".join(sorted(
            {"; ".join(r["environment"]["platform"]["blas"]) for r in records if "platform" in r["environment"]}
        )) or "not recorded"],
        *([name, _values(records, "versions", name)] for name in RUN_PACKAGES),
        *([name, value] for name, value in renderer_versions.items()),
    ]
    caption = (
        "Hardware and software of this build: the machine and library versions every experiment stage "
        "recorded when it ran (values joined by a slash where stages differed), then the versions of the tools "
        "that built the figures and the paper."
    )
    return markdown_table(["Item", "Value"], rows, caption, "tbl-environment", text_columns=2)


def runtime_text(records: list[dict[str, Any]]) -> str:
    """One sentence on the experiment stages' wall time and parallelism in this build."""
    if not records:
        return "No experiment stage recorded its run time in this build.\n"
    runs = sum(r["runs"] for r in records)
    reused = sum(r["reused"] for r in records)
    workers = sorted({
        "a Dask cluster" if r["dask"] else f"{r['n_jobs']} local process{'es' if r['n_jobs'] > 1 else ''}" for r in records
    })
    sentence = (
        f"In this build the {len(records)} experiment stages ran {runs} active-learning runs in "
        f"{format_duration(sum(r['wall_seconds'] for r in records))} of wall time, each stage on {' or '.join(workers)}"
    )
    if reused:
        sentence += f"; {reused} runs were kept from an interrupted earlier attempt and not recomputed"
    return sentence + ".\n"
