"""The stopping trade-off figure: every point labelled with its threshold and share, no two labels overlapping
where there is room for them."""

from __future__ import annotations

import itertools
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from medal.report.tradeoff import place_labels, stopping_tradeoff_figure  # noqa: E402
from medal.study import Study


def test_labels_of_crowded_points_are_moved_apart():
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    # Five points almost on top of one another, as the thresholds of one criterion often are.
    points = [(50 + i * 0.4, 50 + i * 0.3) for i in range(5)]
    place_labels(fig, [(ax, point, f"0.{i} (80 %)", "black") for i, point in enumerate(points)])
    renderer = fig.canvas.get_renderer()
    boxes = [Text.get_window_extent(text, renderer) for text in ax.texts]  # the words, without leader lines
    assert len(boxes) == 5
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    plt.close(fig)


def test_the_figure_shows_each_dataset_and_labels_each_stopped_threshold(params, tmp_path):
    params["study"]["datasets"] = ["a", "b"]
    params["evaluation"]["stopping_thresholds"] = {"stabilizing_predictions": [0.9, 0.99], "expected_error": [0.1]}
    rows = [
        {
            "dataset": d,
            "criterion": c,
            "threshold": t,
            "stopped": 3,
            "runs": 4,
            "labels": 100 + 10 * t,
            "percent_of_full": 95.0,
        }
        for d in ("a", "b")
        for c, thresholds in params["evaluation"]["stopping_thresholds"].items()
        for t in thresholds
    ]
    rows[0] = {**rows[0], "labels": math.nan, "stopped": 0}  # no run stopped: no point, no label
    path = tmp_path / "tradeoff.svg"
    stopping_tradeoff_figure(Study.from_params(params), {"a": {"title": "SetA"}, "b": {"title": "SetB"}}, rows, path)
    svg = path.read_text()
    assert "SetA" in svg and "SetB" in svg
    assert svg.count("0.99 (75 %)") == 2 and svg.count("0.9 (75 %)") == 1 and svg.count("0.1 (75 %)") == 2
