"""The stopping criteria's trade-off over their thresholds: labels at the stop against the score there."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.text import Text

from medal.analysis.tables import Row
from medal.report.figures import FIGURE_STYLE, PALETTE, dataset_panels, legend_below, save_figure
from medal.report.text import CRITERION_LABELS, label
from medal.study import Study


def stopping_tradeoff_figure(
    study: Study, provenance: dict[str, dict[str, Any]], tradeoff: list[Row], path: Path
) -> None:
    """Per dataset, each stopping criterion's trade-off over its thresholds: mean labels at the stop against the
    score there in percent of the full-pool score, over the runs that stopped before the budget; each point is
    labelled with its threshold and the share of runs that stopped."""
    datasets = study.datasets
    criteria = list(study.evaluation["stopping_thresholds"])
    colours = dict(zip(criteria, PALETTE[5:]))
    with plt.rc_context(FIGURE_STYLE):
        fig, axes = dataset_panels(len(datasets), 3.1, 3.1)
        labels: list[tuple[Any, tuple[float, float], str, str]] = []
        for ax, dataset in zip(axes.flat, datasets):
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
                    labels.append((ax, (x, y), f"{r['threshold']:g} ({share:.0f} %)", colours[criterion]))
            ax.set_title(provenance[dataset]["title"])
            ax.set_xlabel("Labels at the stop")
        for ax in axes[:, 0]:
            ax.set_ylabel("Score at the stop (% of full pool)")
        handles, names = axes[0][0].get_legend_handles_labels()
        legend_below(fig, handles, names, len(criteria), 0.14 / len(axes))
        place_labels(fig, labels)
        save_figure(fig, path)


# Where a point's label may go, in points from the point, tried in this order: right and left of it, one line above
# or below, then further out (points close together need their labels stacked).
LABEL_OFFSETS = tuple((dx, dy) for ring in range(4) for dy in (3 + 9 * ring, -8 - 9 * ring) for dx in (4, -4))


def place_labels(fig: plt.Figure, labels: list[tuple[Any, tuple[float, float], str, str]]) -> None:
    """Write each point's label at the first offset where it overlaps no label written before (else the first)."""
    renderer = fig.canvas.get_renderer()
    placed = []
    for ax, point, text, colour in labels:
        for dx, dy in LABEL_OFFSETS:
            note = ax.annotate(
                text,
                point,
                fontsize=5.5,
                xytext=(dx, dy),
                textcoords="offset points",
                color=colour,
                ha="left" if dx > 0 else "right",
                arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.3} if abs(dy) > 8 else None,
            )
            box = Text.get_window_extent(note, renderer)  # the words only, not the leader line
            if not any(box.overlaps(other) for other in placed):
                break
            note.remove()
        else:
            dx, dy = LABEL_OFFSETS[0]
            note = ax.annotate(text, point, fontsize=5.5, xytext=(dx, dy), textcoords="offset points", color=colour)
            box = Text.get_window_extent(note, renderer)
        placed.append(box)
