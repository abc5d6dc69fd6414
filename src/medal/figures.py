"""Figures, tables and variables for the manuscript, all generated from DVC outputs."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from medal.aggregate import BASELINE, percent_key, read_csv  # noqa: E402
from medal.fileio import load_npz, read_json, write_text_atomic  # noqa: E402
from medal.metrics import METRIC_LABELS  # noqa: E402
from medal.runner import run_file_name  # noqa: E402

# Okabe-Ito: a colour-blind-safe palette; each strategy keeps its colour in every figure.
PALETTE = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442"]

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


def in_sentence(text: str) -> str:
    """A display name for use inside a sentence: 'Logistic regression' -> 'logistic regression', 'SGD' unchanged."""
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


LINE_STYLES = ["-", "--", ":", "-."]


def strategy_colours(strategies: list[str]) -> dict[str, str]:
    """A fixed colour per strategy, in the order the study lists them."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(strategies)}


def strategy_line_styles(strategies: list[str]) -> dict[str, str]:
    """A line style per strategy, so that curves lying on top of each other stay distinguishable."""
    return {name: LINE_STYLES[i % len(LINE_STYLES)] for i, name in enumerate(strategies)}


# A fixed hash salt and no date make the SVG bytes depend only on the data.
FIGURE_STYLE = {
    "svg.hashsalt": "medal",
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _save(fig: plt.Figure, path: Path) -> None:
    """Save an SVG without dates or random ids, atomically."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    plt.close(fig)
    write_text_atomic(path, buffer.getvalue())


def learning_curves_figure(params: dict[str, Any], provenance: dict[str, dict[str, Any]], curves: list[dict[str, str]], summary: list[dict[str, str]], path: Path) -> None:
    """One panel per (learner, dataset): mean primary metric versus labels with 95 % CI bands."""
    study = params["study"]
    metric = params["evaluation"]["primary_metric"]
    colours = strategy_colours(study["strategies"])
    series: dict[tuple[str, str, str], list[tuple[float, float, float, float]]] = defaultdict(list)
    for row in curves:
        if row["metric"] == metric:
            key = (row["dataset"], row["learner"], row["strategy"])
            series[key].append(tuple(_num(row[k]) for k in ("labels", "mean", "ci_low", "ci_high")))
    full_pool = {(r["dataset"], r["learner"]): _num(r["full_pool"]) for r in summary}
    datasets, learners = study["datasets"], study["learners"]
    with plt.rc_context(FIGURE_STYLE):
        fig, axes = plt.subplots(
            len(learners), len(datasets), figsize=(2.6 * len(datasets), 2.1 * len(learners)), squeeze=False, sharex="col"
        )
        _draw_learning_curves(axes, params, provenance, series, full_pool, colours)
        handles, names = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False, bbox_to_anchor=(0.5, -0.02))
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        _save(fig, path)


def _draw_learning_curves(axes, params: dict[str, Any], provenance: dict[str, dict[str, Any]], series: dict,
                          full_pool: dict, colours: dict[str, str]) -> None:
    study = params["study"]
    metric = params["evaluation"]["primary_metric"]
    datasets, learners = study["datasets"], study["learners"]
    styles = strategy_line_styles(study["strategies"])
    for i, learner in enumerate(learners):
        for j, dataset in enumerate(datasets):
            ax = axes[i][j]
            for strategy in study["strategies"]:
                points = np.array(series[(dataset, learner, strategy)], dtype=float)
                ax.plot(points[:, 0], points[:, 1], color=colours[strategy], ls=styles[strategy], lw=1.3, label=label(strategy, STRATEGY_LABELS))
                ax.fill_between(points[:, 0], points[:, 2], points[:, 3], color=colours[strategy], alpha=0.18, lw=0)
            ax.axhline(full_pool[(dataset, learner)], color="0.4", ls="--", lw=0.8, label="Full pool")
            if i == 0:
                ax.set_title(provenance[dataset]["title"])
            if j == 0:
                ax.set_ylabel(f"{label(learner, LEARNER_LABELS)}\n{METRIC_LABELS[metric]}", fontsize=8)
            if i == len(learners) - 1:
                ax.set_xlabel("Labelled images")


def critical_difference_figure(params: dict[str, Any], friedman: dict[str, Any], path: Path) -> None:
    """Average ranks of the strategies (1 = best, left) with the Nemenyi critical difference;
    strategies closer than the CD are joined by a grey bar (Demšar 2006)."""
    names = friedman["strategies"]
    ranks = np.array(friedman["average_ranks"])
    cd = friedman["critical_difference"]
    k = len(names)
    order = list(np.argsort(ranks, kind="stable"))
    colours = strategy_colours(params["study"]["strategies"])
    cliques = _cliques(ranks[order], cd)
    top = -0.4 - 0.3 * len(cliques)  # label rows start below the clique bars
    half = (k + 1) // 2
    with plt.rc_context(FIGURE_STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 1.3 + 0.3 * k))
        ax.set_xlim(0.5, k + 0.5)
        ax.set_ylim(top - half - 0.5, 2.2)
        ax.axis("off")
        ax.hlines(0, 1, k, color="black", lw=1)
        for r in range(1, k + 1):
            ax.vlines(r, 0, 0.2, color="black", lw=1)
            ax.text(r, 0.35, str(r), ha="center", va="bottom")
        ax.hlines(1.4, 1, 1 + cd, color="black", lw=2)
        ax.text(1 + cd / 2, 1.55, f"CD = {cd:.2f}", ha="center", va="bottom")
        for level, (first, last) in enumerate(cliques):
            y = -0.3 - 0.3 * level
            ax.hlines(y, ranks[order[first]] - 0.04, ranks[order[last]] + 0.04, color="0.45", lw=3)
        for position, index in enumerate(order):
            left = position < half
            row = position if left else k - 1 - position
            y = top - row
            end = 0.6 if left else k + 0.4
            colour = colours[names[index]]
            ax.plot([ranks[index], ranks[index], end], [0, y, y], color=colour, lw=1)
            ax.text(end - 0.05 if left else end + 0.05, y, f"{label(names[index], STRATEGY_LABELS)} ({ranks[index]:.2f})",
                    ha="right" if left else "left", va="center", clip_on=False)
        _save(fig, path)


def _cliques(sorted_ranks: np.ndarray, cd: float) -> list[tuple[int, int]]:
    """Maximal runs of consecutive strategies (by rank) whose ranks differ by less than the CD."""
    runs = []
    for start in range(len(sorted_ranks)):
        end = start
        while end + 1 < len(sorted_ranks) and sorted_ranks[end + 1] - sorted_ranks[start] < cd:
            end += 1
        if end > start and not any(s <= start and end <= e for s, e in runs):
            runs.append((start, end))
    return runs


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


def markdown_table(header: list[str], rows: list[list[str]], caption: str, label_id: str, text_columns: int = 2) -> str:
    """A pipe table with a caption and a cross-reference id, understood by Quarto and by Pandoc.

    The first ``text_columns`` columns are left-aligned, the rest (numbers) right-aligned. The
    separator's dash counts are proportional to each column's longest cell: Pandoc turns them
    into relative column widths.
    """
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
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
    header = ["Dataset", "Modality", "Classes", "Pool", "Pool per class", "Test", "Copy used", "md5"]
    caption = "Datasets as used in this study, computed from the canonical data files; md5: first digits of the canonical file's checksum."
    return markdown_table(header, rows, caption, "tbl-datasets", text_columns=3)


ALPHA = 0.05


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


def aulc_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]], summary: list[dict[str, str]]) -> str:
    """AULC mean [95 % CI] per (dataset, learner) and strategy; the best mean in bold."""
    strategies = params["study"]["strategies"]
    by_key = {(r["dataset"], r["learner"], r["strategy"]): r for r in summary}
    rows = []
    for dataset in params["study"]["datasets"]:
        for learner in params["study"]["learners"]:
            cells = {s: by_key[(dataset, learner, s)] for s in strategies}
            best = _best({s: _num(r["aulc"]) for s, r in cells.items()})
            row = [provenance[dataset]["title"], label(learner, LEARNER_LABELS)]
            for s in strategies:
                text = fmt_ci(_num(cells[s]["aulc"]), _num(cells[s]["aulc_low"]), _num(cells[s]["aulc_high"]))
                text = f"**{text}**" if s in best else text
                row.append(text + significance_mark(cells[s], cells.get(BASELINE)))
            rows.append(row)
    metric = METRIC_LABELS[params["evaluation"]["primary_metric"]].lower()
    caption = (
        f"Normalised area under the learning curve ({metric}), mean [95 % CI] over "
        f"{params['al']['seeds']} seeds; the highest mean per row in bold. Paired Wilcoxon signed-rank "
        f"test against random sampling with Holm correction within each row: ▲ higher, ▼ lower than random "
        f"at p < {ALPHA}."
    )
    return markdown_table(["Dataset", "Learner", *(label(s, STRATEGY_LABELS) for s in strategies)], rows, caption, "tbl-aulc")


def _strategy_grid(params: dict[str, Any], provenance: dict[str, dict[str, Any]], summary: list[dict[str, str]],
                   strategies: list[str], cell) -> list[list[str]]:
    """Rows of (dataset, learner) with one cell per strategy, filled by ``cell(summary_row)``."""
    by_key = {(r["dataset"], r["learner"], r["strategy"]): r for r in summary}
    return [
        [provenance[dataset]["title"], label(learner, LEARNER_LABELS), *(cell(by_key[(dataset, learner, s)]) for s in strategies)]
        for dataset in params["study"]["datasets"]
        for learner in params["study"]["learners"]
    ]


def _target_grid(params: dict[str, Any], provenance: dict[str, dict[str, Any]], targets: list[dict[str, str]],
                 strategies: list[str], cell) -> list[list[str]]:
    """Rows of (dataset, learner, target) with one cell per strategy, filled by ``cell(targets_row)``."""
    by_key = {(r["dataset"], r["learner"], r["target"], r["strategy"]): r for r in targets}
    return [
        [provenance[dataset]["title"], label(learner, LEARNER_LABELS), f"{percent_key(fraction)}\u00a0%",  # no break between number and unit
         *(cell(by_key[(dataset, learner, percent_key(fraction), s)]) for s in strategies)]
        for dataset in params["study"]["datasets"]
        for learner in params["study"]["learners"]
        for fraction in params["evaluation"]["target_fractions"]
    ]


def _needed_cell(row: dict[str, str]) -> str:
    reached, seeds = int(row["reached"]), int(row["seeds"])
    if reached == 0:
        return "not reached"
    text = fmt_ci(_num(row["labels"]), _num(row["labels_low"]), _num(row["labels_high"]), 0)
    return text if reached == seeds else f"{text} ({reached}/{seeds})"


def _saving_cell(row: dict[str, str]) -> str:
    pairs, seeds = int(row["saving_pairs"]), int(row["seeds"])
    if pairs == 0:
        return "n/a"
    images = fmt_ci(_num(row["saving"]), _num(row["saving_low"]), _num(row["saving_high"]), 0)
    text = f"{images}; {_num(row['saving_pct']):.0f} %"
    return text if pairs == seeds else f"{text} ({pairs}/{seeds})"


def labels_needed_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]], targets: list[dict[str, str]]) -> str:
    """Labels needed to reach each target fraction of the full-pool score, per strategy."""
    strategies = params["study"]["strategies"]
    caption = (
        "Labels needed to reach the target fraction of the full-pool score, mean [95 % CI] over seeds; where not "
        f"every seed reached it within the budget of {params['al']['budget']} labels, the share that did is given "
        "in parentheses and the mean is over those seeds."
    )
    rows = _target_grid(params, provenance, targets, strategies, _needed_cell)
    header = ["Dataset", "Learner", "Target", *(label(s, STRATEGY_LABELS) for s in strategies)]
    return markdown_table(header, rows, caption, "tbl-needed", text_columns=3)


def savings_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]], targets: list[dict[str, str]]) -> str:
    """Labels saved versus random sampling, in images and in percent, paired by seed; positive means fewer labels."""
    strategies = [s for s in params["study"]["strategies"] if s != BASELINE]
    caption = (
        "Labels saved versus random sampling to reach the same target, over seeds where both reached it (their "
        "share in parentheses when not all): mean [95 % CI] of the per-seed difference in images, and the total "
        "saved in percent of the total random sampling needed on those seeds. Positive: fewer labels than random."
    )
    rows = _target_grid(params, provenance, targets, strategies, _saving_cell)
    header = ["Dataset", "Learner", "Target", *(label(s, STRATEGY_LABELS) for s in strategies)]
    return markdown_table(header, rows, caption, "tbl-savings", text_columns=3)


def stability_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]], summary: list[dict[str, str]]) -> str:
    """Per strategy: spread of AULC over seeds, and how often and how far the score falls between cycles."""
    strategies = params["study"]["strategies"]

    def cell(row: dict[str, str]) -> str:
        return f"{_num(row['aulc_sd']):.3f} / {_num(row['drops']):.1f} / {_num(row['largest_drop']):.3f}"

    rows = _strategy_grid(params, provenance, summary, strategies, cell)
    threshold = params["evaluation"]["drop_threshold"]
    caption = (
        "Stability over seeds, per strategy: standard deviation of the AULC / mean number of drops per run "
        f"(the score falls by more than {threshold} between consecutive cycles) / mean largest fall per run."
    )
    return markdown_table(["Dataset", "Learner", *(label(s, STRATEGY_LABELS) for s in strategies)], rows, caption, "tbl-stability")


def stability_text(params: dict[str, Any], summary: list[dict[str, str]]) -> str:
    """A generated sentence: drops per run of each strategy, averaged over the (dataset, learner) pairs."""
    per_strategy = {
        s: float(np.mean([_num(r["drops"]) for r in summary if r["strategy"] == s])) for s in params["study"]["strategies"]
    }
    parts = [f"{label(s, STRATEGY_LABELS).lower()} {v:.1f}" for s, v in sorted(per_strategy.items(), key=lambda kv: kv[1])]
    return (
        f"Averaged over the (dataset, learner) pairs, the number of drops per run was: {join_names(parts)}, "
        f"over {_cycles(params['al'])} query cycles per run.\n"
    )


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
    """Per (dataset, learner): mean milliseconds per learner update and per query, over strategies, seeds and cycles."""
    means = {}
    for dataset in params["study"]["datasets"]:
        for learner in params["study"]["learners"]:
            fit, query = [], []
            for strategy in params["study"]["strategies"]:
                for seed in range(params["al"]["seeds"]):
                    cycles = read_json(timings_dir / dataset / strategy / run_file_name(learner, seed))["cycles"]
                    fit += [c["fit_seconds"] for c in cycles]
                    query += [c["query_seconds"] for c in cycles[:-1]]  # the last cycle queries nothing
            means[(dataset, learner)] = (1000 * float(np.mean(fit)), 1000 * float(np.mean(query)))
    return means


def update_modes_figure(params: dict[str, Any], provenance: dict[str, dict[str, Any]], summary: list[dict[str, str]],
                        timings: dict[tuple[str, str], tuple[float, float]], path: Path) -> None:
    """partial_fit versus refitting: AULC (mean over strategies) against update time per cycle, per dataset."""
    pairs = update_mode_pairs(params)
    datasets = params["study"]["datasets"]
    aulc = defaultdict(list)
    for r in summary:
        aulc[(r["dataset"], r["learner"])].append(_num(r["aulc"]))
    with plt.rc_context(FIGURE_STYLE):
        fig, axes = plt.subplots(1, len(datasets), figsize=(2.6 * len(datasets), 2.4), squeeze=False)
        for ax, dataset in zip(axes[0], datasets):
            ax.set_title(provenance[dataset]["title"])
            ax.set_xlabel("Update time per cycle (ms)")
            ax.set_xscale("log")
            if not pairs:
                ax.text(0.5, 0.5, "no estimator is run\nwith both update modes", ha="center", va="center", transform=ax.transAxes)
                continue
            for i, (estimator, incremental, refit) in enumerate(pairs):
                points = [(timings[(dataset, l)][0], float(np.mean(aulc[(dataset, l)]))) for l in (incremental, refit)]
                colour = PALETTE[(i + 1) % len(PALETTE)]
                ax.annotate("", xy=points[0], xytext=points[1], arrowprops={"arrowstyle": "->", "color": colour, "lw": 1})
                ax.plot(*points[1], "o", color=colour, ms=5, label=f"{label(estimator, ESTIMATOR_LABELS)}: fit" if dataset == datasets[0] else None)
                ax.plot(*points[0], "s", mfc="white", color=colour, ms=5, label=f"{label(estimator, ESTIMATOR_LABELS)}: partial_fit" if dataset == datasets[0] else None)
        axes[0][0].set_ylabel("AULC (mean over strategies)")
        if pairs:
            fig.legend(loc="lower center", ncol=2 * len(pairs), frameon=False, bbox_to_anchor=(0.5, -0.04))
        fig.tight_layout(rect=(0, 0.08 if pairs else 0, 1, 1))
        _save(fig, path)


def timing_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]],
                 timings: dict[tuple[str, str], tuple[float, float]]) -> str:
    """Mean milliseconds per cycle spent updating the learner and querying, per dataset and learner."""
    rows = [
        [provenance[dataset]["title"], label(learner, LEARNER_LABELS), f"{update:.2f}", f"{query:.2f}"]
        for (dataset, learner), (update, query) in timings.items()
    ]
    caption = "Wall-clock milliseconds per cycle to update the learner and to select the next batch, averaged over strategies and seeds (measured on the machine that built this paper)."
    return markdown_table(["Dataset", "Learner", "Update (ms)", "Query (ms)"], rows, caption, "tbl-timing")


def friedman_text(params: dict[str, Any], friedman: dict[str, Any]) -> str:
    """A generated sentence on the Friedman test and the critical-difference diagram."""
    ranks = dict(zip(friedman["strategies"], friedman["average_ranks"]))
    best = min(ranks, key=ranks.get)
    text = (
        f"Across the {friedman['blocks']} (dataset, learner) blocks, {label(best, STRATEGY_LABELS).lower()} had the best "
        f"average rank ({ranks[best]:.2f}; random sampling {ranks.get(BASELINE, math.nan):.2f})"
    )
    if math.isnan(friedman["p_value"]):
        return text + "; the Friedman test needs at least three strategies and two blocks.\n"
    verdict = "reject" if friedman["p_value"] < ALPHA else "do not reject"
    return text + (
        f". The Friedman test gives χ² = {friedman['statistic']:.2f}, p = {friedman['p_value']:.3g}: we {verdict} "
        f"that all strategies rank alike at α = {ALPHA}. Strategies whose average ranks differ by less than the "
        f"Nemenyi critical difference, {friedman['critical_difference']:.2f}, are not distinguished (@fig-cd).\n"
    )


def results_text(
    params: dict[str, Any], provenance: dict[str, dict[str, Any]], summary: list[dict[str, str]], identical: dict[str, Any]
) -> str:
    """One generated paragraph per dataset: the strategy with the highest AULC against random, and which strategies chose the same images."""
    paragraphs = []
    for dataset in params["study"]["datasets"]:
        sentences = []
        for learner in params["study"]["learners"]:
            rows = {r["strategy"]: r for r in summary if r["dataset"] == dataset and r["learner"] == learner}
            best = max(rows, key=lambda s: _num(rows[s]["aulc"]))
            b = rows[best]
            text = (
                f"with {in_sentence(label(learner, LEARNER_LABELS))}, {label(best, STRATEGY_LABELS).lower()} had the highest AULC, "
                f"{fmt_ci(_num(b['aulc']), _num(b['aulc_low']), _num(b['aulc_high']))}"
            )
            if BASELINE in rows and best != BASELINE:
                r = rows[BASELINE]
                overlap = _num(b["aulc_low"]) <= _num(r["aulc_high"])
                text += (
                    f", against {fmt_ci(_num(r['aulc']), _num(r['aulc_low']), _num(r['aulc_high']))} for random sampling"
                    + (" (the intervals overlap)" if overlap else " (the intervals do not overlap)")
                )
            sentences.append(text)
        paragraph = f"On {provenance[dataset]['title']}, " + "; ".join(sentences) + "."
        learners_by_group: dict[tuple[str, ...], list[str]] = {}
        for learner in params["study"]["learners"]:
            for group in identical[dataset].get(learner, []):
                learners_by_group.setdefault(tuple(group), []).append(in_sentence(label(learner, LEARNER_LABELS)))
        for group, learners in learners_by_group.items():
            names = join_names([label(s, STRATEGY_LABELS).lower() for s in group])
            paragraph += f" {names[:1].upper() + names[1:]} queried exactly the same images in every seed with {join_names(learners)}."
        paragraphs.append(paragraph)
    return "\n\n".join(paragraphs) + "\n"


def variables(params: dict[str, Any], provenance: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Numbers and names quoted in the manuscript's prose (Quarto's ``{{< var >}}`` shortcodes)."""
    al = params["al"]
    data = {}
    for dataset in params["study"]["datasets"]:
        p = provenance[dataset]
        entry = {
            "title": p["title"],
            "pool": sum(p["counts"]["train"]),
            "test": sum(p["counts"]["test"]),
            "variant": p["variant"],
        }
        if p["official_counts"]:
            official = sum(p["official_counts"]["train"])
            entry["official_pool"] = official
            entry["missing_pool"] = official - entry["pool"]
        minority = int(np.argmin(p["counts"]["train"]))
        entry["minority_class"] = p["class_names"][minority]
        entry["minority_percent"] = f"{100 * p['counts']['train'][minority] / entry['pool']:.1f}"
        entry["n_features"] = int(np.prod(p["shape"]))
        entry["shape"] = shape_text(p)
        data[dataset] = entry
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
        "dataset_list": join_names([provenance[d]["title"] for d in params["study"]["datasets"]]),
        "grid": {
            "dataset": next((provenance[d]["title"] for d in params["study"]["datasets"] if is_image(provenance[d])), "none"),
            "learner": in_sentence(label(params["study"]["learners"][0], LEARNER_LABELS)),
            "images": QUERY_GRID_IMAGES,
        },
        "image_limitation": _image_limitation(sorted({shape_text(provenance[d]) for d in data if is_image(provenance[d])})),
        "n_strategies": len(params["study"]["strategies"]),
        "n_learners": len(params["study"]["learners"]),
        "data": data,
    }


