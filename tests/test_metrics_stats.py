import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from medal.analysis.metrics import evaluate
from medal.analysis.stats import aulc, labels_to_target, mean_ci


def test_metrics_on_a_hand_computed_case():
    y = np.array([0, 0, 0, 1])
    pred = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])
    scores = evaluate(y, pred, proba, np.array([0, 1]))
    assert scores["accuracy"] == 0.75
    assert scores["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2)
    assert scores["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert scores["roc_auc"] == 1.0


@given(
    st.integers(2, 4).flatmap(
        lambda k: st.tuples(
            st.just(k), st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=60)
        )
    )
)
def test_confusion_based_metrics_equal_scikit_learns(case):
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        cohen_kappa_score,
        f1_score,
        recall_score,
    )

    from medal.analysis.metrics import agreement

    k, pairs = case
    y, pred = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    classes = np.arange(k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ROC-AUC is undefined when y holds one class
        scores = evaluate(y, pred, np.full((len(y), k), 1 / k), classes)
    assert scores["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert scores["macro_f1"] == pytest.approx(
        f1_score(y, pred, average="macro", labels=classes, zero_division=0), abs=1e-12
    )
    assert scores["class_recall"] == pytest.approx(
        list(recall_score(y, pred, labels=classes, average=None, zero_division=0)), abs=1e-12
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns when y lacks a predicted class
        assert scores["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred), abs=1e-12)
        expected_kappa = 1.0 if np.array_equal(y, pred) else cohen_kappa_score(y, pred)
    if not math.isnan(expected_kappa):
        assert agreement(y, pred) == pytest.approx(expected_kappa, abs=1e-12)


@given(
    st.integers(2, 4).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.lists(
                st.tuples(st.integers(0, k - 1), st.lists(st.integers(0, 4), min_size=k, max_size=k)),
                min_size=2,
                max_size=40,
            ),
        )
    )
)
def test_roc_auc_equals_scikit_learns(case):
    from sklearn.metrics import roc_auc_score

    from medal.analysis.metrics import roc_auc

    k, rows = case
    y = np.array([r[0] for r in rows])
    weights = np.array([r[1] for r in rows], dtype=float) + 0.5  # coarse values: many ties
    proba = weights / weights.sum(axis=1, keepdims=True)
    classes = np.arange(k)
    if len(np.unique(y)) < k:  # scikit-learn needs every class in y for one-vs-rest
        return
    expected = roc_auc_score(y, proba[:, 1]) if k == 2 else roc_auc_score(y, proba, multi_class="ovr", labels=classes)
    assert roc_auc(y, proba, classes) == pytest.approx(expected, abs=1e-12)


def test_multiclass_roc_auc_and_non_finite_probabilities():
    y = np.array([0, 1, 2, 2])
    proba = np.eye(3)[y] * 0.8 + 0.2 / 3
    assert evaluate(y, y, proba, np.arange(3))["roc_auc"] == 1.0
    assert math.isnan(evaluate(y, y, np.full((4, 3), np.nan), np.arange(3))["roc_auc"])


@given(st.integers(2, 80), st.lists(st.integers(0, 79), min_size=1, max_size=60))
def test_predictions_round_trip_through_their_encoding(n_classes, indices):
    from medal.analysis.metrics import decode_predictions, encode_predictions

    classes = np.arange(n_classes) * 3  # class values need not be indices
    indices = np.array(indices) % n_classes
    encoded = encode_predictions(classes[indices], classes)
    assert isinstance(encoded, str if n_classes <= 62 else list)
    assert np.array_equal(decode_predictions(encoded), indices)


def test_prediction_encoding_by_hand():
    from medal.analysis.metrics import encode_predictions

    assert encode_predictions(np.array([1, 0, 1, 1]), np.array([0, 1])) == "1011"
    assert encode_predictions(np.array([7, 2, 5]), np.array([2, 5, 7])) == "201"


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
    # Many curves at once, their cycles along an axis: one AULC each, as computed one by one.
    curves = np.array([[[0.0, 1.0, 1.0], [0.5, 0.5, 1.0]], [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]])  # (2, 2, 3)
    assert np.allclose(aulc([0, 10, 20], curves, axis=2), [[0.75, 0.625], [1.0, 0.0]])
    assert aulc([10], np.array([[0.4, 0.6]]), axis=0) == pytest.approx([0.4, 0.6])  # one evaluation: its own value


def test_holm_by_hand():
    # sorted p: 0.01, 0.02, 0.04 -> 3*0.01=0.03, max(0.03, 2*0.02=0.04)=0.04, max(0.04, 1*0.04)=0.04
    from medal.analysis.stats import holm

    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_never_lowers_a_p_value_and_keeps_their_order(p):
    from medal.analysis.stats import holm

    adjusted = holm(p)
    assert all(a >= b - 1e-15 and a <= 1 for a, b in zip(adjusted, p))
    order = np.argsort(p, kind="stable")
    assert all(adjusted[i] <= adjusted[j] + 1e-15 for i, j in zip(order, order[1:]))


def test_paired_wilcoxon():
    from medal.analysis.stats import paired_wilcoxon

    assert paired_wilcoxon([0.5] * 5, [0.5] * 5) == 1.0
    # Ten positive differences with distinct ranks: exact two-sided p = 2 / 2**10.
    assert paired_wilcoxon([0.0] * 10, [0.1 * i for i in range(1, 11)]) == pytest.approx(2 / 1024)


def test_friedman_nemenyi_by_hand():
    from medal.analysis.stats import friedman_nemenyi

    # Column 0 always best, column 2 always worst: average ranks 1, 2, 3.
    scores = np.array([[0.9, 0.8, 0.7], [0.6, 0.5, 0.4], [0.95, 0.9, 0.1], [0.7, 0.6, 0.5]])
    result = friedman_nemenyi(scores)
    assert result["average_ranks"] == [1.0, 2.0, 3.0]
    # Rank sums 4, 8, 12: 12 / (N k (k+1)) * (16 + 64 + 144) - 3 N (k+1) = 56 - 48 = 8.
    assert result["statistic"] == pytest.approx(8.0)
    # Demšar (2006): q_0.05 for k = 3 is 2.343, so CD = 2.343 * sqrt(3*4 / (6*4)).
    assert result["critical_difference"] == pytest.approx(2.343 * math.sqrt(0.5), abs=1e-3)


def test_drops_by_hand():
    from medal.analysis.stats import drops

    # Falls of 0.1 and 0.01 after cycles 1 and 3; only the first exceeds 0.05.
    assert drops([0.5, 0.7, 0.6, 0.8, 0.79], 0.05) == (1, pytest.approx(0.1))
    assert drops([0.5, 0.6], 0.0) == (0, 0.0)


def test_stop_when_stable_needs_a_full_window():
    from medal.analysis.stats import stop_when_stable

    kappas = [None, 0.995, 0.98, 0.999, 1.0, 0.991, 0.5]
    # Window 3 at kappa 0.99: cycles 3, 4, 5 are the first three in a row.
    assert stop_when_stable(kappas, kappa=0.99, window=3) == 5
    assert stop_when_stable(kappas, kappa=0.99, window=1) == 1
    assert stop_when_stable(kappas, kappa=0.99, window=4) is None
    assert stop_when_stable([None], kappa=0.0, window=1) is None


def test_stop_when_confident_is_the_first_cycle_at_or_below_threshold():
    from medal.analysis.stats import stop_when_confident

    assert stop_when_confident([0.3, 0.1, 0.05, 0.2], 0.1) == 1
    assert stop_when_confident([0.3, 0.2], 0.1) is None


def test_agreement_and_expected_error_by_hand():
    from medal.analysis.metrics import agreement, expected_error

    assert agreement(np.array([1, 1, 1]), np.array([1, 1, 1])) == 1.0  # constant and identical: full agreement
    # Observed agreement 3/4; chance agreement 0.5*0.25 + 0.5*0.75 = 0.5; kappa = (0.75 - 0.5) / 0.5 = 0.5.
    assert agreement(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])) == pytest.approx(0.5)
    assert expected_error(np.array([[0.9, 0.1], [0.6, 0.4]])) == pytest.approx(0.25)
    assert expected_error(np.empty((0, 2))) == 0.0


