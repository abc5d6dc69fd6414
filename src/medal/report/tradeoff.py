"""The stopping criteria's trade-off over their thresholds: labels at the stop against the score there."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from medal.analysis.tables import Row
from medal.report.figures import FIGURE_STYLE, PALETTE, legend_below, save_figure
from medal.report.text import CRITERION_LABELS, label


def stopping_tradeoff_figure(
    params: dict[str, Any], provenance: dict[str, dict[str, Any]], tradeoff: list[Row], path: Path
) -> None:
    """Per dataset, each stopping criterion's trade-off over its thresholds: mean labels at the stop against the
    score there in percent of the full-pool score, over the runs that stopped before the budget; each point is
    labelled with its threshold and the share of runs that stopped."""
    datasets = params["study"]["datasets"]
    criteria = list(params["evaluation"]["stopping_thresholds"])
    colours = dict(zip(criteria, PALETTE[5:]))
    with plt.rc_context(FIGURE_STYLE):
        fig, axes = plt.subplots(1, len(datasets), figsize=(2.6 * len(datasets), 2.8), squeeze=False)
        for ax, dataset in zip(axes[0], datasets):
            for criterion in criteria:
                rows = [r for r in tradeoff if r["dataset"] == dataset and r["criterion"] == criterion]
                points = [(r["labels"], r["percent_of_full"], r) for r in rows if not math.isnan(r["labels"])]
                if not points:
                    continue
                ax.plot(
                    [p[0] for p in points],
                    [p[1] for p in points],
                    marker="o",
                    ms=3,
                    lw=1,
                    color=colours[criterion],
                    label=label(criterion, CRITERION_LABELS),
                )
                for x, y, r in points:
                    share = 100 * r["stopped"] / r["runs"]
                    ax.annotate(
                        f"{r['threshold']:g} ({share:.0f} %)",
                        (x, y),
                        fontsize=5.5,
                        xytext=(3, -6),
                        textcoords="offset points",
                        color=colours[criterion],
                    )
            ax.set_title(provenance[dataset]["title"])
            ax.set_xlabel("Labels at the stop")
        axes[0][0].set_ylabel("Score at the stop (% of full pool)")
        handles, names = axes[0][0].get_legend_handles_labels()
        legend_below(fig, handles, names, len(criteria), 0.14)
        save_figure(fig, path)
