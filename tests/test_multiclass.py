"""The aggregate on a 3-class and an 11-class dataset: no binary assumption in the per-class recall, the classes the
strategies send for labelling, the labels to a target, the stopping rules or the ordinal scores, and label counts
that follow ``al.scale_with_classes``. The binary case is tested by hand in test_aggregate.py."""

from __future__ import annotations

import numpy as np
import pytest

from medal.analysis.aggregate import aggregate
from medal.analysis.metrics import encode_predictions
from medal.analysis.tables import CLASS_RECALL, ORDINAL, STOPPING, TARGETS
from medal.design import label_sizes
from medal.fileio import read_json, write_json_atomic, write_npz_atomic
from medal.study import Study
from test_aggregate import CAPPED_CURVES, SWEEP_CURVES, _params
from test_aggregate import _run as binary_run

CURVES = {"random": [[0.5, 0.7, 0.9], [0.5, 0.6, 0.8]], "entropy": [[0.5, 0.9, 1.0], [0.6, 0.9, 1.0]]}
# The pool images each strategy queries after the initial set, as a function of the number of classes k (the pool
# holds image i of class i % k): random takes one image of class 0 and one of class 1, entropy two of the last class.
QUERIED = {"random": lambda k: [[0], [1]], "entropy": lambda k: [[k - 1], [2 * k - 1]]}


def _predictions(accuracy: float, y_test: np.ndarray, k: int) -> str:
    """Stored test predictions with the given accuracy: the last images are predicted as the next class."""
    predicted = y_test.copy()
    wrong = len(y_test) - int(round(accuracy * len(y_test)))
    if wrong:
        predicted[-wrong:] = (predicted[-wrong:] + 1) % k
    return encode_predictions(predicted, np.arange(k))


def _run(scores: list[float], k: int, labels: list[int], queried: list[list[int]]) -> dict:
    """test_aggregate's run at these label counts and queries, its last class with the recall of the score and every
    other class a recall of 1, its predictions over k classes."""
    run = binary_run(scores)
    y_test = np.arange(10 * k) % k
    for cycle, n, picked in zip(run["cycles"], labels, queried):
        cycle |= {
            "labels": n,
            "queried": picked,
            "class_recall": [1.0] * (k - 1) + [cycle["accuracy"]],
            "test_predictions": _predictions(cycle["accuracy"], y_test, k),
        }
    return run


@pytest.fixture(params=[3, 11], ids=["3 classes", "11 classes"])
def multiclass(request, tmp_path):
    """The aggregate of a study on one ordinal dataset of k classes, with label sizes scaled to k; (folder, k)."""
    k = request.param
    params = _params()
    params["al"]["scale_with_classes"] = True
    sizes = label_sizes(params["al"], k)
    labels = [sizes["initial_labels"] + i * sizes["batch_size"] for i in range(3)]
    assert labels[-1] == sizes["budget"]
    for strategy, runs in CURVES.items():
        queried = [list(range(k))] + QUERIED[strategy](k)  # the initial set holds one image of each class
        for seed, scores in enumerate(runs):
            run = _run(scores, k, labels, queried)
            write_json_atomic(tmp_path / "runs" / "d" / strategy / f"lr-seed{seed}.json", run)
    for strategy, runs in CAPPED_CURVES.items():
        for seed, scores in enumerate(runs):
            run = _run(scores, k, labels, [list(range(k)), [seed], [seed]])
            write_json_atomic(tmp_path / "capped" / "d" / strategy / f"lr-seed{seed}.json", run)
    for (setting, value), by_strategy in SWEEP_CURVES.items():
        for strategy, runs in by_strategy.items():
            for seed, scores in enumerate(runs):
                path = tmp_path / "sweeps" / "d" / setting / strategy / value / f"{strategy}-seed{seed}.json"
                write_json_atomic(path, _run(scores, k, labels, [list(range(k)), [], []]))
    reference = [
        {"accuracy": 1.0, "roc_auc": 0.9, "balanced_accuracy": 0.8, "class_recall": [0.9] * (k - 1) + [0.7]},
        {"accuracy": 1.0, "roc_auc": 0.8, "balanced_accuracy": 0.7, "class_recall": [0.7] * (k - 1) + [0.7]},
    ]
    write_json_atomic(tmp_path / "ref" / "d.json", {"learners": {"lr": reference}})
    y = {"y_pool": np.arange(5 * k) % k, "y_test": np.arange(10 * k) % k}
    write_npz_atomic(tmp_path / "prep" / "d.npz", y)
    write_json_atomic(tmp_path / "raw" / "d.json", {"shape": [28, 28], "ordinal": True})
    folders = [tmp_path / name for name in ("runs", "sweeps", "capped", "ref", "prep", "raw", "agg")]
    aggregate(Study.from_params(params), *folders, tmp_path / "metrics.json", tmp_path / "conclusions.json")
    return tmp_path / "agg", k


