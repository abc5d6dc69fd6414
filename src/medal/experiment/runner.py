"""Runs the experiments of one DVC stage and writes one result file per run, atomically.

The study has three experiments (see ``params.yaml``): every strategy with the main learner,
every learner with a few strategies, and sweeps of one protocol setting at a time. A stage
(:class:`Stage`: one dataset's strategies, or one sweep's) is planned one strategy at a time
(:class:`StagePlan`: its runs, the feature sets they need, where files go), all its runs computed
together by :class:`~medal.experiment.executor.Executor` and kept one by one in scratch folders,
and the stage published once every run is there; a run kept from before (:mod:`medal.experiment.plans`:
an interrupted attempt, ``medal submit``, or an earlier build with the same fingerprint) is
published as it is instead of computed. Each run is independent and seeded, so
its result is the same whatever runs it; ``medal submit`` (:mod:`medal.experiment.study`) uses the
same plans to compute the runs of many stages at once.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from medal.data.prepare import feature_sets
from medal.design import (
    LEARNER_SETTINGS,
    RECOMPUTE_ENV,
    STAGE_TIMING_FILE,
    run_path,
    sweep_folder,
    sweep_run_path,
)
from medal.experiment.executor import Executor
from medal.experiment.loop import Protocol
from medal.experiment.plans import BY_EARLIER_BUILD, BY_STAGE, BY_SUBMIT, Kept, Outputs, StagePlan
from medal.experiment.strategies import Strategy
from medal.experiment.tasks import RunTask
from medal.fileio import dumps_json, load_npz, md5_file, read_json, replace_folder, write_json_atomic
from medal.layout import PARTIAL, PREPARED, RAW, al_paths, al_stage_paths, sweep_paths, sweep_stage_paths
from medal.reproduce.environment import format_duration, run_environment
from medal.study import Study, plain

# What the last study-wide submission recorded (runs, stages, workers, wall time), for the stages that publish
# its runs to copy into their timing records; removed once its ``dvc repro`` is done.
SUBMISSION_RECORD = PARTIAL / "submission.json"


def _expected_work(recorded: list[float]) -> list[float]:
    """Each pending run's share of the work left, for the time-left estimate: its recorded duration, or one run each
    when some run was never timed (the runs go longest first, so counting runs would overstate the time left)."""
    return recorded if all(np.isfinite(seconds) and seconds > 0 for seconds in recorded) else [1.0] * len(recorded)


def keep_runs(
    executor: Executor, plans: list[StagePlan], kept: Kept, computed_by: str, metric: str, label: str | None = None
) -> None:
    """Compute every run of ``plans`` not in ``kept``, all in flight at once, and keep each in its stage's scratch
    folder as it arrives (with its fingerprint, so a later rerun reuses it) and in ``kept``.

    Runs go to a Dask cluster or to local processes (:class:`~medal.experiment.executor.Executor`); the results are
    the same either way.
    """
    pending = kept.pending(plans)
    expected = _expected_work([seconds for _, _, seconds in pending])
    expected_total = sum(expected)
    computing = {plan.tag: plan for plan, _, _ in pending}.values()  # only these stages' features are needed
    data = {name: arrays for plan in computing for name, arrays in plan.load().items()}
    total = sum(len(plan.tasks) for plan in plans)
    done = total - len(pending)
    label = label or (plans[0].tag if len(plans) == 1 else "study")
    started, expected_done = time.perf_counter(), 0.0
    for count, finished in enumerate(executor.run([task for _, task, _ in pending], data), 1):
        plan, task, _ = pending[finished.index]
        expected_done += expected[finished.index]
        record = {
            "fingerprint": kept.digests[plan.tag][task.path],
            "result": finished.result,
            "timings": finished.timings,
            "seconds": finished.seconds,
            "computed_by": computed_by,
        }
        write_json_atomic(plan.outputs.scratch / task.path, record)
        kept.records[plan.tag][task.path] = record
        left = (time.perf_counter() - started) / expected_done * (expected_total - expected_done)
        last = finished.result["cycles"][-1]
        where = "" if label == plan.tag else f"{plan.tag} "  # a plan's tag ends with its strategy
        print(
            f"[{label}] {done + count}/{total} {where}{task.learner} seed {task.seed}: "
            f"{metric} {last[metric]:.3f} at {last['labels']} labels ({finished.seconds:.1f} s; "
            f"about {format_duration(left)} left)",
            file=sys.stderr,
            flush=True,
        )


@dataclass(frozen=True)
class Stage:
    """One DVC experiment stage: ``plans`` (one per strategy) computed together, so that no core idles between
    strategies, and the results and timings folders it publishes whole (each plan's folders lie below them)."""

    name: str
    plans: list[StagePlan]
    results: Path
    timings: Path


def _publish_stage(stage: Stage, kept: Kept, by: Counter, computed_on: dict[str, Any] | None, started: float) -> None:
    """Publish a stage's results and timings folders, each all at once, then drop its plans' scratch folders. ``by``
    counts the runs found kept by who computed them; ``computed_on`` says where the stage computed the others
    (``dask``, ``workers``), None when there were none. Each run's timing file carries its fingerprint, so that a
    later build of the stage can publish it again instead of recomputing it."""
    results, timings = {}, {}
    for plan in stage.plans:
        for path, record in kept.records[plan.tag].items():
            result = (plan.outputs.results / path).relative_to(stage.results).as_posix()
            timing = (plan.outputs.timings / path).relative_to(stage.timings).as_posix()
            results[result] = dumps_json(record["result"])
            timings[timing] = dumps_json(
                {
                    **record["result"],
                    "cycles": record["timings"],
                    "seconds": record.get("seconds"),
                    "fingerprint": kept.digests[plan.tag][path],
                }
            )
    record = {
        "runs": len(results),
        "reused": by[BY_STAGE],
        "submitted": by[BY_SUBMIT],
        "republished": by[BY_EARLIER_BUILD],
        "submission": read_json(SUBMISSION_RECORD) if by[BY_SUBMIT] and SUBMISSION_RECORD.is_file() else None,
        "computed_on": computed_on,
        "wall_seconds": time.perf_counter() - started,
        "environment": run_environment(),
    }
    replace_folder(stage.results, results)
    replace_folder(stage.timings, {**timings, STAGE_TIMING_FILE: dumps_json(record)})
    for plan in stage.plans:
        shutil.rmtree(plan.outputs.scratch, ignore_errors=True)
        with suppress(OSError):  # and its parents, once empty
            os.removedirs(plan.outputs.scratch.parent)


def run_stage(study: Study, stage: Stage) -> None:
    """Run a stage's runs, all in flight at once, and publish its results (and timings) only once every run is done.

    Runs kept in a scratch folder with a matching fingerprint (finished before a crash or a kill, or computed ahead
    by ``medal submit``) and runs an earlier build published with a matching fingerprint are published as they are;
    only the rest is computed.
    """
    started = time.perf_counter()
    kept = Kept.find(stage.plans)
    by = Counter(
        record.get("computed_by", BY_STAGE)
        for plan in stage.plans
        for record in kept.records[plan.tag].values()
        if record
    )
    notes = {
        BY_STAGE: "reusing {} runs finished before an interruption",
        BY_SUBMIT: "publishing {} runs computed by medal submit",
        BY_EARLIER_BUILD: "publishing again {} runs of an earlier build with the same fingerprint "
        f"(${RECOMPUTE_ENV}=1 recomputes them)",
    }
    for who, note in notes.items():
        if by[who]:
            print(f"[{stage.name}] {note.format(by[who])}", file=sys.stderr, flush=True)
    computed_on = None
    if any(None in kept.records[plan.tag].values() for plan in stage.plans):  # else no cluster, no process to start
        with Executor.for_study(study) as executor:
            keep_runs(executor, stage.plans, kept, BY_STAGE, study.primary_metric, label=stage.name)
            computed_on = {"dask": executor.dask, "workers": executor.workers}
    _publish_stage(stage, kept, by, computed_on, started)


def _cached(cache: dict[str, Any] | None, key: str, compute: Any) -> Any:
    """``compute()``, once per ``key`` while ``cache`` (shared by the plans of one submission) lives."""
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def plan_strategy(
    study: Study,
    dataset: str,
    strategy: str,
    prepared: Path,
    outputs: Outputs,
    cache: dict[str, Any] | None = None,
) -> StagePlan:
    """All (learner, seed) runs of one strategy on one dataset: scores and queried indices go to
    ``outputs.results`` (deterministic), wall-clock timings to ``outputs.timings``, so that the results stay
    byte-identical across reruns."""
    name = f"{dataset}/prepared"
    data = _cached(cache, name, lambda: load_npz(prepared))
    n_classes = len(np.unique(data["y_pool"]))
    protocol = Protocol.from_params(study.protocol, n_classes)
    tasks = [
        RunTask(
            learner,
            strategy,
            seed,
            protocol,
            {"dataset": dataset, "strategy": strategy, "learner": learner, "seed": seed},
            run_path(dataset, strategy, learner, seed).name,
            name,
            {"learner": study.learner_spec(learner, dataset), "strategy": study.strategy_spec(strategy)},
        )
        for learner in study.learners_for(strategy, dataset)
        for seed in range(study.seeds_for(learner, dataset))
    ]
    protocol.check_fits(dataset, data["y_pool"])
    # A strategy defined for two classes only is refused here, before any run computes, not at its first query.
    Strategy.from_params(strategy, study.strategy_spec(strategy), random_state=0).check_classes(n_classes)
    inputs = {"prepared": _cached(cache, f"md5:{prepared}", lambda: md5_file(prepared))}
    return StagePlan(f"{dataset}/{strategy}", tasks, lambda: {name: data}, inputs, outputs)


def _sweep_tasks(study: Study, dataset: str, setting: str, strategy: str, y_pool: np.ndarray) -> list[RunTask]:
    """Every (value, seed) run of one sweep stage on the dataset whose pool labels are ``y_pool``; a representation's
    runs read its own feature set."""
    learner = study.sweeps["learner"]
    representations = plain(study.sweeps["settings"]["representation"])
    protocol_setting = setting not in ("representation", *LEARNER_SETTINGS)
    folder = sweep_folder(dataset, setting, strategy)  # the stage's: task paths are relative to it
    return [
        RunTask(
            learner,
            strategy,
            seed,
            Protocol.for_pool({**study.protocol, setting: value} if protocol_setting else study.protocol, y_pool),
            {
                "dataset": dataset,
                "setting": setting,
                "value": value,
                "strategy": strategy,
                "learner": learner,
                "seed": seed,
            },
            str(sweep_run_path(dataset, setting, strategy, value, seed).relative_to(folder)),
            f"{dataset}/representation/{value}" if setting == "representation" else f"{dataset}/prepared",
            {
                "learner": {**study.learner_spec(learner, dataset), setting: value}
                if setting in LEARNER_SETTINGS
                else study.learner_spec(learner, dataset),
                "strategy": study.strategy_spec(strategy),
                "features": representations[value] if setting == "representation" else None,
            },
        )
        for value in study.sweep_values[setting]
        for seed in range(study.seeds)
    ]


def plan_sweep(
    study: Study,
    dataset: str,
    setting: str,
    strategy: str,
    raw: Path,
    prepared: Path,
    outputs: Outputs,
    cache: dict[str, Any] | None = None,
) -> StagePlan:
    """Every (value, seed) run of one protocol setting with one strategy on one dataset, the other settings at
    their defaults. ``representation`` computes the features from the raw images once per named feature setting
    (once per submission with a ``cache``, and only when runs are left to compute); the other settings change the
    protocol and reuse the prepared features."""
    representations = plain(study.sweeps["settings"]["representation"])
    name = f"{dataset}/prepared"
    features = _cached(cache, name, lambda: load_npz(prepared))
    inputs = {"prepared": _cached(cache, f"md5:{prepared}", lambda: md5_file(prepared))}
    if setting == "representation":
        inputs["raw"] = _cached(cache, f"md5:{raw}", lambda: md5_file(raw))

        def load() -> dict[str, dict[str, np.ndarray]]:
            spec = study.feature_spec(dataset)
            compute = partial(feature_sets, representations, spec, raw, prepared, study.max_test_images)
            sets = _cached(cache, f"{dataset}/representations", compute)
            return {f"{dataset}/representation/{value}": arrays for value, arrays in sets.items()}
    else:

        def load() -> dict[str, dict[str, np.ndarray]]:
            return {name: features}

    tasks = _sweep_tasks(study, dataset, setting, strategy, features["y_pool"])
    # Every protocol the stage runs fits the pool, and those the initial-labels sweep will run.
    checked = {**study.protocol, "initial_labels": min(study.sweep_values["initial_labels"])}
    for protocol in dict.fromkeys([Protocol.for_pool(checked, features["y_pool"]), *(task.protocol for task in tasks)]):
        protocol.check_fits(dataset, features["y_pool"])
    return StagePlan(f"{dataset}/{setting}/{strategy}", tasks, load, inputs, outputs)


def al_stage(study: Study, dataset: str, cache: dict[str, Any] | None = None) -> Stage:
    """The ``al`` stage of one dataset: every strategy of the study (:func:`plan_strategy`), sharing one copy of
    the dataset's features through ``cache`` (a new one when None)."""
    prepared, cache = PREPARED / f"{dataset}.npz", {} if cache is None else cache
    plans = [
        plan_strategy(study, dataset, strategy, prepared, Outputs(*al_paths(dataset, strategy)), cache)
        for strategy in study.strategies
    ]
    return Stage(f"al@{dataset}", plans, *al_stage_paths(dataset))


def sweep_stage(study: Study, dataset: str, setting: str, cache: dict[str, Any] | None = None) -> Stage:
    """The ``sweep`` stage of one (dataset, setting): every strategy of ``sweeps.strategies`` (:func:`plan_sweep`),
    sharing the feature sets through ``cache`` (a new one when None)."""
    raw, prepared = RAW / f"{dataset}.npz", PREPARED / f"{dataset}.npz"
    cache = {} if cache is None else cache
    plans = []
    for strategy in study.sweeps["strategies"]:
        outputs = Outputs(*sweep_paths(dataset, setting, strategy))
        plans.append(plan_sweep(study, dataset, setting, strategy, raw, prepared, outputs, cache))
    return Stage(f"sweep@{dataset}-{setting}", plans, *sweep_stage_paths(dataset, setting))
