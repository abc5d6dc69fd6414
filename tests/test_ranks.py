"""The critical-difference figure: six dataset panels two to a row, no label of one panel over another's."""

import matplotlib.pyplot as plt
import numpy as np

from medal.report.figures import FIGURE_STYLE
from medal.report.ranks import critical_difference_panels
from medal.study import Study


def _friedman(strategies, datasets):
    rng = np.random.default_rng(0)
    return {
        "strategies": strategies,
        "merged": {},
        "datasets": {
            d: {"average_ranks": list(rng.permutation(len(strategies)) + 1.0), "critical_difference": 5.0}
            for d in datasets
        },
    }


def _label_boxes(fig, ax):
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in ax.texts if "(" in t.get_text()]


def test_six_panels_sit_two_to_a_row_and_no_labels_of_neighbours_overlap(params):
    study = Study.from_params(params)
    datasets = [f"d{i}" for i in range(6)]
    provenance = {d: {"title": d.upper()} for d in datasets}
    with plt.rc_context(FIGURE_STYLE):
        fig = critical_difference_panels(study, _friedman(list(study.strategies), datasets), provenance)
        fig.canvas.draw()
        axes = np.array(fig.axes).reshape(3, 2)
        assert [ax.get_title(loc="left") for ax in axes.flat] == [d.upper() for d in datasets]
        for left, right in axes:
            for a in _label_boxes(fig, left):
                assert not any(a.overlaps(b) for b in _label_boxes(fig, right))
    plt.close(fig)
    with plt.rc_context(FIGURE_STYLE):  # two panels or fewer: one column
        fig = critical_difference_panels(study, _friedman(list(study.strategies), datasets[:2]), provenance)
        assert fig.axes[0].get_position().x0 == fig.axes[1].get_position().x0
    plt.close(fig)
