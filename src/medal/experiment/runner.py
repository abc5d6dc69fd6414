"""Runs the experiments of one DVC stage in parallel and writes one result file per run, atomically.

The study has three experiments (see ``params.yaml``): every strategy with the main learner,
every learner with a few strategies, and sweeps of one protocol setting at a time. Each run is
independent and seeded, so its result is the same whatever ``compute.n_jobs`` is.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs, parallel_config
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from medal.config import check_protocol_fits
from medal.data.prepare import feature_sets
from medal.design import STAGE_TIMING_FILE, learners_for, run_file_name, seeds_for, sweep_value_name, sweep_values
from medal.errors import UserError
from medal.experiment.learners import Learner
from medal.experiment.loop import Protocol, run_active_learning
from medal.experiment.strategies import Strategy
from medal.fileio import (
    dumps_json,
    load_npz,
    md5_file,
    read_json,
    replace_folder,
    write_json_atomic,
)
from medal.reproduce.environment import format_duration, numerical_platform, run_environment

# Environment variable that sends runs to a Dask scheduler; it overrides ``compute.dask_scheduler``.
DASK_SCHEDULER_ENV = "MEDAL_DASK_SCHEDULER"
DASK_CONNECT_TIMEOUT = "30s"
# How often a local worker checks that the process that started it is still alive.
PARENT_POLL_SECONDS = 0.5
_WATCHING = False
# The medal package's source folder, whose content a kept run's fingerprint includes.
PACKAGE = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class RunTask:
    """One seeded run: what it is (``header``, written into its result), how it runs, and where its file goes.

    ``path`` is relative to the stage's output folder; ``data`` names the feature set it runs on;
    ``spec`` holds every setting that decides its numbers, for the fingerprint that lets a rerun
    reuse a run finished before a crash.
    """

    learner: str
    strategy: str
    seed: int
    protocol: Protocol
    header: dict[str, Any]
    path: str
    data: str
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outputs:
    """Where one stage's runs go: results (deterministic), timings (wall clock; optional) and the
    scratch folder that keeps finished runs until the whole stage is done."""

    results: Path
    scratch: Path
    timings: Path | None = None


@cache
def code_digest() -> str:
    """md5 of the medal package's source (read once per process): a code change invalidates runs kept from before it."""
    digest = hashlib.md5()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def fingerprint(task: RunTask, inputs: dict[str, str]) -> str:
    """A digest of everything that decides a run's numbers: the task, its settings, the input data's
    checksums, the code and the numerical platform (BLAS kernels, library versions)."""
    content = {
        "header": task.header,
        "protocol": asdict(task.protocol),
        "spec": task.spec,
        "inputs": inputs,
        "code": code_digest(),
        "platform": numerical_platform(),
    }
    return hashlib.sha256(dumps_json(content).encode()).hexdigest()


def _watch_parent(parent_pid: int) -> None:
    """In a worker process: end it within a second of its parent's death (a ``kill -9`` of the stage
    leaves no worker computing for minutes). Started once per process."""
    global _WATCHING
    if _WATCHING or os.getpid() == parent_pid:
        return
    _WATCHING = True

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="medal-parent-watch", daemon=True).start()