def test_evaluate_reports_recall_per_class():
    y = np.array([0, 0, 1, 1, 1])
    pred = np.array([0, 1, 1, 1, 0])
    scores = evaluate(y, pred, np.full((5, 2), 0.5), np.array([0, 1]))
    assert scores["class_recall"] == pytest.approx([0.5, 2 / 3])


def test_censored_median_by_hand():
    from medal.analysis.stats import censored_median, order_statistic_rank

    # Ten seeds: the 95 % CI is [x_(2), x_(9)] (coverage 1 - 2 * 11/1024 = 0.979).
    assert order_statistic_rank(10) == 2 and order_statistic_rank(5) is None
    none_censored = [40, 10, 30, 20, 50, 60, 70, 80, 90, 100]
    assert censored_median(none_censored) == (55.0, 20.0, 90.0)
    # Three seeds never reach the target: they count as more than every observed value.
    some = [40, 10, None, 20, 50, None, 70, 80, 90, None]
    assert censored_median(some) == (75.0, 20.0, math.inf)
    # Survivorship bias avoided: the mean over reached seeds would be 51.4, below the true median.
    assert censored_median([None] * 10) == (math.inf, math.inf, math.inf)
    # Six seeds of ten censored: the median itself lies beyond the budget.
    assert censored_median([10, 20, 30, 40, None, None, None, None, None, None])[0] == math.inf
    median, low, high = censored_median([10, 20, 30])
    assert median == 20 and math.isnan(low) and math.isnan(high)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(0, 1), min_size=6, max_size=6), min_size=1, max_size=12))
