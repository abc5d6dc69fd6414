"""The figures of report/figures.py, drawn from small hand-made tables: what each panel holds, and the SVG bytes."""

import math

import matplotlib.pyplot as plt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from medal.report import figures
from medal.study import Study

PROVENANCE = {"a": {"title": "SetA"}, "b": {"title": "SetB"}}
STRATEGIES = ["random", "entropy", "margin"]


@pytest.fixture
def drawn(monkeypatch):
    """The figures drawn instead of saved, in drawing order."""
    kept = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: kept.append(fig))
    yield kept
    for fig in kept:
        plt.close(fig)


def _study(params) -> Study:
    params["study"].update(datasets=["a", "b"], strategies=STRATEGIES, learner_strategies=["random", "entropy"])
    params["study"].update(learners=["logreg", "svm_rbf"])
    params["sweeps"].update(datasets=["a"], strategies=["random", "entropy"])
    return Study.from_params(params)


def _curve(dataset, strategy, level, learner="logreg", metric="roc_auc"):
    return [
        {
            "dataset": dataset,
            "learner": learner,
            "strategy": strategy,
            "metric": metric,
            "labels": labels,
            "mean": level,
            "ci_low": level - 0.01,
            "ci_high": level + 0.01,
        }
        for labels in (10, 20, 30)
    ]


@given(st.integers(1, 32))
def test_strategies_that_share_a_colour_differ_in_line_style(n):
    names = [f"s{i}" for i in range(n)]
    colours, styles = figures.strategy_colours(names), figures.strategy_line_styles(names)
    pairs = {(colours[name], styles[name]) for name in names}
    assert len(pairs) == n and set(colours.values()) <= set(figures.PALETTE)


def test_a_saved_figure_has_no_date_and_the_same_bytes_every_time(tmp_path):
    def draw(path):
        with plt.rc_context(figures.FIGURE_STYLE):
            fig, ax = plt.subplots()
            ax.plot([0, 1], [1, 0])
            figures.save_figure(fig, path)

    draw(tmp_path / "one.svg")
    draw(tmp_path / "two.svg")
    one = (tmp_path / "one.svg").read_bytes()
    assert one == (tmp_path / "two.svg").read_bytes()
    assert b"<dc:date>" not in one and one.startswith(b"<?xml")


def test_learning_curves_have_a_panel_per_dataset_with_every_strategy_of_the_main_learner(params, drawn):
    study = _study(params)
    curves = [
        row
        for d, base in (("a", 0.7), ("b", 0.8))
        for i, s in enumerate(STRATEGIES)
        for row in _curve(d, s, base + i / 100)
    ]
    curves += _curve("a", "random", 0.1, learner="svm_rbf") + _curve("a", "random", 0.1, metric="accuracy")
    summary = [{"dataset": d, "learner": "logreg", "full_pool": 0.9} for d in ("a", "b")]
    figures.learning_curves_figure(study, PROVENANCE, curves, summary, None)
    (fig,) = drawn
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["SetA", "SetB"]
    first = axes[0]
    levels = sorted(line.get_ydata()[0] for line in first.get_lines())
    # Three strategies of the main learner on the primary metric and the full-pool line; the other learner's and
    # the other metric's rows are not drawn.
    assert levels == pytest.approx([0.7, 0.71, 0.72, 0.9])
    assert len(fig.legends[0].get_texts()) == len(STRATEGIES) + 1


def test_differences_have_a_panel_per_strategy_but_random_and_blank_panels_off(params, drawn):
    params["study"]["strategies"] = ["random", "entropy", "margin", "coreset", "badge", "dal"]
    study = Study.from_params({**params, "study": {**params["study"], "datasets": ["a", "b"]}})
    rows = [
        {"dataset": d, "learner": "logreg", "strategy": s, "labels": n, "mean": 0.01, "ci_low": 0.0, "ci_high": 0.02}
        for d in ("a", "b")
        for s in study.strategies[1:]
        for n in (10, 20)
    ]
    figures.differences_figure(study, PROVENANCE, rows, None)
    (fig,) = drawn
    shown = [ax for ax in fig.axes if ax.axison]
    assert len(shown) == 5 and len(fig.axes) == 8  # five strategies in a 2 x 4 grid, three panels off
    assert all(len(ax.get_lines()) == 1 + 2 for ax in shown)  # the zero line and one line per dataset
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["SetA", "SetB"]


