import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from medal.metrics import evaluate
from medal.stats import aulc, labels_to_target, mean_ci


def test_metrics_on_a_hand_computed_case():
    y = np.array([0, 0, 0, 1])
    pred = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])
    scores = evaluate(y, pred, proba, np.array([0, 1]))
    assert scores["accuracy"] == 0.75
    assert scores["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2)
    assert scores["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert scores["roc_auc"] == 1.0


def test_multiclass_roc_auc_and_non_finite_probabilities():
    y = np.array([0, 1, 2, 2])
    proba = np.eye(3)[y] * 0.8 + 0.2 / 3
    assert evaluate(y, y, proba, np.arange(3))["roc_auc"] == 1.0
    assert math.isnan(evaluate(y, y, np.full((4, 3), np.nan), np.arange(3))["roc_auc"])


def test_mean_ci_matches_a_hand_computed_t_interval():
    mean, low, high = mean_ci([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert math.isnan(mean_ci([5.0])[1]) and mean_ci([5.0])[0] == 5.0


@given(st.lists(st.floats(0, 1), min_size=2, max_size=30))
def test_aulc_lies_between_the_curve_minimum_and_maximum(scores):
    labels = list(range(10, 10 + 5 * len(scores), 5))
    value = aulc(labels, scores)
    assert min(scores) - 1e-12 <= value <= max(scores) + 1e-12


def test_aulc_and_labels_to_target_by_hand():
    assert aulc([0, 10, 20], [0.0, 1.0, 1.0]) == pytest.approx(0.75)
    assert labels_to_target([10, 20, 30], [0.5, 0.8, 0.9], 0.8) == 20
    assert labels_to_target([10, 20], [0.5, 0.6], 0.8) is None