def test_labels_to_target_are_monotone_in_the_target_fraction(curves):
    from medal.analysis.stats import censored_median, labels_to_target

    labels = [10, 20, 30, 40, 50, 60]
    previous = None
    for fraction in (0.5, 0.8, 0.9, 0.95, 0.99):
        needed = [labels_to_target(labels, scores, fraction) for scores in curves]
        result = censored_median(needed)
        if previous is not None:
            assert all(a <= b or (math.isnan(a) and math.isnan(b)) for a, b in zip(previous, result))
        previous = result


def test_paired_t_by_hand():
    from medal.analysis.stats import paired_t

    # Differences 1, 2, 3: mean 2, SD 1, t = 2 / (1 / sqrt 3) = 3.4641 with 2 degrees of freedom.
    p_t, p_normal = paired_t([0, 0, 0], [1, 2, 3])
    assert p_t == pytest.approx(2 * stats.t.sf(2 * np.sqrt(3), 2))
    assert p_normal == pytest.approx(1.0)  # three equally spaced values are as normal as three values get
    assert paired_t([0.5] * 4, [0.5] * 4)[0] == 1.0
    assert paired_t([0.0] * 4, [0.1] * 4)[0] == 0.0


def test_paired_t_has_no_floor_where_wilcoxon_has_one():
    from medal.analysis.stats import paired_t, paired_wilcoxon

    baseline = [0.0] * 10
    other = [0.10, 0.11, 0.12, 0.10, 0.11, 0.12, 0.10, 0.11, 0.12, 0.11]
    assert paired_wilcoxon(baseline, other) == pytest.approx(2 / 1024)  # the smallest p ten pairs can give
    assert paired_t(baseline, other)[0] < 1e-9


def test_tost_by_hand():
    from medal.analysis.stats import tost_paired

    diffs = [0.01, -0.01, 0.0, 0.02, -0.02]  # mean 0, SD 0.0158
    sd = np.std(diffs, ddof=1)
    expected = stats.t.sf(0.05 / (sd / np.sqrt(5)), 4)  # both one-sided tests give the same p at mean 0
    assert tost_paired([0] * 5, diffs, 0.05) == pytest.approx(expected)
    assert tost_paired([0] * 5, diffs, 0.05) < 0.01  # equivalent within 0.05
    assert tost_paired([0] * 5, diffs, 0.001) > 0.4  # not within 0.001
    assert tost_paired([0] * 3, [0.2] * 3, 0.05) == 1.0 and tost_paired([0] * 3, [0.01] * 3, 0.05) == 0.0


def test_equivalence_bound_is_where_the_tost_turns():
    from medal.analysis.stats import equivalence_bound, tost_paired

    diffs = [0.03, 0.01, 0.02, 0.04, 0.0]  # mean 0.02, SD 0.0158, n 5
    se = np.std(diffs, ddof=1) / np.sqrt(5)
    bound = equivalence_bound([0] * 5, diffs, 0.05)
    assert bound == pytest.approx(0.02 + stats.t.ppf(0.95, 4) * se)  # 0.02 + 2.132 * 0.00707 = 0.0351
    # Just outside the bound the TOST shows equivalence at 0.05, just inside it does not.
    assert tost_paired([0] * 5, diffs, bound * 1.001) < 0.05 < tost_paired([0] * 5, diffs, bound * 0.999)
    assert math.isnan(equivalence_bound([0], [0.1], 0.05))


