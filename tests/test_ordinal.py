"""Ordinal datasets: the quadratic-weighted kappa against a hand-computed case, its rows from stored runs, its table."""

import numpy as np
import pytest

from medal.analysis.metrics import encode_predictions
from medal.analysis.ordinal import ordinal_rows, quadratic_kappa
from medal.analysis.tables import ORDINAL
from medal.data.sources import describe
from medal.report.behaviour import ordinal_table
from medal.report.text import SOFT_HYPHEN
from medal.study import Study


def test_quadratic_kappa_by_hand():
    # Weights (i - j)^2. Observed: one miss by one grade, sum w*O = 1. Expected by chance, E_ij = r_i c_j / n with
    # marginals r = [1, 1, 1], c = [1, 0, 2]: sum w*E = (4 * 2/3) + (1 * 1/3 + 1 * 2/3) + (4 * 1/3) = 5.
    # kappa = 1 - 1/5 = 0.8.
    assert quadratic_kappa(np.array([0, 1, 2]), np.array([0, 2, 2])) == pytest.approx(0.8)
    # A miss by two grades costs four times a miss by one: a lower kappa for the same accuracy.
    near = quadratic_kappa(np.array([0, 1, 2, 3]), np.array([0, 1, 2, 2]))
    far = quadratic_kappa(np.array([0, 1, 2, 3]), np.array([0, 1, 2, 1]))
    assert near > far
    assert quadratic_kappa(np.array([1, 1]), np.array([1, 1])) == 1.0  # 0/0, every prediction right


def _run(first, last, balanced=(0.4, 0.6)):
    classes = np.arange(5)
    return {
        "cycles": [
            {"labels": 25, "balanced_accuracy": balanced[0], "test_predictions": encode_predictions(first, classes)},
            {"labels": 625, "balanced_accuracy": balanced[1], "test_predictions": encode_predictions(last, classes)},
        ]
    }


def test_rows_give_kappa_and_balanced_accuracy_at_the_initial_labels_and_the_budget():
    y_test = np.array([0, 1, 2, 3, 4])
    perfect, shifted = y_test.copy(), np.array([1, 2, 3, 4, 4])
    runs = {"random": [_run(shifted, perfect), _run(shifted, perfect)]}
    rows = ordinal_rows("retina", runs, np.arange(20) % 5, y_test)
    assert [(r["strategy"], r["labels"]) for r in rows] == [("random", 25), ("random", 625)]
    assert rows[0]["kappa"] == pytest.approx(quadratic_kappa(y_test, shifted)) and rows[1]["kappa"] == 1.0
    assert rows[1]["balanced_accuracy"] == pytest.approx(0.6)
    assert ORDINAL.text(rows).count("\n") == 3  # the rows fit the table's columns


def test_only_datasets_declared_ordinal_say_so_in_their_provenance():
    assert describe("retina", {"about": {"ordinal": True}})["ordinal"] is True
    assert "ordinal" not in describe("blood", {"about": {"title": "Blood"}})


def test_the_table_is_empty_without_an_ordinal_dataset_and_lists_every_strategy_with_one(params):
    params["study"].update(datasets=["retina"], strategies=["random", "entropy"])
    study = Study.from_params(params)
    assert ordinal_table(study, {}, []) == ""
    y_test = np.array([0, 1, 2, 3, 4])
    runs = {s: [_run(y_test, y_test), _run(y_test, y_test)] for s in ("random", "entropy")}
    rows = ordinal_rows("retina", runs, y_test, y_test)
    table = ordinal_table(study, {"retina": {"title": "RetinaMNIST"}}, rows).replace(SOFT_HYPHEN, "")
    assert "**RetinaMNIST**" in table and "25 labels" in table and "625 labels" in table
    assert table.count("1.000") == 3 * 4  # mean and bounds of four kappa cells and "{#tbl-ordinal}" in table
