"""The critical-difference diagram (Demšar 2006): average ranks of strategies or learners with the Nemenyi
critical difference, one panel per dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from medal.report.figures import FIGURE_STYLE, dataset_panels, save_figure, strategy_colours
from medal.report.text import STRATEGY_LABELS, merged_label
from medal.study import Study


def critical_difference_figure(
    study: Study, friedman: dict[str, Any], path: Path, provenance: dict[str, dict[str, Any]] | None = None
) -> None:
    """Average ranks of the strategies in ``friedman`` (1 = best, left) with the Nemenyi critical difference;
    strategies closer than the CD are joined by a grey bar (Demšar 2006). One panel per dataset when ``friedman``
    holds a test per dataset (titled from ``provenance``), else one panel."""
    with plt.rc_context(FIGURE_STYLE):
        save_figure(critical_difference_panels(study, friedman, provenance), path)


def critical_difference_panels(
    study: Study, friedman: dict[str, Any], provenance: dict[str, dict[str, Any]] | None = None
) -> plt.Figure:
    """The figure of :func:`critical_difference_figure`: its panels two to a row when there are more than two."""
    tests = (
        [
            (provenance[d]["title"], {"strategies": friedman["strategies"], "merged": friedman["merged"], **t})
            for d, t in friedman["datasets"].items()
        ]
        if "datasets" in friedman
        else [(None, friedman)]
    )
    k = len(friedman["strategies"])
    height = (1.3 + 0.3 * k) if len(tests) == 1 else (0.6 + 0.2 * k)  # several panels: compact, to fit a page
    colours = strategy_colours(study.strategies)
    # Two panels to a row when there are more than two; the gap between columns holds the right-hand labels of one
    # panel and the left-hand labels of the next.
    fig, axes = dataset_panels(len(tests), 6.0, height, columns=2 if len(tests) > 2 else 1, gridspec_kw={"wspace": 1.5})
    for ax, (title, test) in zip(axes.flat, tests):
        _cd_panel(ax, test, colours)
        if title:
            ax.set_title(title, loc="left")
    return fig


def _cd_panel(ax: plt.Axes, friedman: dict[str, Any], colours: dict[str, str]) -> None:
    """One critical-difference diagram on ``ax``."""
    names = friedman["strategies"]
    ranks = np.array(friedman["average_ranks"])
    cd = friedman["critical_difference"]
    k = len(names)
    order = list(np.argsort(ranks, kind="stable"))
    cliques = _cliques(ranks[order], cd)
    top = -0.4 - 0.3 * len(cliques)  # label rows start below the clique bars
    half = (k + 1) // 2
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
        ax.text(
            end - 0.05 if left else end + 0.05,
            y,
            f"{merged_label(names[index], friedman.get('merged', {}), STRATEGY_LABELS)} ({ranks[index]:.2f})",
            ha="right" if left else "left",
            va="center",
            clip_on=False,
        )


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
