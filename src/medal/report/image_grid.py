"""The image grid: the first images each strategy asked to label, framed in their true class's colour."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from medal.design import run_path
from medal.fileio import load_npz, read_json
from medal.report.figures import FIGURE_STYLE, save_figure
from medal.report.setup import is_image
from medal.report.text import strategy_label
from medal.report.variables import QUERY_GRID_IMAGES, QUERY_GRID_SEED
from medal.study import Study

# Okabe-Ito, distinct from one another (beyond eight classes the colours repeat).
CLASS_COLOURS = ["#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def _draw_row(axes: list, raw: dict[str, Any], queried: list[int]) -> None:
    """One strategy's row: its queried images, each framed in the colour of its true class."""
    for column, ax in enumerate(axes):
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


def _class_legend(fig: plt.Figure, class_names: list[str]) -> None:
    """A legend below the grid: one framed square per class."""
    handles = [
        plt.Line2D(
            [],
            [],
            marker="s",
            ls="",
            mfc="white",
            mec=CLASS_COLOURS[i % len(CLASS_COLOURS)],
            mew=2.2,
            ms=8,
            label=name,
        )
        for i, name in enumerate(class_names)
    ]
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=min(len(handles), 4),
        frameon=False,
        fontsize=7,
        bbox_to_anchor=(0.5, -0.01),
    )


def queried_images_figure(
    study: Study, provenance: dict[str, dict[str, Any]], raw_dir: Path, runs_dir: Path, path: Path
) -> None:
    """The first images each strategy queried after the initial set (seed ``QUERY_GRID_SEED``, main learner), on the
    first image dataset."""
    image_datasets = [d for d in study.datasets if is_image(provenance[d])]
    strategies = study.strategies
    with plt.rc_context(FIGURE_STYLE):
        if not image_datasets:
            fig, ax = plt.subplots(figsize=(4, 1))
            ax.axis("off")
            ax.text(0.5, 0.5, "no image dataset in this study", ha="center", va="center")
            save_figure(fig, path)
            return
        dataset, learner = image_datasets[0], study.main_learner
        raw = load_npz(raw_dir / f"{dataset}.npz")
        class_names = provenance[dataset]["class_names"]
        fig, axes = plt.subplots(
            len(strategies),
            QUERY_GRID_IMAGES,
            figsize=(0.62 * QUERY_GRID_IMAGES + 1.4, 0.78 * len(strategies)),
            squeeze=False,
        )
        for row, strategy in enumerate(strategies):
            cycles = read_json(runs_dir / run_path(dataset, strategy, learner, QUERY_GRID_SEED))["cycles"]
            queried = [i for cycle in cycles[1:] for i in cycle["queried"]][:QUERY_GRID_IMAGES]
            _draw_row(axes[row], raw, queried)
            axes[row][0].set_ylabel(strategy_label(strategy, study), rotation=0, ha="right", va="center", fontsize=7)
        _class_legend(fig, class_names)
        fig.tight_layout(pad=0.3, h_pad=0.4, w_pad=0.2, rect=(0, 0.06, 1, 1))
        save_figure(fig, path)
