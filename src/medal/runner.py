"""Runs the experiments of one DVC stage and writes one result file per run, atomically."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from medal.fileio import load_npz, write_json_atomic
from medal.learners import Learner
from medal.loop import Protocol, run_active_learning
from medal.metrics import evaluate
from medal.strategies import Strategy


def run_file_name(learner: str, seed: int) -> str:
    """File name of one run's results inside a (dataset, strategy) folder."""
    return f"{learner}-seed{seed}.json"


def run_strategy(
    params: dict[str, Any], dataset: str, strategy: str, prepared: Path, results_dir: Path, timings_dir: Path
) -> None:
    """All (learner, seed) runs of one strategy on one dataset.

    Scores and queried indices go to ``results_dir`` (deterministic); wall-clock timings go to
    ``timings_dir`` so that the results stay byte-identical across reruns.
    """
    data = load_npz(prepared)
    protocol = Protocol.from_params(params["al"])
    learners = params["study"]["learners"]
    seeds = range(params["al"]["seeds"])
    total = len(learners) * len(seeds)
    done = 0
    for learner_name in learners:
        learner = Learner.from_params(learner_name, params["learners"][learner_name])
        for seed in seeds:
            start = time.perf_counter()
            query = Strategy.from_params(strategy, params["strategies"][strategy], random_state=seed)
            result = run_active_learning(
                data["X_pool"], data["y_pool"], data["X_test"], data["y_test"], learner, query, protocol, seed
            )
            header = {"dataset": dataset, "strategy": strategy, "learner": learner_name, "seed": seed}
            write_json_atomic(results_dir / run_file_name(learner_name, seed), {**header, "cycles": result.cycles})
            write_json_atomic(timings_dir / run_file_name(learner_name, seed), {**header, "cycles": result.timings})
            done += 1
            final = result.cycles[-1][params["evaluation"]["primary_metric"]]
            print(
                f"[{dataset}/{strategy}] {done}/{total} {learner_name} seed {seed}: "
                f"{params['evaluation']['primary_metric']} {final:.3f} at {result.cycles[-1]['labels']} labels "
                f"({time.perf_counter() - start:.1f} s)",
                file=sys.stderr,
            )


def run_reference(params: dict[str, Any], dataset: str, prepared: Path, out: Path) -> None:
    """Score each learner fitted on the whole labelled pool, once per seed: the ceiling AL aims for."""
    data = load_npz(prepared)
    classes = np.unique(np.concatenate([data["y_pool"], data["y_test"]]))
    reference: dict[str, list[dict[str, float]]] = {}
    for learner_name in params["study"]["learners"]:
        learner = Learner.from_params(learner_name, params["learners"][learner_name])
        reference[learner_name] = []
        for seed in range(params["al"]["seeds"]):
            clf = learner.fit_full(data["X_pool"], data["y_pool"], classes, random_state=seed)
            scores = evaluate(data["y_test"], clf.predict(data["X_test"]), clf.predict_proba(data["X_test"]), classes)
            reference[learner_name].append({"seed": seed, **scores})
    write_json_atomic(out, {"dataset": dataset, "pool_size": int(len(data["y_pool"])), "learners": reference})
