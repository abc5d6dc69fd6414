"""The whole study's runs in flight at once (``medal submit``), for clusters larger than one stage.

``dvc repro`` runs one stage after another, so a cluster can only work on one stage's runs at a
time (one dataset's, for an ``al`` stage). ``medal submit`` keeps DVC's stages, outputs and lock as
they are and changes only when their runs are computed: it brings the stages the runs read up to
date (``dvc repro prepare``), asks DVC which experiment stages are stale (``dvc status``), plans
each of them as its stage would (:func:`~medal.experiment.runner.al_stage`,
:func:`~medal.experiment.runner.sweep_stage`, :func:`~medal.experiment.capped.capped_stage`),
computes all their runs at once on the cluster (or local processes), keeping each in its stage's
scratch folder with its fingerprint, and then runs ``dvc repro``. Each stage finds its runs kept,
checks their fingerprints and publishes them; a changed strategy still recomputes only its own
runs, because the others' fingerprints match the runs their stage published before. The stages that
need neither the runs nor feed them (model selection, reference scores) are reproduced by a second
``dvc repro`` while the runs are computed when some Dask worker is on another machine, so that the
cluster does not wait for them; if workers share this machine too, the stages get one core (one
process at a time, ``MEDAL_N_JOBS=1``), which those workers leave free until the stages are done
(:meth:`~medal.experiment.executor.Executor.making_room`). When every run computes on this machine
(local processes, or every worker here) they run after the runs: beside them both slowed down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from functools import partial
from typing import Any

from medal.design import SWEEP_SETTINGS
from medal.errors import UserError
from medal.experiment.capped import capped_stage
from medal.experiment.executor import N_JOBS_ENV, Executor
from medal.experiment.plans import BY_SUBMIT, Kept
from medal.experiment.runner import SUBMISSION_RECORD, Stage, al_stage, keep_runs, sweep_stage
from medal.fileio import write_json_atomic
from medal.layout import PARTIAL
from medal.reproduce import dvc
from medal.reproduce.environment import format_duration
from medal.study import Study

# Plans one stage, given a cache its feature sets are shared through (``cache=``).
Planner = Callable[..., Stage]
# The stages that read the fetched and prepared data but neither feed an experiment stage nor read one's outputs:
# with runs on other machines, ``dvc repro`` runs them here meanwhile (dvc.yaml's ``select`` and ``reference``).
BESIDE_RUNS = ("select", "reference")
BESIDE_LOG = PARTIAL / "beside-runs.log"
# Cores they get when Dask workers share this machine (one process at a time: ``select`` is one, ``reference`` gets
# ``MEDAL_N_JOBS``), left free by those workers while the stages run.
BESIDE_CORES = 1


def experiment_stages(study: Study) -> dict[str, Planner]:
    """Every experiment stage of ``dvc.yaml`` by its DVC name (``al@<dataset>``, ``capped``,
    ``sweep@<dataset>-<setting>``), with the function that plans it given a shared cache."""
    stages: dict[str, Planner] = {f"al@{dataset}": partial(al_stage, study, dataset) for dataset in study.datasets}
    stages["capped"] = partial(capped_stage, study)
    for dataset in study.sweeps["datasets"]:
        for setting in SWEEP_SETTINGS:
            stages[f"sweep@{dataset}-{setting}"] = partial(sweep_stage, study, dataset, setting)
    return stages


def submit(study: Study, force: bool = False, then_repro: bool = True) -> list[str]:
    """Compute the runs of every stale experiment stage (every one with ``force``) at once, then ``dvc repro`` the
    stages of :data:`BESIDE_RUNS` (meanwhile, when some worker is on another machine) and the rest, unless
    ``then_repro`` is false; return the stages submitted. With ``force`` every stage is rerun, each once."""
    forced = ["-f"] if force else []
    failed = f"dvc repro of the {' and '.join(BESIDE_RUNS)} stages failed (see its output above)"
    dvc.repro(*forced, "prepare", failure="the data stages failed (see dvc's output above); nothing was submitted")
    stages = experiment_stages(study)
    listed = dvc.stage_names() or set(stages)
    missing = set(stages) - listed
    if missing:
        raise UserError(f"dvc.yaml has no stage {sorted(missing)[0]}; run medal submit from the project root")
    stale = set(stages) if force else dvc.stale_stages()
    names = [name for name in stages if name in stale]
    beside = False
    if names:
        with Executor.for_study(study) as executor, ExitStack() as stack:
            # Beside runs on all of this machine's cores they only slowed both down (measured on 2 cores, even with
            # a core left to them: benchmarks/measurements.md), so they go beside only when a worker is elsewhere.
            here = executor.threads_here()
            beside = then_repro and executor.dask and here < executor.workers
            if beside:
                cores = {N_JOBS_ENV: str(BESIDE_CORES)} if here else {}
                command = (*forced, "-s", *BESIDE_RUNS)
                busy = stack.enter_context(
                    dvc.repro_beside(*command, log=BESIDE_LOG, failure=failed, environment=cores)
                )
                if here:
                    stack.enter_context(executor.making_room(BESIDE_CORES, busy))
            _compute(executor, study.primary_metric, [stages[name] for name in names])
    else:
        print("[submit] every experiment stage is up to date", flush=True)
    if then_repro:
        if not beside:
            dvc.repro(*forced, "-s", *BESIDE_RUNS, failure=failed)
        # Forced, the stages above have run: only the submitted stages and those downstream of them are left.
        targets = ["-f", "--downstream", *dvc.by_group(names, listed)] if force and names else forced
        dvc.repro(*targets, failure="dvc repro failed after the submission (see its output above)")
        SUBMISSION_RECORD.unlink(missing_ok=True)
        BESIDE_LOG.unlink(missing_ok=True)
        with suppress(OSError):
            SUBMISSION_RECORD.parent.rmdir()  # once every stage has published its runs
    return names


def _compute(executor: Executor, primary_metric: str, planners: list[Planner]) -> None:
    """Plan the stages (sharing their feature sets), compute every run at once on ``executor`` (the progress shows
    ``primary_metric``) and record the submission."""
    started = time.perf_counter()
    cache: dict[str, Any] = {}
    stages = [plan(cache=cache) for plan in planners]
    plans = [plan for stage in stages for plan in stage.plans]
    runs = sum(len(plan.tasks) for plan in plans)
    kept = Kept.find(plans)
    pending = sum(record is None for records in kept.records.values() for record in records.values())
    print(
        f"[submit] {pending} of the {runs} runs of {len(stages)} stages to compute (the others kept, or published "
        "by an earlier build with the same fingerprint), all in flight at once, the longest first",
        flush=True,
    )
    keep_runs(executor, plans, kept, BY_SUBMIT, primary_metric, label="submit")
    on = {"dask": executor.dask, "workers": executor.workers}
    seconds = time.perf_counter() - started
    write_json_atomic(SUBMISSION_RECORD, {"runs": runs, "stages": len(stages), **on, "wall_seconds": seconds})
    print(f"[submit] computed in {format_duration(seconds)}", flush=True)
