import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from medal.errors import UserError
from medal.learners import Learner
from medal.loop import Protocol, initial_indices, run_active_learning
from medal.strategies import Strategy


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
    with pytest.raises(UserError, match="al.initial_labels=1 cannot hold all 2 classes; raise it"):
        initial_indices(np.array([0, 1, 1]), 1, np.random.default_rng(0))


@pytest.mark.parametrize("learner", [Learner("lr", "logistic_regression", "fit"), Learner("sgd", "sgd_log_loss", "partial_fit")])
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


def test_same_seed_gives_identical_results(blobs):
    protocol = Protocol(4, 5, 30)
    learner = Learner("sgd", "sgd_log_loss", "partial_fit")
    runs = [run_active_learning(*blobs.values(), learner, Strategy("r", "random", 2), protocol, seed=2).cycles for _ in range(2)]
    assert runs[0] == runs[1]
    other = run_active_learning(*blobs.values(), learner, Strategy("r", "random", 3), protocol, seed=3).cycles
    assert other != runs[0]
