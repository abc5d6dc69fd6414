"""A stage's plans and the runs already done: where each plan's runs go, every run's fingerprint, and the runs
kept from before (in a scratch folder, finished before an interruption or computed ahead by ``medal submit``; or
published by an earlier build of the stage), which a stage publishes instead of computing them again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from medal.design import RECOMPUTE_ENV
from medal.experiment.tasks import RunTask
from medal.fileio import dumps_json, read_json
from medal.reproduce.environment import numerical_platform

# The medal package's source folder, and the modules in it that decide a run's numbers, which a kept run's
# fingerprint includes: the source files every experiment stage of dvc.yaml depends on (tests/test_runner.py checks
# the two lists agree), so that a run published by an earlier build is reused exactly when DVC would not rerun it
# for its code, and an edit to the report or to plumbing leaves every kept run valid.
PACKAGE = Path(__file__).resolve().parents[1]
RUN_SOURCES = (
    "analysis/metrics.py",
    "blas.py",
    "data/features.py",
    "data/prepare.py",
    "design.py",
    "experiment/capped.py",
    "experiment/learners.py",
    "experiment/loop.py",
    "experiment/own_strategies.py",
    "experiment/plans.py",
    "experiment/runner.py",
    "experiment/strategies.py",
    "experiment/tasks.py",
    "study.py",
)
# Who computed a kept run: the stage itself (before an interruption), a study-wide ``medal submit``, or an earlier
# build of the stage that published it (a stage reruns whenever one of its strategies' settings changes; the runs
# whose fingerprint did not change are published again as they are).
BY_STAGE, BY_SUBMIT, BY_EARLIER_BUILD = "stage", "submit", "earlier build"


@dataclass(frozen=True)
class Outputs:
    """Where one plan's runs go: results (deterministic), timings (wall clock) and the scratch folder that keeps
    finished runs until the whole stage is done."""

    results: Path
    scratch: Path
    timings: Path


@dataclass(frozen=True)
class StagePlan:
    """One experiment stage's runs: ``tasks``, the input files' checksums for the fingerprints, where its files go,
    a ``tag`` for progress lines, and ``load``, which gives the feature sets the runs read (by the name each task's
    ``data`` gives); it is called only when some run is still to compute, so a stage that publishes runs kept
    before (by ``medal submit`` or an earlier build) does not compute its features again."""

    tag: str
    tasks: list[RunTask]
    load: Callable[[], dict[str, dict[str, np.ndarray]]]
    inputs: dict[str, str]
    outputs: Outputs


@cache
def code_digest() -> str:
    """md5 of the :data:`RUN_SOURCES` (read once per process): a change to them invalidates runs kept from before it."""
    digest = hashlib.md5()
    for name in RUN_SOURCES:
        digest.update(name.encode() + b"\0" + (PACKAGE / name).read_bytes())
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


def _published(outputs: Outputs, task: RunTask, digest: str) -> dict[str, Any] | None:
    """The record of a run an earlier build published, if its timing file carries ``digest`` (same task, settings,
    data, code and platform, so the same numbers); None otherwise."""
    try:
        timing = read_json(outputs.timings / task.path)
        if not isinstance(timing, dict) or timing.get("fingerprint") != digest or "cycles" not in timing:
            return None
        result = read_json(outputs.results / task.path)
    except (OSError, ValueError):
        return None
    return {
        "fingerprint": digest,
        "result": result,
        "timings": timing["cycles"],
        "seconds": timing.get("seconds"),
        "computed_by": BY_EARLIER_BUILD,
    }


@dataclass
class Kept:
    """The runs of some stages: each run's fingerprint and its record (None until it is kept), by stage tag and
    run path."""

    digests: dict[str, dict[str, str]]
    records: dict[str, dict[str, dict[str, Any] | None]]

    @classmethod
    def find(cls, plans: list[StagePlan]) -> Kept:
        """Fingerprint every run of ``plans`` and pick up those already kept: in their scratch folders, else (unless
        ``$MEDAL_RECOMPUTE`` is set) published by an earlier build with the same fingerprint."""
        digests = {plan.tag: {task.path: fingerprint(task, plan.inputs) for task in plan.tasks} for plan in plans}
        earlier = not os.environ.get(RECOMPUTE_ENV)
        records = {
            plan.tag: {
                task.path: _finished(plan.outputs.scratch, task, digests[plan.tag][task.path])
                or (_published(plan.outputs, task, digests[plan.tag][task.path]) if earlier else None)
                for task in plan.tasks
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
    try:
        seconds = read_json(plan.outputs.timings / task.path).get("seconds")
    except (OSError, ValueError, AttributeError):
        return np.inf
    return float(seconds) if isinstance(seconds, (int, float)) else np.inf