def test_minimum_detectable_effect():
    from medal.analysis.stats import minimum_detectable_effect, paired_t_power

    mde = minimum_detectable_effect(sd=0.02, n=10, alpha=0.05)
    assert paired_t_power(mde, 0.02, 10, 0.05) == pytest.approx(0.8)
    # Large samples: the normal approximation (z_0.975 + z_0.8) * sd / sqrt(n).
    assert minimum_detectable_effect(1.0, 2000, 0.05) == pytest.approx((1.959964 + 0.841621) / np.sqrt(2000), rel=1e-3)
    # A stricter level or fewer pairs need a larger effect.
    assert minimum_detectable_effect(0.02, 10, 0.05 / 14) > mde > minimum_detectable_effect(0.02, 40, 0.05)
    assert np.isnan(minimum_detectable_effect(0.0, 10, 0.05)) and np.isnan(minimum_detectable_effect(0.1, 1, 0.05))


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 4), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_weighted_label_metrics_equal_evaluate_on_the_resampled_images(n_classes, n, seed):
    """Integer weights are how often a resample draws each image: the weighted metric equals :func:`evaluate` on the
    images repeated that often, and unit weights give evaluate's value on the set itself."""
    from medal.analysis.comparisons import weighted_label_metric
    from medal.analysis.metrics import LABEL_METRICS

    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, n)
    predictions = rng.integers(0, n_classes, (3, n))
    weights = np.vstack([np.ones(n, dtype=int), rng.multinomial(n, np.full(n, 1 / n))])
    classes = np.arange(n_classes)
    for metric in LABEL_METRICS:
        got = weighted_label_metric(predictions, y_true, weights, n_classes, metric)
        for row, predicted in enumerate(predictions):
            for column, w in enumerate(weights):
                repeated = np.repeat(np.arange(n), w)
                dummy = np.full((len(repeated), n_classes), 1 / n_classes)
                expected = evaluate(y_true[repeated], predicted[repeated], dummy, classes)[metric]
                assert got[row, column] == pytest.approx(expected, abs=1e-12)


def test_weighted_label_metric_refuses_a_metric_that_needs_probabilities():
    from medal.analysis.comparisons import weighted_label_metric

    with pytest.raises(ValueError, match="roc_auc needs class probabilities"):
        weighted_label_metric(np.zeros((1, 2), dtype=int), np.array([0, 1]), np.ones((1, 2)), 2, "roc_auc")


def test_two_level_bootstrap_ci_by_hand():
    from medal.analysis.stats import two_level_bootstrap_ci

    # Two seeds, two test resamples: resample 0 draws seed 0 twice (differences 1, 1), resample 1 seed 1 twice
    # (4, 4); the means are 1 and 4, whose 2.5th and 97.5th percentiles (linear interpolation) are 1.075 and 3.925.
    differences = np.array([[1.0, 3.0], [2.0, 4.0]])
    seed_draws = np.array([[0, 0], [1, 1]])
    assert two_level_bootstrap_ci(differences, seed_draws) == pytest.approx((1.075, 3.925))
    # A constant difference has a point interval.
    assert two_level_bootstrap_ci(np.full((3, 50), 0.2), np.zeros((50, 3), dtype=int)) == pytest.approx((0.2, 0.2))


def test_test_set_intervals_pair_strategies_on_the_same_resamples():
    from medal.analysis.comparisons import test_set_intervals
    from medal.analysis.metrics import encode_predictions

    y_test = np.array([0, 0, 1, 1, 0, 1])
    classes = np.array([0, 1])

    def runs(predicted_rows):
        return [
            {"cycles": [{"labels": n, "test_predictions": encode_predictions(p, classes)} for n, p in zip((10, 20), r)]}
            for r in predicted_rows
        ]

    right, wrong = y_test, 1 - y_test
    half = np.where(np.arange(6) < 3, y_test, 1 - y_test)
    study = {
        "random": runs([[wrong, wrong], [wrong, half]]),
        "same": runs([[wrong, wrong], [wrong, half]]),
        "oracle": runs([[right, right], [right, right]]),
    }
    intervals = test_set_intervals(study, y_test, 2, "accuracy", 300, np.random.default_rng(0))
    assert intervals["same"] == (0.0, 0.0)  # identical predictions: every resample gives a zero difference
    # Always right (AULC 1) against random's seed 0, always wrong (0), and seed 1, wrong at 10 labels and right on
    # half the images at 20: on a resample its accuracy there lies in [0, 1], so its AULC in [0, 0.5]. Differences
    # lie in [0.5, 1]; a quarter of the resamples draw seed 0 twice, a mean difference of exactly 1.
    low, high = intervals["oracle"]
    assert 0.5 <= low < high == 1.0
    assert test_set_intervals(study, y_test, 2, "macro_f1", 300, np.random.default_rng(0)) != {}


