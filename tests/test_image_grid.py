"""The image grid: each strategy's first queried images in order, framed in their true class's colour."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from medal.design import run_path  # noqa: E402
from medal.fileio import write_json_atomic, write_npz_atomic  # noqa: E402
from medal.report.image_grid import CLASS_COLOURS, _draw_row, queried_images_figure  # noqa: E402
from medal.report.variables import QUERY_GRID_IMAGES, QUERY_GRID_SEED  # noqa: E402
from medal.study import Study


def test_each_image_is_framed_in_its_true_class_colour_and_empty_cells_have_no_frame():
    raw = {"X_train": np.zeros((12, 28, 28), np.uint8), "y_train": np.array([0, 1, 2] * 4)}
    fig, axes = plt.subplots(1, 5)
    _draw_row(list(axes), raw, [4, 0, 8])  # classes 1, 0, 2; two cells left empty
    for ax, index in zip(axes, [4, 0, 8]):
        colours = {to_hex(spine.get_edgecolor()) for spine in ax.spines.values()}
        assert colours == {CLASS_COLOURS[raw["y_train"][index]].lower()}
        assert ax.images
    assert not any(spine.get_visible() for ax in axes[3:] for spine in ax.spines.values())
    assert not axes[3].images
    plt.close(fig)


def test_the_grid_shows_the_images_queried_after_the_initial_set(params, tmp_path):
    params["study"]["datasets"] = ["imgs"]
    params["study"]["strategies"] = ["random", "entropy"]
    rng = np.random.default_rng(0)
    arrays = {"X_train": rng.integers(0, 255, (40, 28, 28), dtype=np.uint8), "y_train": np.array([0, 1] * 20)}
    write_npz_atomic(tmp_path / "raw" / "imgs.npz", arrays)
    for strategy in params["study"]["strategies"]:
        cycles = [{"queried": [0, 1, 2, 3]}, {"queried": list(range(10, 10 + QUERY_GRID_IMAGES))}]
        run = tmp_path / "runs" / run_path("imgs", strategy, params["study"]["main_learner"], QUERY_GRID_SEED)
        write_json_atomic(run, {"cycles": cycles})
    provenance = {"imgs": {"title": "Imgs", "class_names": ["normal", "lesion"], "shape": [28, 28]}}
    path = tmp_path / "grid.svg"
    queried_images_figure(Study.from_params(params), provenance, tmp_path / "raw", tmp_path / "runs", path)
    svg = path.read_text()
    assert "Random" in svg and "Entropy" in svg and "normal" in svg and "lesion" in svg
    assert svg.count("<image") == 2 * QUERY_GRID_IMAGES  # the initial set is not shown