def _run_one(
    params: dict[str, Any], data: dict[str, np.ndarray], task: RunTask, parent_pid: int | None = None
) -> tuple[str, dict[str, Any], list[dict[str, float]], float, dict[str, Any]]:
    """Run one task with a single BLAS/OpenMP thread (runs go in parallel instead); also return the
    numerical platform it ran on, which the caller checks against its own. ``parent_pid``: the local
    process that dispatched it, whose death ends this worker (None on a Dask cluster).

    Convergence warnings are silenced: on a few dozen labels an iterative learner often stops at its
    iteration limit, which is part of the protocol, and thousands of such lines would bury the progress.
    """
    if parent_pid is not None:
        _watch_parent(parent_pid)
    start = time.perf_counter()
    # Sequential inside the run: on a Dask worker joblib inherits the client's Dask backend, and a
    # random forest would send each of its trees back to the cluster as a task of its own.
    with threadpool_limits(limits=1), parallel_config(backend="sequential"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # While the oracle's answers hold one class, the learner predicts it (see Learner._checked).
        warnings.filterwarnings("ignore", message="Since the 'base_estimator' could not be fitted")
        learner = Learner.from_params(task.learner, params["learners"][task.learner])
        query = Strategy.from_params(task.strategy, params["strategies"][task.strategy], random_state=task.seed)
        try:
            result = run_active_learning(
                data["X_pool"], data["y_pool"], data["X_test"], data["y_test"], learner, query, task.protocol, task.seed
            )
        except UserError as exc:
            raise UserError(f"{task.header['dataset']}, seed {task.seed}: {exc}") from None
    seconds = time.perf_counter() - start
    return task.path, {**task.header, "cycles": result.cycles}, result.timings, seconds, numerical_platform()


def check_same_platform(expected: dict[str, Any], got: dict[str, Any]) -> None:
    """Refuse a run computed on another numerical platform than this process's (a worker with other BLAS kernels)."""
    if got != expected:
        raise UserError(
            f"a worker computed on BLAS {got['blas']} ({got['architecture']}), this process on {expected['blas']} "
            f"({expected['architecture']}); start the workers with the same OPENBLAS_CORETYPE (README, 'On a cluster')"
        )


def dask_scheduler(params: dict[str, Any]) -> str | None:
    """The Dask scheduler address runs go to: ``$MEDAL_DASK_SCHEDULER``, else ``compute.dask_scheduler``, else none
    (local)."""
    return os.environ.get(DASK_SCHEDULER_ENV) or params.get("compute", {}).get("dask_scheduler") or None


def _backend(stack: ExitStack, params: dict[str, Any]) -> int:
    """Enter joblib's Dask backend when a scheduler is set and return the ``n_jobs`` to use."""
    address = dask_scheduler(params)
    if address is None:
        return params.get("compute", {}).get("n_jobs", 1)
    from dask.distributed import Client

    try:
        stack.enter_context(Client(address, timeout=DASK_CONNECT_TIMEOUT))
    except OSError as exc:
        raise UserError(
            f"cannot reach the Dask scheduler at {address} ({exc}); start it or unset {DASK_SCHEDULER_ENV} / "
            "compute.dask_scheduler"
        ) from None
    stack.enter_context(parallel_config(backend="dask"))
    return -1  # every worker of the cluster


def _finished(scratch: Path, task: RunTask, digest: str) -> dict[str, Any] | None:
    """The kept record of a run finished before an interruption, if it matches ``digest``; stale or broken ones are
    removed."""
    path = scratch / task.path
    if not path.is_file():
        return None
    try:
        record = read_json(path)
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict) or record.get("fingerprint") != digest:
        path.unlink()
        return None
    return record


def _results(
    params: dict[str, Any], data: dict[str, dict[str, np.ndarray]], pending: list[RunTask], n_jobs: int
) -> Iterator[tuple[str, dict[str, Any], list[dict[str, float]], float]]:
    """Run the ``pending`` tasks with ``n_jobs`` workers of the active backend and yield each result as it
    arrives, once checked to come from this process's numerical platform."""
    parent = None if dask_scheduler(params) else os.getpid()
    runs: Iterator = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_run_one)(params, data[task.data], task, parent) for task in pending
    )
    for path, result, timings, seconds, platform in runs:
        check_same_platform(numerical_platform(), platform)
        yield path, result, timings, seconds


def _publish_stage(
    params: dict[str, Any],
    outputs: Outputs,
    records: dict[str, dict[str, Any]],
    reused: int,
    n_jobs: int,
    started: float,
) -> None:
    """Publish a stage's results and timings folders, then drop its scratch folder."""
    replace_folder(outputs.results, {path: dumps_json(record["result"]) for path, record in records.items()})
    if outputs.timings is not None:
        stage = {
            "runs": len(records),
            "reused": reused,
            "n_jobs": effective_n_jobs(n_jobs),
            "dask": dask_scheduler(params) is not None,
            "wall_seconds": time.perf_counter() - started,
            "environment": run_environment(),
        }
        timings = {
            path: dumps_json({**record["result"], "cycles": record["timings"]}) for path, record in records.items()
        }
        replace_folder(outputs.timings, {**timings, STAGE_TIMING_FILE: dumps_json(stage)})
    shutil.rmtree(outputs.scratch)
    with suppress(OSError):  # and its parents, once empty
        os.removedirs(outputs.scratch.parent)