def test_test_set_intervals_of_roc_auc_come_from_the_stored_scores():
    from medal.analysis.comparisons import test_set_intervals
    from medal.analysis.metrics import encode_scores

    y_test = np.array([0, 0, 1, 1, 0, 1])

    def runs(score_rows):
        return [
            {
                "cycles": [
                    {"labels": n, "test_scores": encode_scores(np.column_stack([1 - p, p]))}
                    for n, p in zip((10, 20), r)
                ]
            }
            for r in score_rows
        ]

    perfect = y_test * 0.8 + 0.1  # every positive above every negative: AUC 1 on any resample with both classes
    reversed_ = 1 - perfect  # AUC 0
    study = {"random": runs([[reversed_, reversed_]] * 2), "same": runs([[reversed_, reversed_]] * 2)}
    study["ranker"] = runs([[perfect, perfect]] * 2)
    intervals = test_set_intervals(study, y_test, 2, "roc_auc", 300, np.random.default_rng(0))
    assert intervals["same"] == (0.0, 0.0)
    assert intervals["ranker"] == (1.0, 1.0)  # AULC 1 against 0 on every resample


def test_test_set_intervals_do_not_depend_on_the_processes():
    from medal.analysis.comparisons import test_set_intervals
    from medal.analysis.metrics import encode_scores

    rng = np.random.default_rng(3)
    y_test = rng.integers(0, 3, 40)

    def runs():
        return [
            {"cycles": [{"labels": n, "test_scores": encode_scores(rng.dirichlet(np.ones(3), 40))} for n in (10, 20)]}
            for _ in range(3)
        ]

    study = {"random": runs(), "entropy": runs(), "margin": runs()}
    one, two = (test_set_intervals(study, y_test, 3, "roc_auc", 200, np.random.default_rng(0), n) for n in (1, 2))
    assert one == two and set(one) == {"entropy", "margin"}


