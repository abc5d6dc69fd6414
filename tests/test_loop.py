import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from medal.errors import UserError
from medal.experiment.learners import Learner
from medal.experiment.loop import Protocol, initial_indices, run_active_learning
from medal.experiment.strategies import Strategy


@given(initial=st.integers(1, 50), batch=st.integers(1, 30), extra=st.integers(0, 200), pool=st.integers(1, 400))
def test_label_counts_grow_by_batches_and_stop_at_the_cap(initial, batch, extra, pool):
    protocol = Protocol(initial, batch, initial + extra)
    counts = protocol.label_counts(max(pool, initial))
    cap = min(initial + extra, max(pool, initial))
    assert counts[0] == initial and counts[-1] == cap
    assert all(0 < b - a <= batch for a, b in zip(counts, counts[1:]))


@settings(max_examples=50)
@given(seed=st.integers(0, 10_000), size=st.integers(3, 40), minority=st.integers(1, 5))
def test_initial_set_holds_every_class(seed, size, minority):
    y = np.array([0] * minority + [1] * 50 + [2] * 7)
    idx = initial_indices(y, size, np.random.default_rng(seed))
    assert len(idx) == len(set(idx)) == size
    assert set(y[idx]) == {0, 1, 2}


def test_initial_set_too_small_for_the_classes():
    with pytest.raises(UserError, match="initial labelled set of 1 cannot hold one sample of each of the 2 classes"):
        initial_indices(np.array([0, 1, 1]), 1, np.random.default_rng(0))


def test_a_protocol_that_does_not_fit_the_pool_is_refused_before_any_run():
    y = np.array([0, 1, 2] * 4)
    Protocol(initial_labels=3, batch_size=2, budget=12).check_fits("tiny", y)
    with pytest.raises(
        UserError, match=r"al.budget gives tiny 13 labels, more than its pool of 12 samples; lower al.budget"
    ):
        Protocol(initial_labels=3, batch_size=2, budget=13).check_fits("tiny", y)
    with pytest.raises(
        UserError, match="initial labelled set of 2 cannot hold one sample of each of the 3 classes of tiny"
    ):
        Protocol(initial_labels=2, batch_size=2, budget=12).check_fits("tiny", y)


@pytest.mark.parametrize(
    "learner", [Learner("lr", "logistic_regression", "fit"), Learner("sgd", "sgd_log_loss", "partial_fit")]
)
def test_run_queries_each_sample_once_and_records_every_cycle(blobs, learner):
    protocol = Protocol(initial_labels=4, batch_size=5, budget=30)
    result = run_active_learning(*blobs.values(), learner, Strategy("e", "entropy", 0), protocol, seed=1)
    assert [c["labels"] for c in result.cycles] == [4, 9, 14, 19, 24, 29, 30]
    queried = [i for c in result.cycles for i in c["queried"]]
    assert len(queried) == len(set(queried)) == 30
    assert [len(c["queried"]) for c in result.cycles] == [4, 5, 5, 5, 5, 5, 1]
    assert set(result.cycles[-1]) >= {"accuracy", "balanced_accuracy", "macro_f1", "roc_auc"}
    assert len(result.timings) == len(result.cycles)
    assert result.cycles[-1]["accuracy"] > 0.8  # separable blobs; one SGD pass per batch learns less than a refit


def test_each_cycle_stores_the_test_predictions_its_scores_come_from(blobs):
    from medal.analysis.metrics import decode_predictions, evaluate

    protocol = Protocol(initial_labels=4, batch_size=5, budget=20)
    learner = Learner("lr", "logistic_regression", "fit")
    result = run_active_learning(*blobs.values(), learner, Strategy("e", "entropy", 0), protocol, seed=1)
    classes = np.array([0, 1])
    for cycle in result.cycles:
        predicted = classes[decode_predictions(cycle["test_predictions"])]
        assert len(predicted) == len(blobs["y_test"])
        scores = evaluate(blobs["y_test"], predicted, np.full((len(predicted), 2), 0.5), classes)
        assert scores["balanced_accuracy"] == cycle["balanced_accuracy"] and scores["accuracy"] == cycle["accuracy"]


