"""Loop overhead: one study run against a minimal scikit-activeml loop doing the same work (checked to query the
same samples). The same work includes what the study records each cycle besides the query: the test scores from
predictions and class probabilities, and the class probabilities on the pool its two label-free stopping signals
read."""

from __future__ import annotations

import time
from statistics import median
from typing import Any

import numpy as np
from benchmarks.common import TARGETS, log, met, study_data
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from medal.experiment.learners import Learner
from medal.experiment.loop import Protocol, initial_indices, run_active_learning
from medal.experiment.strategies import Strategy


def minimal_loop(
    data: dict[str, np.ndarray], protocol: Protocol, seed: int, logreg_params: dict[str, Any]
) -> np.ndarray:
    """The same work written directly against scikit-activeml: fit, score the test set (balanced accuracy and
    ROC-AUC), predict the pool's class probabilities, query; the labelled indices at the end. ``logreg_params``: the
    study's logistic-regression parameters."""
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import UncertaintySampling
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    X, y_true = data["X_pool"], data["y_pool"]
    classes = np.unique(np.concatenate([y_true, data["y_test"]]))
    clf = SklearnClassifier(LogisticRegression(**logreg_params, random_state=seed), classes=classes, random_state=seed)
    query = UncertaintySampling(method="entropy", random_state=seed)
    y = np.full(len(X), np.nan)
    new = initial_indices(y_true, protocol.initial_labels, np.random.default_rng(seed))
    counts = protocol.label_counts(len(X))
    for cycle, n_labels in enumerate(counts):
        y[new] = y_true[new]
        clf.fit(X, y)
        balanced_accuracy_score(data["y_test"], clf.predict(data["X_test"]))
        roc_auc_score(data["y_test"], clf.predict_proba(data["X_test"])[:, 1])
        clf.predict_proba(X)
        if cycle + 1 < len(counts):
            new = query.query(X, y, clf=clf, fit_clf=False, batch_size=counts[cycle + 1] - n_labels)
    return np.flatnonzero(~np.isnan(y))


def loop_overhead(params: dict[str, Any], repeats: int) -> dict[str, Any]:
    name, data = study_data()
    protocol = Protocol.for_pool(params["al"], data["y_pool"])
    ours, minimal = [], []
    with threadpool_limits(1):
        for repeat in range(repeats):  # interleaved, so that drifts of the machine hit both alike
            start = time.perf_counter()
            result = run_active_learning(
                data["X_pool"],
                data["y_pool"],
                data["X_test"],
                data["y_test"],
                Learner.from_params("logreg", params["learners"]["logreg"]),
                Strategy.from_params("entropy", params["strategies"]["entropy"], random_state=repeat),
                protocol,
                repeat,
            )
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            spec = params["learners"]["logreg"]
            weighting = {"class_weight": "balanced"} if spec.get("class_weight") == "balanced" else {}
            labelled = minimal_loop(data, protocol, repeat, {**(spec.get("params") or {}), **weighting})
            minimal.append(time.perf_counter() - start)
            queried = np.sort(np.concatenate([c["queried"] for c in result.cycles]))
            if not np.array_equal(queried, labelled):
                raise RuntimeError("the minimal loop queried other samples: it does not do the same work")
    ratio = median(ours) / median(minimal)
    log(
        f"loop overhead on {name}: ours {median(ours):.3f} s, minimal {median(minimal):.3f} s per run, ratio "
        f"{ratio:.3f}"
    )
    return {
        "data": name,
        "runs": repeats,
        "ours_seconds": median(ours),
        "minimal_seconds": median(minimal),
        "ratio": ratio,
        "target": TARGETS["loop_overhead_max_ratio"],
        "met": ratio <= TARGETS["loop_overhead_max_ratio"],
    }


def run(params: dict[str, Any], quick: bool) -> dict[str, Any]:
    return loop_overhead(params, repeats=1 if quick else 5)


def markdown(r: dict[str, Any]) -> list[str]:
    return [
        f"- Loop overhead ({r['data']}): {r['ratio']:.3f}x a minimal scikit-activeml loop "
        f"({r['ours_seconds']:.3f} s vs {r['minimal_seconds']:.3f} s per run); target <= {r['target']}: {met(r)}"
    ]