@given(
    st.integers(2, 11).flatmap(
        lambda k: st.tuples(
            st.just(k), st.lists(st.integers(0, k - 1), min_size=2 * k, max_size=60), st.integers(0, 99)
        )
    )
)
@settings(max_examples=40, deadline=None)
def test_weighted_roc_auc_equals_roc_auc_on_the_resampled_test_set(case):
    """Weights that count how often a resample draws each image give the AUC of the resampled set, ties half,
    for 2 to 11 classes; unit weights give the AUC of the scores as stored (float32)."""
    from medal.analysis.comparisons import weighted_roc_auc
    from medal.analysis.metrics import decode_scores, encode_scores, roc_auc

    k, labels, seed = case
    rng = np.random.default_rng(seed)
    y = np.array(labels)
    proba = rng.dirichlet(np.ones(k), len(y))
    proba[: len(y) // 3] = proba[len(y) // 3 : 2 * (len(y) // 3)]  # tied scores
    stored = decode_scores(encode_scores(proba), len(y))
    as_stored = np.column_stack([1 - stored[:, 0], stored[:, 0]]) if k == 2 else stored
    counts = rng.multinomial(len(y), np.full(len(y), 1 / len(y)), size=3)
    by_sample = np.vstack([np.ones(len(y), dtype=int), counts]).T  # (samples, weightings)
    got = weighted_roc_auc(stored, y, by_sample, k)
    # integer counts are summed exactly: float weights of the same values give the same numbers
    assert np.array_equal(got, weighted_roc_auc(stored, y, by_sample.astype(float), k), equal_nan=True)
    assert got[0] == pytest.approx(roc_auc(y, as_stored, np.arange(k)), nan_ok=True)
    for weights, value in zip(counts, got[1:]):
        drawn = np.repeat(np.arange(len(y)), weights)
        assert value == pytest.approx(roc_auc(y[drawn], as_stored[drawn], np.arange(k)), nan_ok=True)


def test_bayesian_signed_rank_by_hand():
    from medal.analysis.stats import bayesian_signed_rank

    # One difference far above the region, the prior's pseudo-observation at zero with weight s: the weights are
    # Dirichlet(s, 1), the pair (0, 0) lies in the region (mass w0^2) and every other pair above it (1 - w0^2), so
    # "above" wins when w0 < 1/sqrt(2): probability 2^(-s/2), as w0 ~ Beta(s, 1).
    for strength in (1.0, 0.5):
        result = bayesian_signed_rank([1.0], 0.01, strength, 400_000, np.random.default_rng(0))
        assert result["above"] == pytest.approx(2 ** (-strength / 2), abs=0.004)
        assert result["below"] == 0.0 and result["within"] == pytest.approx(1 - result["above"])
    # Differences inside the region: equivalence; mirrored differences: the mirrored posterior.
    assert bayesian_signed_rank([0.001, -0.002, 0.0], 0.01, 1.0, 5000, np.random.default_rng(1))["within"] == 1.0
    # Zero standard errors change nothing; large ones move mass out of the region.
    exact = bayesian_signed_rank([0.001, -0.002, 0.0], 0.01, 1.0, 5000, np.random.default_rng(1), [0.0] * 3)
    assert exact["within"] == 1.0
    noisy = bayesian_signed_rank([0.001, -0.002, 0.0], 0.01, 1.0, 5000, np.random.default_rng(1), [0.05] * 3)
    assert noisy["within"] < 0.9 and noisy["above"] > 0.0 and noisy["below"] > 0.0
    up = bayesian_signed_rank([0.05, 0.1, 0.2], 0.01, 1.0, 5000, np.random.default_rng(2))
    down = bayesian_signed_rank([-0.05, -0.1, -0.2], 0.01, 1.0, 5000, np.random.default_rng(2))
    assert up["above"] == down["below"] and up["below"] == down["above"]


def test_across_datasets_decides_only_with_enough_posterior(params):
    from medal.analysis.comparisons import across_datasets

    params["evaluation"]["across_datasets"] = {
        "probability": 0.95,
        "samples": 20000,
        "prior_strength": 1.0,
        "random_state": 0,
    }
    params["evaluation"]["minimal_important_difference"]["aulc"] = 0.01
    datasets = [f"d{i}" for i in range(6)]

    def row(dataset, strategy, value):
        return {"dataset": dataset, "learner": "lr", "strategy": strategy, "aulc": value}

    summary = [row(d, "random", 0.8) for d in datasets]
    summary += [row(d, "ahead", 0.9) for d in datasets]  # far above the region on every dataset
    summary += [row(d, "same", 0.8 + (0.002 if i % 2 else -0.002)) for i, d in enumerate(datasets)]
    summary += [row(d, "mixed", 0.9 if i % 2 else 0.7) for i, d in enumerate(datasets)]
    result = across_datasets("lr", ["random", "ahead", "same", "mixed"], datasets, summary, params["evaluation"])
    decisions = {s: r["decision"] for s, r in result["strategies"].items()}
    assert decisions == {"ahead": "above random", "same": "equivalent", "mixed": "undecided"}
    assert result["strategies"]["ahead"]["differences"] == pytest.approx([0.1] * 6)
    assert result["best_case"]["above"] > 0.99 and result["friedman"]["blocks"] == 6
    # Two datasets: even a strategy far ahead on both cannot reach the probability, so no verdict at all, not even
    # equivalence for differences well inside the region.
    two = across_datasets("lr", ["random", "ahead", "same"], datasets[:2], summary, params["evaluation"])
    assert two["best_case"]["above"] < 0.95
    assert {r["decision"] for r in two["strategies"].values()} == {"too few sets"}
    # Differences inside the region but measured with noise (a test-resampling interval of ±0.02): not equivalent.
    noisy = [r | {"difference_test_low": -0.02, "difference_test_high": 0.02} for r in summary]
    result = across_datasets("lr", ["random", "same"], datasets, noisy, params["evaluation"])["strategies"]["same"]
    assert result["decision"] == "undecided" and result["within"] < 0.95
    assert result["standard_errors"] == pytest.approx([0.04 / 3.919928] * 6, rel=1e-5)
    assert across_datasets("lr", ["random"], [], summary, params["evaluation"])["strategies"] == {}
