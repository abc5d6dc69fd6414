"""The pool-based active-learning loop with a simulated oracle that reveals the true label."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medal.analysis.metrics import agreement, encode_predictions, encode_scores, evaluate, expected_error
from medal.design import label_sizes
from medal.errors import UserError
from medal.experiment.learners import Learner
from medal.experiment.strategies import Strategy


@dataclass(frozen=True)
class Protocol:
    """One active-learning run's settings: initial labelled set, batch per cycle, total label budget,
    the fraction of pool labels the simulated oracle gets wrong, and the most unlabelled images a query is
    shown (a seeded random subset when more remain; None: all of them)."""

    initial_labels: int
    batch_size: int
    budget: int
    label_noise: float = 0.0
    max_candidates: int | None = None

    @classmethod
    def from_params(cls, al: Mapping[str, Any], n_classes: int) -> Protocol:
        """The protocol ``al`` sets for a dataset of ``n_classes`` classes (:func:`~medal.design.label_sizes`)."""
        return cls(
            **label_sizes(al, n_classes),
            label_noise=al.get("label_noise", 0.0),
            max_candidates=al.get("max_candidates"),
        )

    @classmethod
    def for_pool(cls, al: Mapping[str, Any], y_pool: np.ndarray) -> Protocol:
        """The protocol ``al`` sets for the dataset whose pool labels are ``y_pool`` (:meth:`from_params`)."""
        return cls.from_params(al, len(np.unique(y_pool)))

    def check_fits(self, dataset: str, y_pool: np.ndarray) -> None:
        """Refuse, before any run computes, a protocol that does not fit ``dataset``'s pool: a budget beyond the pool,
        or an initial set too small to hold one image of each class."""
        pool = len(y_pool)
        if self.budget > pool:
            raise UserError(
                f"params.yaml: al.budget gives {dataset} {self.budget} labels, more than its pool of {pool} samples; "
                "lower al.budget"
                + (
                    " (with al.scale_with_classes: true, k/2 times it on k classes)"
                    if len(np.unique(y_pool)) > 2
                    else ""
                )
            )
        _check_initial_set(self.initial_labels, len(np.unique(y_pool)), dataset)

    def label_counts(self, pool_size: int) -> list[int]:
        """Labels used at each evaluation: the initial set, then one batch more each cycle, capped by budget and
        pool."""
        cap = min(self.budget, pool_size)
        counts = [self.initial_labels]
        while counts[-1] < cap:
            counts.append(min(counts[-1] + self.batch_size, cap))
        return counts


@dataclass
class RunResult:
    """Per-cycle outcome of one run: deterministic scores and queries, and wall-clock timings kept apart."""

    cycles: list[dict[str, Any]] = field(default_factory=list)
    timings: list[dict[str, float]] = field(default_factory=list)


def _check_initial_set(size: int, n_classes: int, dataset: str) -> None:
    if size < n_classes:
        raise UserError(
            f"params.yaml: initial labelled set of {size} cannot hold one sample of each of the {n_classes} classes "
            f"of {dataset}; raise al.initial_labels (and sweeps.settings.initial_labels) to at least {n_classes}"
        )


def initial_indices(y: np.ndarray, size: int, rng: np.random.Generator, dataset: str = "the pool") -> np.ndarray:
    """A random initial set of ``size`` pool indices that holds at least one sample of every class."""
    classes = np.unique(y)
    _check_initial_set(size, len(classes), dataset)
    one_per_class = np.array([rng.choice(np.flatnonzero(y == c)) for c in classes])
    rest = np.setdiff1d(np.arange(len(y)), one_per_class)
    extra = rng.choice(rest, size - len(classes), replace=False)
    return np.sort(np.concatenate([one_per_class, extra]))


def noisy_oracle(y: np.ndarray, fraction: float, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """The labels an oracle gives: a random ``fraction`` of the pool gets a wrong class, drawn uniformly from the
    others."""
    answers = y.copy()
    flipped = rng.choice(len(y), int(round(fraction * len(y))), replace=False)
    answers[flipped] = (y[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes
    return answers


def score_cycle(
    clf: Any,
    X_pool: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    classes: np.ndarray,
    y_known: np.ndarray,
    previous_predictions: np.ndarray | None,
) -> tuple[dict[str, Any], np.ndarray]:
    """The learner's test scores after an update, its test predictions and class probabilities (encoded, for
    resampling the test set later), and the two label-free stopping signals: agreement of its pool predictions
    with the previous cycle's (None on the first) and its expected error on the unlabelled pool. Also returns
    the pool predictions, for the next cycle's agreement."""
    test_predictions = clf.predict(X_test)
    test_proba = clf.predict_proba(X_test)
    scores = evaluate(y_test, test_predictions, test_proba, classes)
    pool_proba = clf.predict_proba(X_pool)
    pool_predictions = classes[pool_proba.argmax(axis=1)]
    kappa = None if previous_predictions is None else agreement(previous_predictions, pool_predictions)
    signals = {"kappa_previous": kappa, "expected_error": expected_error(pool_proba[np.isnan(y_known)])}
    stored = {
        "test_predictions": encode_predictions(test_predictions, classes),
        "test_scores": encode_scores(test_proba),
    }
    return {**scores, **signals, **stored}, pool_predictions


def run_active_learning(
    X_pool: np.ndarray,
    y_pool: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    learner: Learner,
    strategy: Strategy,
    protocol: Protocol,
    seed: int,
) -> RunResult:
    """Run one seed: label an initial set, then query, reveal and update until the budget is spent.

    After every update the learner is scored on the fixed test set and the stopping signals are
    recorded (:func:`score_cycle`). The seed fixes the initial set, the oracle's errors and the
    learner's and strategy's randomness.
    """
    classes = np.unique(np.concatenate([y_pool, y_test]))
    rng = np.random.default_rng(seed)
    oracle = y_pool
    if protocol.label_noise > 0:  # its own stream: the noise level does not change the initial set
        oracle = noisy_oracle(y_pool, protocol.label_noise, len(classes), np.random.default_rng([seed, 1]))
    y_known = np.full(len(y_pool), np.nan)
    new = initial_indices(y_pool, protocol.initial_labels, rng)
    clf = learner.make(classes, random_state=seed)
    result = RunResult()
    counts = protocol.label_counts(len(y_pool))
    previous_predictions = None
    for cycle, n_labels in enumerate(counts):
        y_known[new] = oracle[new]
        start = time.perf_counter()
        learner.update(clf, X_pool, y_known, new)
        fit_seconds = time.perf_counter() - start
        scores, previous_predictions = score_cycle(clf, X_pool, X_test, y_test, classes, y_known, previous_predictions)
        result.cycles.append(
            {
                "cycle": cycle,
                "labels": n_labels,
                **scores,
                "wrong_labels": int(np.sum(oracle[new] != y_pool[new])),
                "queried": [int(i) for i in new],
            }
        )
        query_seconds = 0.0
        if cycle + 1 < len(counts):
            start = time.perf_counter()
            new = np.asarray(strategy.query(X_pool, y_known, clf, counts[cycle + 1] - n_labels))
            query_seconds = time.perf_counter() - start
        result.timings.append({"labels": n_labels, "fit_seconds": fit_seconds, "query_seconds": query_seconds})
    return result
