"""The pool-based active-learning loop with a simulated oracle that reveals the true label."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medal.errors import UserError
from medal.learners import Learner
from medal.metrics import evaluate
from medal.strategies import Strategy


@dataclass
class Protocol:
    """Sizes of one active-learning run: initial labelled set, batch per cycle, total label budget."""

    initial_labels: int
    batch_size: int
    budget: int

    @classmethod
    def from_params(cls, al: dict[str, Any]) -> "Protocol":
        return cls(al["initial_labels"], al["batch_size"], al["budget"])

    def label_counts(self, pool_size: int) -> list[int]:
        """Labels used at each evaluation: the initial set, then one batch more each cycle, capped by budget and pool."""
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


def initial_indices(y: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random initial set of ``size`` pool indices that holds at least one sample of every class."""
    classes = np.unique(y)
    if size < len(classes):
        raise UserError(f"params.yaml: al.initial_labels={size} cannot hold all {len(classes)} classes; raise it")
    one_per_class = np.array([rng.choice(np.flatnonzero(y == c)) for c in classes])
    rest = np.setdiff1d(np.arange(len(y)), one_per_class)
    extra = rng.choice(rest, size - len(classes), replace=False)
    return np.sort(np.concatenate([one_per_class, extra]))


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

    After every update the learner is scored on the fixed test set. The seed fixes the initial
    set and the learner's and strategy's randomness.
    """
    classes = np.unique(np.concatenate([y_pool, y_test]))
    rng = np.random.default_rng(seed)
    y_known = np.full(len(y_pool), np.nan)
    new = initial_indices(y_pool, protocol.initial_labels, rng)
    clf = learner.make(classes, random_state=seed)
    result = RunResult()
    counts = protocol.label_counts(len(y_pool))
    for cycle, n_labels in enumerate(counts):
        y_known[new] = y_pool[new]  # the simulated oracle
        start = time.perf_counter()
        learner.update(clf, X_pool, y_known, new)
        fit_seconds = time.perf_counter() - start
        scores = evaluate(y_test, clf.predict(X_test), clf.predict_proba(X_test), classes)
        record = {"cycle": cycle, "labels": n_labels, **scores, "queried": [int(i) for i in new]}
        result.cycles.append(record)
        query_seconds = 0.0
        if cycle + 1 < len(counts):
            start = time.perf_counter()
            new = np.asarray(strategy.query(X_pool, y_known, clf, counts[cycle + 1] - n_labels))
            query_seconds = time.perf_counter() - start
        result.timings.append({"labels": n_labels, "fit_seconds": fit_seconds, "query_seconds": query_seconds})
    return result
