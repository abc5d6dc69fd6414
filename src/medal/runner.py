"""Runs the experiments of one DVC stage in parallel and writes one result file per run, atomically.

The study has three experiments (see ``params.yaml``): every strategy with the main learner,
every learner with a few strategies, and sweeps of one protocol setting at a time. Each run is
independent and seeded, so its result is the same whatever ``compute.n_jobs`` is.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from medal.fileio import load_npz, write_json_atomic
from medal.learners import Learner
from medal.loop import Protocol, run_active_learning
from medal.metrics import evaluate
from medal.prepare import prepare
from medal.strategies import Strategy


def run_file_name(learner: str, seed: int) -> str:
    """File name of one run's results inside a (dataset, strategy) folder."""
    return f"{learner}-seed{seed}.json"


def learners_for(study: dict[str, Any], strategy: str) -> list[str]:
    """The learners a strategy runs with: all of them for the learner comparison's strategies, else the main learner."""
    return list(study["learners"]) if strategy in study["learner_strategies"] else [study["main_learner"]]


@dataclass(frozen=True)
class RunTask:
    """One seeded run and where its results and timings go."""

    learner: str
    strategy: str
    seed: int
    protocol: Protocol
    header: dict[str, Any]
    result_path: Path
    timing_path: Path | None


def _run_one(params: dict[str, Any], data: dict[str, np.ndarray], task: RunTask) -> tuple[RunTask, dict[str, Any], float]:
    """Run one task with a single BLAS/OpenMP thread (runs go in parallel instead) and write its files.

    Convergence warnings are silenced: on a few dozen labels an iterative learner often stops at its
    iteration limit, which is part of the protocol, and thousands of such lines would bury the progress.
    """
    start = time.perf_counter()
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        learner = Learner.from_params(task.learner, params["learners"][task.learner])
        query = Strategy.from_params(task.strategy, params["strategies"][task.strategy], random_state=task.seed)
        result = run_active_learning(
            data["X_pool"], data["y_pool"], data["X_test"], data["y_test"], learner, query, task.protocol, task.seed
        )
    write_json_atomic(task.result_path, {**task.header, "cycles": result.cycles})
    if task.timing_path is not None:
        write_json_atomic(task.timing_path, {**task.header, "cycles": result.timings})
    return task, result.cycles[-1], time.perf_counter() - start


def run_tasks(params: dict[str, Any], data: dict[str, np.ndarray], tasks: list[RunTask], tag: str) -> None:
    """Run ``tasks`` on ``compute.n_jobs`` processes, printing one progress line per finished run."""
    metric = params["evaluation"]["primary_metric"]
    n_jobs = params.get("compute", {}).get("n_jobs", 1)
    runs: Iterator = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_run_one)(params, data, task) for task in tasks
    )
    for done, (task, last, seconds) in enumerate(runs, start=1):
        print(
            f"[{tag}] {done}/{len(tasks)} {task.strategy} {task.learner} seed {task.seed}: "
            f"{metric} {last[metric]:.3f} at {last['labels']} labels ({seconds:.1f} s)",
            file=sys.stderr,
            flush=True,
        )


def run_strategy(
    params: dict[str, Any], dataset: str, strategy: str, prepared: Path, results_dir: Path, timings_dir: Path
) -> None:
    """All (learner, seed) runs of one strategy on one dataset.

    Scores and queried indices go to ``results_dir`` (deterministic); wall-clock timings go to
    ``timings_dir`` so that the results stay byte-identical across reruns.
    """
    protocol = Protocol.from_params(params["al"])
    tasks = [
        RunTask(
            learner, strategy, seed, protocol,
            {"dataset": dataset, "strategy": strategy, "learner": learner, "seed": seed},
            results_dir / run_file_name(learner, seed), timings_dir / run_file_name(learner, seed),
        )
        for learner in learners_for(params["study"], strategy)
        for seed in range(params["al"]["seeds"])
    ]
    run_tasks(params, load_npz(prepared), tasks, f"{dataset}/{strategy}")


def sweep_value_name(value: Any) -> str:
    """Folder name of one sweep value: the representation's name, or the number as written."""
    return str(value)


def sweep_values(params: dict[str, Any], setting: str) -> list[Any]:
    """The values a sweep tries, in ``params.yaml`` order (representation names for ``representation``)."""
    values = params["sweeps"]["settings"][setting]
    return list(values) if setting == "representation" else values


def run_sweep(params: dict[str, Any], dataset: str, setting: str, raw: Path, prepared: Path, out_dir: Path) -> None:
    """Every (value, strategy, seed) run of one protocol setting on one dataset, the other settings at their defaults.

    ``representation`` recomputes the features from the raw images for each named feature setting;
    the other settings change the protocol and reuse the prepared features.
    """
    sweeps = params["sweeps"]
    base = Protocol.from_params(params["al"])
    for value in sweep_values(params, setting):
        if setting == "representation":
            data, protocol = prepare(load_npz(raw), sweeps["settings"]["representation"][value]), base
        else:
            data, protocol = load_npz(prepared), replace(base, **{setting: value})
        folder = out_dir / sweep_value_name(value)
        tasks = [
            RunTask(
                sweeps["learner"], strategy, seed, protocol,
                {"dataset": dataset, "setting": setting, "value": value, "strategy": strategy,
                 "learner": sweeps["learner"], "seed": seed},
                folder / run_file_name(strategy, seed), None,
            )
            for strategy in sweeps["strategies"]
            for seed in range(params["al"]["seeds"])
        ]
        run_tasks(params, data, tasks, f"{dataset}/{setting}={value}")


def run_reference(params: dict[str, Any], dataset: str, prepared: Path, out: Path) -> None:
    """Score each learner fitted on the whole labelled pool, once per seed: the ceiling AL aims for."""
    data = load_npz(prepared)
    classes = np.unique(np.concatenate([data["y_pool"], data["y_test"]]))
    reference: dict[str, list[dict[str, Any]]] = {}
    for learner_name in params["study"]["learners"]:
        learner = Learner.from_params(learner_name, params["learners"][learner_name])
        reference[learner_name] = []
        for seed in range(params["al"]["seeds"]):
            clf = learner.fit_full(data["X_pool"], data["y_pool"], classes, random_state=seed)
            scores = evaluate(data["y_test"], clf.predict(data["X_test"]), clf.predict_proba(data["X_test"]), classes)
            reference[learner_name].append({"seed": seed, **scores})
    write_json_atomic(out, {"dataset": dataset, "pool_size": int(len(data["y_pool"])), "learners": reference})