def test_same_seed_gives_identical_results(blobs):
    protocol = Protocol(4, 5, 30)
    learner = Learner("sgd", "sgd_log_loss", "partial_fit")
    runs = [
        run_active_learning(*blobs.values(), learner, Strategy("r", "random", 2), protocol, seed=2).cycles
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    other = run_active_learning(*blobs.values(), learner, Strategy("r", "random", 3), protocol, seed=3).cycles
    assert other != runs[0]


@settings(max_examples=30)
@given(seed=st.integers(0, 1000), fraction=st.sampled_from([0.0, 0.1, 0.25, 0.5]), n_classes=st.integers(2, 4))
def test_noisy_oracle_flips_exactly_the_fraction_to_other_classes(seed, fraction, n_classes):
    from medal.experiment.loop import noisy_oracle

    y = np.arange(40) % n_classes
    answers = noisy_oracle(y, fraction, n_classes, np.random.default_rng(seed))
    assert np.sum(answers != y) == round(fraction * 40)
    assert answers.min() >= 0 and answers.max() < n_classes


def test_label_noise_reaches_the_learner_but_not_the_initial_set(blobs):
    learner = Learner("lr", "logistic_regression", "fit")
    clean = run_active_learning(*blobs.values(), learner, Strategy("r", "random", 0), Protocol(4, 5, 30), seed=0).cycles
    noisy = run_active_learning(
        *blobs.values(), learner, Strategy("r", "random", 0), Protocol(4, 5, 30, 0.5), seed=0
    ).cycles
    assert clean[0]["queried"] == noisy[0]["queried"]  # the noise level does not move the initial set
    assert sum(c["wrong_labels"] for c in clean) == 0
    assert sum(c["wrong_labels"] for c in noisy) > 0


def test_stopping_signals_are_recorded_every_cycle(blobs):
    result = run_active_learning(
        *blobs.values(),
        Learner("lr", "logistic_regression", "fit"),
        Strategy("e", "entropy", 0),
        Protocol(4, 5, 30),
        seed=1,
    )
    assert result.cycles[0]["kappa_previous"] is None
    assert all(-1 <= c["kappa_previous"] <= 1 for c in result.cycles[1:])
    assert all(0 <= c["expected_error"] <= 0.5 for c in result.cycles)  # two classes: 1 - max p is at most 1/2


@pytest.fixture
def three_blobs() -> dict[str, np.ndarray]:
    """A separable three-class problem split into pool and test."""
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], 50)
    X = rng.normal(size=(150, 4)) + np.eye(3, 4)[y] * 4
    order = rng.permutation(150)
    X, y = X[order], y[order]
    return {"X_pool": X[:100], "y_pool": y[:100], "X_test": X[100:], "y_test": y[100:]}


def _three_class_run(three_blobs, params, learner: str, strategy: str) -> dict:
    protocol = Protocol(initial_labels=6, batch_size=6, budget=18)
    query = Strategy.from_params(strategy, params["strategies"][strategy], random_state=0)
    model = Learner.from_params(learner, params["learners"][learner])
    with threadpool_limits(limits=1):  # as the runner runs them
        last = run_active_learning(*three_blobs.values(), model, query, protocol, seed=2).cycles[-1]
    assert last["labels"] == 18 and len(last["class_recall"]) == 3, (learner, strategy)
    assert np.isfinite(last["roc_auc"]) and last["balanced_accuracy"] > 0.5, (learner, strategy, last)
    return last


def test_every_learner_of_the_study_runs_on_three_classes(three_blobs, params):
    for learner in params["study"]["learners"]:
        _three_class_run(three_blobs, params, learner, "entropy")


def test_every_strategy_of_the_study_runs_on_three_classes_or_refuses_them(three_blobs, params):
    for strategy in params["study"]["strategies"]:
        spec = params["strategies"][strategy]
        if spec.get("method") == "epistemic_uncertainty":  # defined for two classes (strategies.BINARY_ONLY)
            with pytest.raises(UserError, match="is defined for two classes and this dataset has 3"):
                _three_class_run(three_blobs, params, params["study"]["main_learner"], strategy)
            continue
        _three_class_run(three_blobs, params, params["study"]["main_learner"], strategy)


@pytest.mark.parametrize(
    ("n_classes", "expected"), [(2, (10, 10, 250)), (3, (15, 15, 375)), (5, (25, 25, 625)), (11, (55, 55, 1375))]
)
def test_the_sizes_are_those_of_two_classes_scaled_to_the_dataset(n_classes, expected):
    al = {"initial_labels": 10, "batch_size": 10, "budget": 250, "scale_with_classes": True}
    protocol = Protocol.from_params(al, n_classes)
    assert (protocol.initial_labels, protocol.batch_size, protocol.budget) == expected
    assert len(protocol.label_counts(10**5)) == 25  # as many cycles as with two classes
    fixed = Protocol.from_params({**al, "scale_with_classes": False}, n_classes)
    assert (fixed.initial_labels, fixed.batch_size, fixed.budget) == (10, 10, 250)


@given(st.integers(2, 30), st.integers(1, 50), st.integers(1, 50), st.integers(0, 500))
def test_scaled_sizes_give_each_class_at_least_what_two_classes_get(n_classes, initial, batch, extra):
    al = {"initial_labels": initial, "batch_size": batch, "budget": initial + extra, "scale_with_classes": True}
    protocol = Protocol.from_params(al, n_classes)
    for key in ("initial_labels", "batch_size", "budget"):
        assert al[key] * n_classes / 2 <= getattr(protocol, key) < al[key] * n_classes / 2 + 1
    assert protocol.budget >= protocol.initial_labels


def test_a_pools_protocol_counts_the_classes_the_pool_holds():
    al = {"initial_labels": 4, "batch_size": 2, "budget": 12, "scale_with_classes": True}
    assert Protocol.for_pool(al, np.arange(33) % 11).budget == 66
    assert Protocol.for_pool(al, np.array([0, 1, 2] * 4)).initial_labels == 6