def test_learners_figure_puts_the_first_learner_on_top_with_its_interval(params, drawn):
    study = _study(params)
    summary = [
        {
            "dataset": d,
            "learner": learner,
            "strategy": s,
            "aulc": aulc,
            "aulc_low": aulc - 0.02,
            "aulc_high": aulc + 0.01,
        }
        for d in ("a", "b")
        for learner, aulc in (("logreg", 0.8), ("svm_rbf", 0.6))
        for s in ("random", "entropy")
    ]
    figures.learners_figure(study, PROVENANCE, summary, None)
    (fig,) = drawn
    ax = fig.axes[0]
    rows = dict(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels())))
    assert rows[max(rows)].startswith("Logistic") and rows[min(rows)].startswith("RBF SVM")
    points = ax.collections[0].get_segments()  # the first strategy's horizontal error bars, learner by learner
    assert [tuple(segment[:, 0].round(2)) for segment in points] == [(0.78, 0.81), (0.58, 0.61)]


def test_sweep_figure_draws_each_sweep_strategy_at_every_value(params, drawn):
    study = _study(params)
    rows = [
        {
            "dataset": "a",
            "setting": "batch_size",
            "strategy": s,
            "value": str(v),
            "aulc": a,
            "aulc_low": a,
            "aulc_high": a,
        }
        for s, a in (("random", 0.7), ("entropy", 0.75))
        for v in (1, 5, 10)
    ]
    figures.sweep_figure(study, PROVENANCE, rows + [{**rows[0], "setting": "label_noise"}], "batch_size", None)
    (fig,) = drawn
    ax = fig.axes[0]
    assert [list(bars.lines[0].get_ydata()) for bars in ax.containers] == [[0.7] * 3, [0.75] * 3]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "5", "10"]


def test_update_modes_say_so_when_no_estimator_has_several_modes(params, drawn):
    params["study"]["learners"] = ["logreg", "svm_rbf"]
    study = _study(params)
    summary = [
        {"dataset": d, "learner": learner, "strategy": s, "aulc": 0.7}
        for d in ("a", "b")
        for learner in study.learners
        for s in study.learner_strategies
    ]
    figures.update_modes_figure(study, PROVENANCE, summary, {}, None)
    (fig,) = drawn
    assert all("no estimator" in ax.texts[0].get_text() for ax in fig.axes)
    assert not fig.legends and not math.isnan(fig.get_figwidth())


@pytest.mark.parametrize(("n", "shape"), [(1, (1, 1)), (3, (1, 3)), (4, (2, 3)), (6, (2, 3)), (7, (3, 3))])
def test_dataset_panels_wrap_after_three_and_switch_the_spare_ones_off(n, shape):
    fig, axes = figures.dataset_panels(n, 2.0, 3.0)
    assert axes.shape == shape and sum(ax.axison for ax in axes.flat) == n
    assert tuple(fig.get_size_inches()) == pytest.approx((2.0 * shape[1], 3.0 * shape[0]))
    plt.close(fig)


def test_six_datasets_give_two_rows_of_learning_curves_each_row_labelled(params, drawn):
    names = ["a", "b", "c", "d", "e", "f"]
    params["study"].update(datasets=names, strategies=["random"])
    study = Study.from_params(params)
    curves = [row for d in names for row in _curve(d, "random", 0.7)]
    summary = [{"dataset": d, "learner": "logreg", "full_pool": 0.9} for d in names]
    figures.learning_curves_figure(study, {d: {"title": d.upper()} for d in names}, curves, summary, None)
    (fig,) = drawn
    assert [ax.get_title() for ax in fig.axes] == ["A", "B", "C", "D", "E", "F"]
    assert [bool(ax.get_ylabel()) for ax in fig.axes] == [True, False, False, True, False, False]