def run_tasks(
    params: dict[str, Any],
    data: dict[str, dict[str, np.ndarray]],
    tasks: list[RunTask],
    inputs: dict[str, str],
    outputs: Outputs,
    tag: str,
) -> None:
    """Run ``tasks`` in parallel and publish their results (and timings) only once every run is done.

    Each finished run is first kept in ``outputs.scratch`` with its fingerprint; a rerun after a crash
    or a kill reuses those whose fingerprint still matches and computes only the rest. Runs go to a
    Dask cluster when a scheduler is set (:func:`dask_scheduler`), else to ``compute.n_jobs`` local
    processes; the results are the same either way.
    """
    started = time.perf_counter()
    metric = params["evaluation"]["primary_metric"]
    digests = {task.path: fingerprint(task, inputs) for task in tasks}
    records = {task.path: _finished(outputs.scratch, task, digests[task.path]) for task in tasks}
    pending = [task for task in tasks if records[task.path] is None]
    reused = len(tasks) - len(pending)
    if reused:
        print(
            f"[{tag}] reusing {reused} runs finished before an interruption ({outputs.scratch})",
            file=sys.stderr,
            flush=True,
        )
    by_path = {task.path: task for task in pending}
    computing = time.perf_counter()
    with ExitStack() as stack:
        n_jobs = _backend(stack, params)
        # Results come back to this process, which keeps each one at once (workers need no shared disk).
        for finished, (path, result, timings, seconds) in enumerate(_results(params, data, pending, n_jobs), 1):
            task = by_path[path]
            records[path] = {"fingerprint": digests[path], "result": result, "timings": timings}
            write_json_atomic(outputs.scratch / path, records[path])
            left = (time.perf_counter() - computing) / finished * (len(pending) - finished)
            last = result["cycles"][-1]
            print(
                f"[{tag}] {reused + finished}/{len(tasks)} {task.strategy} {task.learner} seed {task.seed}: "
                f"{metric} {last[metric]:.3f} at {last['labels']} labels ({seconds:.1f} s; "
                f"about {format_duration(left)} left)",
                file=sys.stderr,
                flush=True,
            )
    _publish_stage(params, outputs, records, reused, n_jobs, started)


def run_strategy(params: dict[str, Any], dataset: str, strategy: str, prepared: Path, outputs: Outputs) -> None:
    """All (learner, seed) runs of one strategy on one dataset.

    Scores and queried indices go to ``outputs.results`` (deterministic); wall-clock timings go to
    ``outputs.timings`` so that the results stay byte-identical across reruns.
    """
    protocol = Protocol.from_params(params["al"])
    tasks = [
        RunTask(
            learner,
            strategy,
            seed,
            protocol,
            {"dataset": dataset, "strategy": strategy, "learner": learner, "seed": seed},
            run_file_name(learner, seed),
            "prepared",
            {"learner": params["learners"][learner], "strategy": params["strategies"][strategy]},
        )
        for learner in learners_for(params["study"], strategy)
        for seed in range(seeds_for(params, learner))
    ]
    data = load_npz(prepared)
    check_protocol_fits(params, dataset, data["y_pool"])
    run_tasks(params, {"prepared": data}, tasks, {"prepared": md5_file(prepared)}, outputs, f"{dataset}/{strategy}")


def run_sweep(
    params: dict[str, Any], dataset: str, setting: str, strategy: str, raw: Path, prepared: Path, outputs: Outputs
) -> None:
    """Every (value, seed) run of one protocol setting with one strategy on one dataset, the other
    settings at their defaults, in one parallel batch.

    ``representation`` computes the features from the raw images once per named feature setting;
    the other settings change the protocol and reuse the prepared features.
    """
    sweeps = params["sweeps"]
    learner = sweeps["learner"]
    base = Protocol.from_params(params["al"])
    representations = sweeps["settings"]["representation"]
    if setting == "representation":
        data = feature_sets(representations, params["prepare"][dataset], raw, prepared)
        inputs = {"raw": md5_file(raw), "prepared": md5_file(prepared)}
    else:
        data, inputs = {"prepared": load_npz(prepared)}, {"prepared": md5_file(prepared)}
    check_protocol_fits(
        params, dataset, next(iter(data.values()))["y_pool"], {"initial_labels": sweeps["settings"]["initial_labels"]}
    )
    tasks = [
        RunTask(
            learner,
            strategy,
            seed,
            base if setting == "representation" else replace(base, **{setting: value}),
            {
                "dataset": dataset,
                "setting": setting,
                "value": value,
                "strategy": strategy,
                "learner": learner,
                "seed": seed,
            },
            f"{sweep_value_name(value)}/{run_file_name(strategy, seed)}",
            value if setting == "representation" else "prepared",
            {
                "learner": params["learners"][learner],
                "strategy": params["strategies"][strategy],
                "features": representations[value] if setting == "representation" else None,
            },
        )
        for value in sweep_values(params, setting)
        for seed in range(params["al"]["seeds"])
    ]
    run_tasks(params, data, tasks, inputs, outputs, f"{dataset}/{setting}/{strategy}")
