"""Experiment 4, the check of the candidate cap: does showing each query only a seeded random subset of the
unlabelled pool (``al.max_candidates``, the rule that bounds every strategy's cost on large pools) change which
strategies beat random sampling?

On one dataset whose whole pool every strategy can afford (``cap_check.dataset``), every strategy of the study runs
again with the main learner and seeds ``0 .. al.seeds - 1`` under another rule: each query shown the whole
unlabelled pool (``cap_check.max_candidates: null``, where the study's cap bites there) or at most
``cap_check.max_candidates`` unlabelled images, a cap small enough to bite at every query. The aggregate stage
compares these runs with the main experiment's runs of the same seeds (:mod:`medal.analysis.capped`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from medal.design import run_path
from medal.errors import UserError
from medal.experiment.loop import Protocol
from medal.experiment.plans import Outputs, StagePlan
from medal.experiment.runner import Stage, _cached
from medal.experiment.tasks import RunTask
from medal.fileio import load_npz, md5_file
from medal.layout import PREPARED, capped_paths, capped_stage_paths
from medal.study import Study


def capped_protocol(study: Study, y_pool: np.ndarray) -> Protocol:
    """The study's protocol on the pool whose labels are ``y_pool``, with the check's cap; refused when the smaller of
    the two caps would not bite at the last query (the unlabelled pool then is the pool less the labels bought before
    it), since the two conditions would then be the same."""
    check, protocol = study.cap_check, Protocol.for_pool(study.protocol, y_pool)
    cap = check["max_candidates"]
    unlabelled_at_last_query = len(y_pool) - (protocol.budget - protocol.batch_size)
    if cap is not None and cap >= unlabelled_at_last_query:
        raise UserError(
            f"params.yaml: cap_check.max_candidates {cap} does not bite on {check['dataset']} (its last query sees "
            f"{unlabelled_at_last_query} unlabelled images); set it below that"
        )
    if cap is None and (protocol.max_candidates is None or protocol.max_candidates >= unlabelled_at_last_query):
        raise UserError(
            f"params.yaml: al.max_candidates does not bite on {check['dataset']} (its last query sees "
            f"{unlabelled_at_last_query} unlabelled images), so lifting it there checks nothing; give "
            "cap_check.max_candidates a cap below that"
        )
    return replace(protocol, max_candidates=cap)


def plan_capped(
    study: Study, strategy: str, prepared: Path, outputs: Outputs, cache: dict[str, Any] | None = None
) -> StagePlan:
    """Every seed of one strategy with the main learner on ``cap_check.dataset`` under the check's cap; each run's
    file lies where its main-experiment twin's lies, below ``outputs``' folders instead of the runs folder."""
    dataset, learner = study.cap_check["dataset"], study.main_learner
    name = f"{dataset}/prepared"
    data = _cached(cache, name, lambda: load_npz(prepared))
    protocol = capped_protocol(study, data["y_pool"])
    protocol.check_fits(dataset, data["y_pool"])
    header = {"dataset": dataset, "strategy": strategy, "learner": learner}
    tasks = [
        RunTask(
            learner,
            strategy,
            seed,
            protocol,
            {**header, "seed": seed},
            run_path(dataset, strategy, learner, seed).name,
            name,
            {"learner": study.learner_spec(learner, dataset), "strategy": study.strategy_spec(strategy)},
        )
        for seed in range(study.seeds)
    ]
    inputs = {"prepared": _cached(cache, f"md5:{prepared}", lambda: md5_file(prepared))}
    return StagePlan(f"capped/{strategy}", tasks, lambda: {name: data}, inputs, outputs)


def capped_stage(study: Study, cache: dict[str, Any] | None = None) -> Stage:
    """The ``capped`` stage: every strategy of the study on ``cap_check.dataset`` (:func:`plan_capped`), sharing one
    copy of its features through ``cache`` (a new one when None)."""
    dataset, cache = study.cap_check["dataset"], {} if cache is None else cache
    prepared = PREPARED / f"{dataset}.npz"
    plans = [
        plan_capped(study, strategy, prepared, Outputs(*capped_paths(dataset, strategy)), cache)
        for strategy in study.strategies
    ]
    return Stage("capped", plans, *capped_stage_paths(dataset))