def test_recall_has_a_row_per_class_and_the_last_class_is_not_dropped(multiclass):
    folder, k = multiclass
    rows = [r for r in CLASS_RECALL.read(folder) if r["strategy"] == "random"]
    assert [r["class"] for r in rows] == list(range(k))
    # The last class's recall is the final score (0.9, 0.8); every other class scores 1.
    assert [r["recall"] for r in rows] == pytest.approx([1.0] * (k - 1) + [0.85])
    assert [r["full_pool"] for r in rows] == pytest.approx([0.8] * (k - 1) + [0.7])


def test_queried_class_shares_span_every_class(multiclass):
    folder, k = multiclass
    balance = read_json(folder / "class_balance.json")["d"]
    assert balance["pool"] == pytest.approx([1 / k] * k)
    assert balance["queried"]["lr"]["entropy"] == pytest.approx([0.0] * (k - 1) + [1.0])
    assert balance["queried"]["lr"]["random"] == pytest.approx([0.5, 0.5] + [0.0] * (k - 2))


def test_labels_to_target_count_in_the_datasets_scaled_sizes(multiclass):
    folder, k = multiclass
    step = label_sizes({"initial_labels": 10, "batch_size": 10, "budget": 30, "scale_with_classes": True}, k)
    batch, budget = step["batch_size"], step["budget"]
    targets = {r["strategy"]: r for r in TARGETS.read(folder) if r["target"] == "90"}
    # Target 0.9: entropy reaches it at the second count in both seeds, random at the budget in seed 0 only.
    assert targets["entropy"]["labels"] == step["initial_labels"] + batch and targets["entropy"]["reached"] == 2
    # Paired savings: one batch in seed 0, at least two in seed 1 (random counted one batch past the budget).
    assert targets["entropy"]["saving"] == pytest.approx(1.5 * batch)
    assert targets["entropy"]["saving_pct"] == pytest.approx(100 * 3 * batch / (2 * budget + batch))


def test_stopping_rules_stop_at_the_scaled_label_counts(multiclass):
    folder, k = multiclass
    step = label_sizes({"initial_labels": 10, "batch_size": 10, "budget": 30, "scale_with_classes": True}, k)
    rows = {(r["strategy"], r["criterion"]): r for r in STOPPING.read(folder)}
    stable = rows[("random", "stabilizing_predictions")]
    assert stable["stopped"] == 2 and stable["labels"] == step["initial_labels"] + step["batch_size"]
    assert rows[("entropy", "expected_error")]["labels"] == step["budget"]


def test_ordinal_scores_at_the_initial_labels_and_the_budget(multiclass):
    folder, k = multiclass
    step = label_sizes({"initial_labels": 10, "batch_size": 10, "budget": 30, "scale_with_classes": True}, k)
    rows = {(r["strategy"], r["labels"]): r for r in ORDINAL.read(folder)}
    assert set(rows) == {(s, n) for s in CURVES for n in (step["initial_labels"], step["budget"])}
    # Entropy's predictions at the budget are all right in both seeds: kappa 1; random's are not.
    assert rows[("entropy", step["budget"])]["kappa"] == 1.0
    assert -1 <= rows[("random", step["budget"])]["kappa"] < 1
    assert rows[("random", step["budget"])]["balanced_accuracy"] == pytest.approx(0.85)
