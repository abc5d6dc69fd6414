"""Runs the experiments of one DVC stage and writes one result file per run, atomically.

The study has three experiments (see ``params.yaml``): every strategy with the main learner,
every learner with a few strategies, and sweeps of one protocol setting at a time. A stage is
planned (:class:`StagePlan`: its runs, the feature sets they need, where files go), its runs
computed by :class:`~medal.experiment.executor.Executor` and kept one by one in the stage's scratch
folder, and the stage published once every run is there. Each run is independent and seeded, so
its result is the same whatever runs it; ``medal submit`` (:mod:`medal.experiment.study`) uses the
same plans to compute the runs of many stages at once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np

from medal.data.prepare import feature_sets
from medal.design import (
    LEARNER_SETTINGS,
    STAGE_TIMING_FILE,
    run_path,
    sweep_folder,
    sweep_run_path,
)
from medal.experiment.executor import Executor
from medal.experiment.loop import Protocol
from medal.experiment.strategies import Strategy
from medal.experiment.tasks import RunTask
from medal.fileio import dumps_json, load_npz, md5_file, read_json, replace_folder, write_json_atomic
from medal.layout import PARTIAL
from medal.reproduce.environment import format_duration, numerical_platform, run_environment
from medal.study import Study, plain

# The medal package's source folder, whose content a kept run's fingerprint includes.
PACKAGE = Path(__file__).resolve().parents[1]
# Who computed a kept run: the stage itself (before an interruption) or a study-wide ``medal submit``.
BY_STAGE, BY_SUBMIT = "stage", "submit"
# What the last study-wide submission recorded (runs, stages, workers, wall time), for the stages that publish
# its runs to copy into their timing records; removed once its ``dvc repro`` is done.
SUBMISSION_RECORD = PARTIAL / "submission.json"


@dataclass(frozen=True)
class Outputs:
    """Where one stage's runs go: results (deterministic), timings (wall clock; optional) and the
    scratch folder that keeps finished runs until the whole stage is done."""

    results: Path
    scratch: Path
    timings: Path | None = None


@dataclass(frozen=True)
class StagePlan:
    """One experiment stage's runs: ``tasks``, the input files' checksums for the fingerprints, where its files go,
    a ``tag`` for progress lines, and ``load``, which gives the feature sets the runs read (by the name each task's
    ``data`` gives); it is called only when some run is still to compute, so a stage that publishes runs kept
    before (by ``medal submit``) does not compute its features again."""

    tag: str
    tasks: list[RunTask]
    load: Callable[[], dict[str, dict[str, np.ndarray]]]
    inputs: dict[str, str]
    outputs: Outputs


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


@dataclass
class Kept:
    """The runs of some stages: each run's fingerprint and its record (None until it is kept), by stage tag and
    run path."""

    digests: dict[str, dict[str, str]]
    records: dict[str, dict[str, dict[str, Any] | None]]

    @classmethod
    def find(cls, plans: list[StagePlan]) -> Kept:
        """Fingerprint every run of ``plans`` and pick up those already kept in their scratch folders."""
        digests = {plan.tag: {task.path: fingerprint(task, plan.inputs) for task in plan.tasks} for plan in plans}
        records = {
            plan.tag: {
                task.path: _finished(plan.outputs.scratch, task, digests[plan.tag][task.path]) for task in plan.tasks
            }
            for plan in plans
        }
        return cls(digests, records)

    def pending(self, plans: list[StagePlan]) -> list[tuple[StagePlan, RunTask, float]]:
        """The runs still to compute, each with the seconds it took in the last build (infinity when unknown), the
        longest first, so that no long run starts last and leaves the other workers idle."""
        todo = [
            (plan, task, _recorded_seconds(plan, task))
            for plan in plans
            for task in plan.tasks
            if self.records[plan.tag][task.path] is None
        ]
        return sorted(todo, key=lambda item: -item[2])


def _recorded_seconds(plan: StagePlan, task: RunTask) -> float:
    """How long the run took in the last build (its timing file), or infinity when unknown: runs never timed go
    first."""
    if plan.outputs.timings is None:
        return np.inf
    try:
        seconds = read_json(plan.outputs.timings / task.path).get("seconds")
    except (OSError, ValueError, AttributeError):
        return np.inf
    return float(seconds) if isinstance(seconds, (int, float)) else np.inf


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
        where = "" if len(plans) == 1 else f"{plan.tag} "
        print(
            f"[{label}] {done + count}/{total} {where}{task.strategy} {task.learner} seed {task.seed}: "
            f"{metric} {last[metric]:.3f} at {last['labels']} labels ({finished.seconds:.1f} s; "
            f"about {format_duration(left)} left)",
            file=sys.stderr,
            flush=True,
        )


def _publish_stage(
    plan: StagePlan,
    records: dict[str, dict[str, Any]],
    kept: Counter,
    computed_on: dict[str, Any] | None,
    started: float,
) -> None:
    """Publish a stage's results and timings folders, then drop its scratch folder. ``kept`` counts the runs found
    kept by who computed them; ``computed_on`` says where the stage computed the others (``dask``, ``workers``),
    None when there were none."""
    outputs = plan.outputs
    replace_folder(outputs.results, {path: dumps_json(record["result"]) for path, record in records.items()})
    if outputs.timings is not None:
        stage = {
            "runs": len(records),
            "reused": kept[BY_STAGE],
            "submitted": kept[BY_SUBMIT],
            "submission": read_json(SUBMISSION_RECORD) if kept[BY_SUBMIT] and SUBMISSION_RECORD.is_file() else None,
            "computed_on": computed_on,
            "wall_seconds": time.perf_counter() - started,
            "environment": run_environment(),
        }
        timings = {
            path: dumps_json({**record["result"], "cycles": record["timings"], "seconds": record.get("seconds")})
            for path, record in records.items()
        }
        replace_folder(outputs.timings, {**timings, STAGE_TIMING_FILE: dumps_json(stage)})
    shutil.rmtree(outputs.scratch, ignore_errors=True)
    with suppress(OSError):  # and its parents, once empty
        os.removedirs(outputs.scratch.parent)


def run_stage(study: Study, plan: StagePlan) -> None:
    """Run a stage's runs and publish its results (and timings) only once every run is done.

    Runs kept in the scratch folder with a matching fingerprint (finished before a crash or a kill,
    or computed ahead by ``medal submit``) are published as they are; only the rest is computed.
    """
    started = time.perf_counter()
    kept = Kept.find([plan])
    by = Counter(record.get("computed_by", BY_STAGE) for record in kept.records[plan.tag].values() if record)
    if by[BY_STAGE]:
        print(
            f"[{plan.tag}] reusing {by[BY_STAGE]} runs finished before an interruption ({plan.outputs.scratch})",
            file=sys.stderr,
            flush=True,
        )
    if by[BY_SUBMIT]:
        print(f"[{plan.tag}] publishing {by[BY_SUBMIT]} runs computed by medal submit", file=sys.stderr, flush=True)
    computed_on = None
    if None in kept.records[plan.tag].values():  # else no cluster to connect to, no process to start
        with Executor.for_study(study) as executor:
            keep_runs(executor, [plan], kept, BY_STAGE, study.primary_metric)
            computed_on = {"dask": executor.dask, "workers": executor.workers}
    _publish_stage(plan, kept.records[plan.tag], by, computed_on, started)


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


def run_strategy(study: Study, dataset: str, strategy: str, prepared: Path, outputs: Outputs) -> None:
    """Plan and run one ``al`` stage (:func:`plan_strategy`, :func:`run_stage`)."""
    run_stage(study, plan_strategy(study, dataset, strategy, prepared, outputs))


def run_sweep(
    study: Study, dataset: str, setting: str, strategy: str, raw: Path, prepared: Path, outputs: Outputs
) -> None:
    """Plan and run one ``sweep`` stage (:func:`plan_sweep`, :func:`run_stage`)."""
    run_stage(study, plan_sweep(study, dataset, setting, strategy, raw, prepared, outputs))
