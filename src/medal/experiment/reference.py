"""Reference scores: every learner trained on the whole labelled pool, the ceiling active learning aims for, on
the study's features and on each representation the sweep compares."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning

from medal.analysis.metrics import evaluate
from medal.blas import one_thread
from medal.data.prepare import feature_sets
from medal.errors import UserError
from medal.experiment.learners import Learner
from medal.fileio import write_json_atomic
from medal.study import Study, plain

# The name of the study's own features among the representations.
PREPARED = "prepared"


def score_whole_pool(data: dict[str, np.ndarray], name: str, spec: dict[str, Any], seed: int) -> dict[str, Any]:
    """Test scores of one learner fitted on every pool label with one seed."""
    classes = np.unique(np.concatenate([data["y_pool"], data["y_test"]]))
    learner = Learner.from_params(name, spec)
    # As in the runs: one thread per process, and an iterative learner stopping at its iteration limit is
    # part of its settings.
    with one_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = learner.fit_full(data["X_pool"], data["y_pool"], classes, random_state=seed)
        return {
            "seed": seed,
            **evaluate(data["y_test"], clf.predict(data["X_test"]), clf.predict_proba(data["X_test"]), classes),
        }


def _scored(data: dict[str, np.ndarray], dataset: str, name: str, spec: dict[str, Any], seed: int) -> dict[str, Any]:
    try:
        return score_whole_pool(data, name, spec, seed)
    except UserError as exc:
        raise UserError(f"{dataset}, {name}, seed {seed}: {exc}") from None


def reference_seeds(study: Study, learner: str, dataset: str, prepared: bool) -> int:
    """Seeds of a learner's whole-pool fits on ``dataset``: the main experiments' on the study's features, where the
    fits set the targets; at most ``sweeps.reference_seeds`` on another representation, which only the
    representation table reads (a whole-pool fit varies little with its seed)."""
    seeds = study.seeds_for(learner, dataset)
    return seeds if prepared else min(seeds, study.sweeps["reference_seeds"])


def run_reference(study: Study, dataset: str, raw: Path, prepared: Path, out: Path) -> None:
    """Score each learner the study runs on ``dataset`` fitted on the whole pool, once per seed, on the prepared
    features and, for a sweep dataset, on every swept representation (a representation equal to the prepared one is
    not recomputed; see :func:`reference_seeds` for the seeds)."""
    representations = {PREPARED: study.feature_spec(dataset)}
    if dataset in study.sweeps["datasets"]:
        representations |= plain(study.sweeps["settings"]["representation"])
    own = study.feature_spec(dataset)
    distinct = {name: spec for name, spec in representations.items() if name == PREPARED or spec != own}
    data = feature_sets(distinct, own, raw, prepared, study.max_test_images)
    learners = study.learners_on(dataset)
    # Learners whose whole-pool fit is the same (they differ only in how they update) are fitted once per seed.
    fits = {name: Learner.from_params(name, study.learner_spec(name, dataset)).whole_pool_fit() for name in learners}
    jobs = [
        (rep, name, seed)
        for rep in distinct
        for name in learners
        for seed in range(reference_seeds(study, name, dataset, rep == PREPARED))
    ]
    first = {}
    for rep, name, seed in jobs:
        first.setdefault((rep, fits[name], seed), (rep, name, seed))
    unique = list(first.values())
    scores = Parallel(n_jobs=study.n_jobs)(
        delayed(_scored)(data[rep], dataset, name, study.learner_spec(name, dataset), seed)
        for rep, name, seed in unique
    )
    computed = dict(zip(unique, scores))
    by_rep: dict[str, dict[str, list[dict[str, Any]]]] = {rep: {name: [] for name in learners} for rep in distinct}
    for rep, name, seed in jobs:
        by_rep[rep][name].append(computed[first[(rep, fits[name], seed)]])
    same = {name: PREPARED if name not in distinct else name for name in representations}
    write_json_atomic(
        out,
        {
            "dataset": dataset,
            "pool_size": int(len(data[PREPARED]["y_pool"])),
            "learners": by_rep[PREPARED],
            "representations": {
                name: {"settings": representations[name], "learners": by_rep[same[name]]}
                for name in representations
                if name != PREPARED
            },
        },
    )
