"""Figures for the manuscript: SVG, colour-blind-safe, one colour per strategy throughout."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from medal.analysis.metrics import METRIC_LABELS
from medal.analysis.tables import Row
from medal.design import BASELINE
from medal.fileio import write_text_atomic
from medal.report.behaviour import (
    value_label,
)
from medal.report.learners import (
    learner_aulc,
    update_modes,
)
from medal.report.text import (
    ESTIMATOR_LABELS,
    LEARNER_LABELS,
    SETTING_LABELS,
    STRATEGY_LABELS,
    in_sentence,
    label,
    strategy_label,
)
from medal.study import Study

# Files only, never a window: the same renderer on every machine, with or without a display.
plt.switch_backend("agg")

# Okabe-Ito: a colour-blind-safe palette. A strategy's colour and line style come from its position in
# study.strategies, so it looks the same in every figure.
PALETTE = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442"]
LINE_STYLES = ["-", "--", ":", "-."]


def strategy_colours(strategies: list[str]) -> dict[str, str]:
    """A fixed colour per strategy, in the order the study lists them."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(strategies)}


def strategy_line_styles(strategies: list[str]) -> dict[str, str]:
    """A line style per strategy: strategies that share a colour (every eighth) differ in line style."""
    return {name: LINE_STYLES[(i // len(PALETTE)) % len(LINE_STYLES)] for i, name in enumerate(strategies)}


# A fixed hash salt and no date make the SVG bytes depend only on the data.
FIGURE_STYLE = {
    "svg.hashsalt": "medal",
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def save_figure(fig: plt.Figure, path: Path) -> None:
    """Save an SVG without dates or random ids, atomically."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    plt.close(fig)
    write_text_atomic(path, buffer.getvalue())


# At most this many dataset panels side by side; more datasets wrap onto further rows, so that six stay readable.
PANEL_COLUMNS = 3


def dataset_panels(
    n: int, width: float, height: float, extra_width: float = 0.0, columns: int = PANEL_COLUMNS, **subplots: Any
) -> tuple[plt.Figure, np.ndarray]:
    """A figure of ``n`` panels, one per dataset, at most ``columns`` to a row, each ``width`` by ``height`` inches
    (plus ``extra_width`` for labels beside a row); the panels left over in the last row are off. Returns the figure
    and its panels as rows and columns: ``axes.flat[:n]`` are the datasets' in order."""
    columns = min(n, columns)
    rows = -(-n // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(width * columns + extra_width, height * rows), squeeze=False, **subplots
    )
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes


def legend_below(fig: plt.Figure, handles: list, names: list[str], ncol: int, space: float) -> None:
    fig.legend(handles, names, loc="lower center", ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 0), fontsize=8)
    fig.tight_layout(rect=(0, space, 1, 1))


def learning_curves_figure(
    study: Study,
    provenance: dict[str, dict[str, Any]],
    curves: list[Row],
    summary: list[Row],
    path: Path,
) -> None:
    """One panel per dataset: mean primary metric of every strategy with the main learner versus labels, with 95 % CI
    bands."""
    metric = study.primary_metric
    learner = study.main_learner
    colours, styles = strategy_colours(study.strategies), strategy_line_styles(study.strategies)
    series: dict[tuple[str, str], list[tuple[float, ...]]] = defaultdict(list)
    for row in curves:
        if row["metric"] == metric and row["learner"] == learner:
            series[(row["dataset"], row["strategy"])].append(
                tuple(row[k] for k in ("labels", "mean", "ci_low", "ci_high"))
            )
    full_pool = {r["dataset"]: r["full_pool"] for r in summary if r["learner"] == learner}
    datasets = study.datasets
    with plt.rc_context(FIGURE_STYLE):
        fig, axes = dataset_panels(len(datasets), 2.6, 3.6)
        for ax, dataset in zip(axes.flat, datasets):
            for strategy in study.strategies:
                points = np.array(series[(dataset, strategy)], dtype=float)
                ax.plot(
                    points[:, 0],
                    points[:, 1],
                    color=colours[strategy],
                    ls=styles[strategy],
                    lw=1.2,
                    label=strategy_label(strategy, study),
                )
                ax.fill_between(points[:, 0], points[:, 2], points[:, 3], color=colours[strategy], alpha=0.08, lw=0)
            ax.axhline(full_pool[dataset], color="0.4", ls="--", lw=0.8, label="Full pool")
            ax.set_title(provenance[dataset]["title"])
            ax.set_xlabel("Labelled images")
        for ax in axes[:, 0]:
            ax.set_ylabel(METRIC_LABELS[metric])
        handles, names = axes[0][0].get_legend_handles_labels()
        legend_below(fig, handles, names, 4, 0.24 / len(axes))
        save_figure(fig, path)


def differences_figure(study: Study, provenance: dict[str, dict[str, Any]], differences: list[Row], path: Path) -> None:
    """Small multiples, one panel per strategy (main learner): its primary metric minus random's at each label
    count, paired by seed, mean and 95 % CI band, one line per dataset; above zero, the strategy is ahead."""
    learner, metric = study.main_learner, study.primary_metric
    strategies = [s for s in study.strategies if s != BASELINE]
    colours = dict(zip(study.datasets, PALETTE[1:]))
    series: dict[tuple[str, str], list[tuple[float, ...]]] = defaultdict(list)
    for row in differences:
        if row["learner"] == learner:
            series[(row["dataset"], row["strategy"])].append(
                tuple(row[k] for k in ("labels", "mean", "ci_low", "ci_high"))
            )
    columns = min(4, len(strategies))
    rows = -(-len(strategies) // columns)
    with plt.rc_context(FIGURE_STYLE):
        fig, axes = plt.subplots(
            rows, columns, figsize=(1.9 * columns, 1.6 * rows), sharex=True, sharey=True, squeeze=False
        )
        for ax, strategy in zip(axes.flat, strategies):
            ax.axhline(0, color="0.4", lw=0.8)
            for dataset in study.datasets:
                points = np.array(series[(dataset, strategy)], dtype=float)
                colour = colours[dataset]
                ax.plot(points[:, 0], points[:, 1], color=colour, lw=1.1, label=provenance[dataset]["title"])
                ax.fill_between(points[:, 0], points[:, 2], points[:, 3], color=colour, alpha=0.15, lw=0)
            ax.set_title(strategy_label(strategy, study), fontsize=7.5)
        for index, ax in enumerate(axes.flat):
            if index >= len(strategies):
                ax.axis("off")
            elif index + columns >= len(strategies):  # the lowest panel of its column: label the shared axis
                ax.xaxis.set_tick_params(labelbottom=True)
                ax.set_xlabel("Labelled images")
        for ax in axes[:, 0]:
            ax.set_ylabel(f"Δ {in_sentence(METRIC_LABELS[metric])}")
        handles, names = axes[0][0].get_legend_handles_labels()
        legend_below(fig, handles, names, len(study.datasets), 0.06)
        save_figure(fig, path)


def _dodge(n: int, width: float = 0.5) -> np.ndarray:
    """Offsets that spread ``n`` series around each category position."""
    return (np.arange(n) - (n - 1) / 2) * (width / max(n, 1))


def learners_figure(study: Study, provenance: dict[str, dict[str, Any]], summary: list[Row], path: Path) -> None:
    """One panel per dataset: AULC with 95 % CI of every learner, one marker per learner-comparison strategy."""
    strategies = study.learner_strategies
    colours = strategy_colours(study.strategies)
    by_key = {(r["dataset"], r["learner"], r["strategy"]): r for r in summary}
    learners = study.learners
    rows_at = np.arange(len(learners))[::-1]  # the first learner on top
    with plt.rc_context(FIGURE_STYLE):
        datasets = study.learner_datasets
        fig, axes = dataset_panels(len(datasets), 2.3, 0.26 * len(learners) + 1.3, 1.4, sharey=True)
        for ax, dataset in zip(axes.flat, datasets):
            for offset, strategy in zip(_dodge(len(strategies)), strategies):
                rows = [by_key[(dataset, learner, strategy)] for learner in learners]
                mean = np.array([r["aulc"] for r in rows])
                error = np.array([[m - r["aulc_low"], r["aulc_high"] - m] for m, r in zip(mean, rows)]).T
                ax.errorbar(
                    mean,
                    rows_at - offset,
                    xerr=error,
                    fmt="o",
                    ms=3,
                    lw=1,
                    capsize=1.5,
                    color=colours[strategy],
                    label=label(strategy, STRATEGY_LABELS),
                    ls="none",
                )
            ax.set_title(provenance[dataset]["title"])
            ax.set_xlabel("AULC (mean, 95 % CI)")
            ax.grid(axis="y", color="0.92", lw=0.6)
        for ax in axes[:, 0]:
            ax.set_yticks(rows_at, [label(learner, LEARNER_LABELS) for learner in learners])
        handles, names = axes[0][0].get_legend_handles_labels()
        legend_below(fig, handles, names, len(names), 0.07 / len(axes))
        save_figure(fig, path)


def sweep_figure(
    study: Study,
    provenance: dict[str, dict[str, Any]],
    sweeps: list[Row],
    setting: str,
    path: Path,
) -> None:
    """One panel per sweep dataset: AULC with 95 % CI of each sweep strategy at every value of one setting."""
    strategies = study.sweeps["strategies"]
    colours, styles = (
        strategy_colours(study.strategies),
        strategy_line_styles(study.strategies),
    )
    datasets = study.sweeps["datasets"]
    with plt.rc_context(FIGURE_STYLE):
        fig, axes = plt.subplots(1, len(datasets), figsize=(2.9 * len(datasets), 2.5), squeeze=False)
        for ax, dataset in zip(axes[0], datasets):
            for offset, strategy in zip(_dodge(len(strategies), 0.15), strategies):
                rows = [
                    r
                    for r in sweeps
                    if r["dataset"] == dataset and r["setting"] == setting and r["strategy"] == strategy
                ]
                mean = np.array([r["aulc"] for r in rows])
                low = np.array([r["aulc_low"] for r in rows])
                high = np.array([r["aulc_high"] for r in rows])
                x = np.arange(len(rows)) + offset
                ax.errorbar(
                    x,
                    mean,
                    yerr=[mean - low, high - mean],
                    color=colours.get(strategy, "0.3"),
                    ls=styles.get(strategy, "-"),
                    marker="o",
                    ms=3.5,
                    lw=1.2,
                    capsize=2,
                    label=label(strategy, STRATEGY_LABELS),
                )
            # Representation names are words: slanted, they do not run into each other.
            slant = {"rotation": 45, "ha": "right", "rotation_mode": "anchor"} if setting == "representation" else {}
            ax.set_xticks(range(len(rows)), [value_label(setting, r["value"]) for r in rows], **slant)
            ax.set_xlabel(SETTING_LABELS[setting])
            ax.set_title(provenance[dataset]["title"])
        axes[0][0].set_ylabel(f"AULC ({in_sentence(METRIC_LABELS[study.primary_metric])})")
        handles, names = axes[0][0].get_legend_handles_labels()
        legend_below(fig, handles, names, len(names), 0.1)
        save_figure(fig, path)


# Marker of each update mode in the update-modes figure: refitting is the circle every arrow starts from.
MODE_MARKERS = {"fit": "o", "warm_start": "^", "partial_fit": "s"}


def _mode_label(name: str, mode: str) -> str:
    """The legend entry of one estimator's update mode: 'MLP: warm start'."""
    return f"{name}: {mode.replace('_', ' ')}"


def _update_arrows(ax: plt.Axes, points: dict[str, tuple[float, float]], colour: str, name: str | None) -> None:
    """Arrows from refitting (filled circle) to each other update mode (open marker) for one estimator; ``name``
    labels the legend."""
    for mode, point in points.items():
        if mode != "fit":
            ax.annotate("", xy=point, xytext=points["fit"], arrowprops={"arrowstyle": "->", "color": colour, "lw": 1})
        filled = colour if mode == "fit" else "white"
        legend = _mode_label(name, mode) if name else None
        ax.plot(*point, MODE_MARKERS[mode], mfc=filled, color=colour, ms=5, label=legend)


def _mode_legend(fig: plt.Figure, ax: plt.Axes, pairs: list[tuple[str, dict[str, str]]]) -> None:
    """A legend with one row per estimator and one column per update mode (blank where an estimator lacks one);
    matplotlib fills a legend's columns one after the other, so the entries go mode by mode."""
    handles = dict(zip(*reversed(ax.get_legend_handles_labels())))
    blank = plt.Line2D([], [], linestyle="none")
    modes = [m for m in MODE_MARKERS if any(m in estimator_modes for _, estimator_modes in pairs)]
    names = [_mode_label(label(estimator, ESTIMATOR_LABELS), mode) for mode in modes for estimator, _ in pairs]
    fig.legend(
        [handles.get(n, blank) for n in names],
        [n if n in handles else "" for n in names],
        loc="lower center",
        ncol=len(modes),
        frameon=False,
        bbox_to_anchor=(0.5, -0.02),
    )


def update_modes_figure(
    study: Study,
    provenance: dict[str, dict[str, Any]],
    summary: list[Row],
    timings: dict[tuple[str, str], tuple[float, float]],
    path: Path,
) -> None:
    """Incremental updates (warm start, partial_fit) versus refitting: AULC (mean over the learner-comparison
    strategies) against update time per cycle."""
    pairs = update_modes(study)
    datasets = study.learner_datasets
    aulc = learner_aulc(study, summary)
    legend_rows = len(pairs)
    with plt.rc_context(FIGURE_STYLE):
        fig, axes = dataset_panels(len(datasets), 2.6, 2.4 + 0.2 * legend_rows)
        for ax, dataset in zip(axes.flat, datasets):
            ax.set_title(provenance[dataset]["title"])
            ax.set_xlabel("Update time per cycle (ms)")
            ax.set_xscale("log")
            # Plain numbers at 1, 2 and 5 of each decade: a range under a decade keeps readable labels.
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            if not pairs:
                ax.text(
                    0.5,
                    0.5,
                    "no estimator is run\nwith several update modes",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                )
                continue
            for i, (estimator, modes) in enumerate(pairs):
                points = {mode: (timings[(dataset, name)][0], aulc[(dataset, name)]) for mode, name in modes.items()}
                name = label(estimator, ESTIMATOR_LABELS) if dataset == datasets[0] else None
                _update_arrows(ax, points, PALETTE[(i + 1) % len(PALETTE)], name)
        for ax in axes[:, 0]:
            ax.set_ylabel("AULC (mean over strategies)")
        if pairs:
            _mode_legend(fig, axes[0][0], pairs)
        fig.tight_layout(rect=(0, 0.07 * legend_rows / len(axes), 1, 1))
        save_figure(fig, path)