def provenance_text(params: dict[str, Any], provenance: dict[str, dict[str, Any]]) -> str:
    """Which copy of each dataset was used and how its class counts compare with the official release."""
    sentences = []
    for dataset in params["study"]["datasets"]:
        p = provenance[dataset]
        if p["variant"] == "bundled":
            sentences.append(f"{p['title']} is the copy bundled with scikit-learn (canonical md5 `{p['canonical_md5']}`).")
            continue
        source = "the official Zenodo file" if p["variant"] == "official" else "a copy from a public GitHub repository, not the official Zenodo file,"
        text = f"{p['title']} was read from {source} with md5 `{p['source_md5']}`."
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


def join_names(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'; empty for no names."""
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def class_balance_table(params: dict[str, Any], provenance: dict[str, dict[str, Any]], balance: dict[str, Any]) -> str:
    """Share of the pool's minority class among the queried images, per strategy, beside its share in the pool."""
    strategies = params["study"]["strategies"]
    rows = []
    for dataset in params["study"]["datasets"]:
        pool = balance[dataset]["pool"]
        minority = int(np.argmin(pool))
        name = provenance[dataset]["class_names"][minority]
        for learner in params["study"]["learners"]:
            queried = balance[dataset]["queried"][learner]
            rows.append([
                f"{provenance[dataset]['title']} ({name})",
                label(learner, LEARNER_LABELS),
                f"{100 * pool[minority]:.1f}",
                *(f"{100 * queried[s][minority]:.1f}" for s in strategies),
            ])
    caption = (
        "Class balance of what each strategy asked to label: percentage of the pool's minority class (in "
        "parentheses) among the queried images, initial set excluded, mean over seeds, beside its percentage in the pool."
    )
    header = ["Dataset (minority class)", "Learner", "Pool", *(label(s, STRATEGY_LABELS) for s in strategies)]
    return markdown_table(header, rows, caption, "tbl-balance")


QUERY_GRID_IMAGES = 10
CLASS_COLOURS = ["#D55E00", "#0072B2", "#009E73", "#CC79A7"]  # Okabe-Ito, distinct from one another


def queried_images_figure(
    params: dict[str, Any], provenance: dict[str, dict[str, Any]], raw_dir: Path, runs_dir: Path, path: Path
) -> None:
    """The first images each strategy queried after the initial set (seed 0, first learner), on the first image dataset."""
    image_datasets = [d for d in params["study"]["datasets"] if is_image(provenance[d])]
    strategies = params["study"]["strategies"]
    with plt.rc_context(FIGURE_STYLE):
        if not image_datasets:
            fig, ax = plt.subplots(figsize=(4, 1))
            ax.axis("off")
            ax.text(0.5, 0.5, "no image dataset in this study", ha="center", va="center")
            _save(fig, path)
            return
        dataset, learner = image_datasets[0], params["study"]["learners"][0]
        raw = load_npz(raw_dir / f"{dataset}.npz")
        class_names = provenance[dataset]["class_names"]
        fig, axes = plt.subplots(
            len(strategies), QUERY_GRID_IMAGES, figsize=(0.62 * QUERY_GRID_IMAGES + 1.4, 0.78 * len(strategies)), squeeze=False
        )
        for row, strategy in enumerate(strategies):
            cycles = read_json(runs_dir / dataset / strategy / run_file_name(learner, 0))["cycles"]
            queried = [i for cycle in cycles[1:] for i in cycle["queried"]][:QUERY_GRID_IMAGES]
            for column, ax in enumerate(axes[row]):
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
                if column < len(queried):
                    index = queried[column]
                    ax.imshow(raw["X_train"][index], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
                    for spine in ax.spines.values():  # the frame's colour is the image's true class
                        spine.set_visible(True)
                        spine.set_color(CLASS_COLOURS[int(raw["y_train"][index]) % len(CLASS_COLOURS)])
                        spine.set_linewidth(2.2)
            axes[row][0].set_ylabel(label(strategy, STRATEGY_LABELS), rotation=0, ha="right", va="center", fontsize=7)
        handles = [
            plt.Line2D([], [], marker="s", ls="", mfc="white", mec=CLASS_COLOURS[i % len(CLASS_COLOURS)], mew=2.2, ms=8, label=name)
            for i, name in enumerate(class_names)
        ]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=7, bbox_to_anchor=(0.5, -0.01))
        fig.tight_layout(pad=0.3, h_pad=0.4, w_pad=0.2, rect=(0, 0.06, 1, 1))
        _save(fig, path)


def build_all(params: dict[str, Any], raw_dir: Path, runs_dir: Path, aggregate_dir: Path, timings_dir: Path,
              out_dir: Path, variables_path: Path) -> None:
    """Write every generated artefact the manuscript includes."""
    provenance = {d: read_json(raw_dir / f"{d}.json") for d in params["study"]["datasets"]}
    curves = read_csv(aggregate_dir / "curves.csv")
    summary = read_csv(aggregate_dir / "summary.csv")
    learning_curves_figure(params, provenance, curves, summary, out_dir / "learning_curves.svg")
    write_text_atomic(out_dir / "datasets.md", datasets_table(params, provenance))
    write_text_atomic(out_dir / "aulc.md", aulc_table(params, provenance, summary))
    targets = read_csv(aggregate_dir / "targets.csv")
    write_text_atomic(out_dir / "needed.md", labels_needed_table(params, provenance, targets))
    write_text_atomic(out_dir / "savings.md", savings_table(params, provenance, targets))
    timings = mean_timings(params, timings_dir)
    write_text_atomic(out_dir / "timing.md", timing_table(params, provenance, timings))
    write_text_atomic(out_dir / "data_description.md", data_description(params, provenance))
    write_text_atomic(out_dir / "data_provenance.md", provenance_text(params, provenance))
    identical = read_json(aggregate_dir / "identical.json")
    write_text_atomic(out_dir / "results.md", results_text(params, provenance, summary, identical))
    write_text_atomic(out_dir / "stability.md", stability_table(params, provenance, summary))
    write_text_atomic(out_dir / "stability_text.md", stability_text(params, summary))
    update_modes_figure(params, provenance, summary, timings, out_dir / "update_modes.svg")
    write_text_atomic(out_dir / "balance.md", class_balance_table(params, provenance, read_json(aggregate_dir / "class_balance.json")))
    queried_images_figure(params, provenance, raw_dir, runs_dir, out_dir / "queried_images.svg")
    friedman = read_json(aggregate_dir / "friedman.json")
    critical_difference_figure(params, friedman, out_dir / "cd_diagram.svg")
    write_text_atomic(out_dir / "friedman.md", friedman_text(params, friedman))
    write_text_atomic(variables_path, yaml.safe_dump(variables(params, provenance), sort_keys=True))
