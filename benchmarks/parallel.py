"""Parallel speed-up: one stage's runs on one process and on two, with byte-identical results."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import TARGETS, log, met, study_data

from medal.experiment.plans import Outputs
from medal.experiment.runner import Stage, plan_strategy, run_stage
from medal.fileio import write_npz_atomic
from medal.study import Study


def _timed_entropy_stage(params: dict[str, Any], prepared: Path, out: Path) -> tuple[float, dict[str, bytes]]:
    """Run entropy's runs of ``params`` on ``prepared`` as one stage into ``out``: its wall time (planning included)
    and its result files' bytes."""
    start = time.perf_counter()
    study = Study.from_params(params)
    outputs = Outputs(out / "runs", out / "partial", out / "timings")
    plan = plan_strategy(study, "bench", "entropy", prepared, outputs)
    run_stage(study, Stage("al@bench", [plan], outputs.results, outputs.timings))
    seconds = time.perf_counter() - start
    return seconds, {p.name: p.read_bytes() for p in sorted((out / "runs").iterdir())}


def parallel(params: dict[str, Any], seeds: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="medal-bench-"))
    try:
        prepared = work / "prepared.npz"
        write_npz_atomic(prepared, study_data()[1])
        # Entropy sampling with the main learner, one run per seed, as in a stage of the main experiment (the main
        # learner runs study.main_seeds seeds, or main_seeds_by_dataset's: both set to ``seeds``).
        study = {**params["study"], "learner_strategies": ["random"], "main_seeds": seeds, "main_seeds_by_dataset": {}}
        local = {**params, "al": {**params["al"], "seeds": seeds}, "study": study}
        seconds, files = {}, {}
        for n_jobs in (1, 2):
            local["compute"] = {"n_jobs": n_jobs}
            seconds[n_jobs], files[n_jobs] = _timed_entropy_stage(local, prepared, work / f"jobs{n_jobs}")
        speedup = seconds[1] / seconds[2]
        identical = files[1] == files[2]
        log(
            f"parallel: {len(files[1])} runs, n_jobs=1 {seconds[1]:.1f} s, n_jobs=2 {seconds[2]:.1f} s, "
            f"speed-up {speedup:.2f}x, results {'byte-identical' if identical else 'DIFFERENT'}"
        )
        return {
            "runs": len(files[1]),
            "seconds_n_jobs_1": seconds[1],
            "seconds_n_jobs_2": seconds[2],
            "speedup": speedup,
            "byte_identical": identical,
            "cores": os.cpu_count(),
            "target": TARGETS["parallel_min_speedup"],
            "met": identical and speedup >= TARGETS["parallel_min_speedup"],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(params: dict[str, Any], quick: bool) -> dict[str, Any]:
    return parallel(params, seeds=2 if quick else 40)


def markdown(r: dict[str, Any]) -> list[str]:
    return [
        f"- Parallel: {r['speedup']:.2f}x with 2 processes over 1 ({r['runs']} runs), results "
        f"{'byte-identical' if r['byte_identical'] else 'DIFFERENT'}; target >= {r['target']}: {met(r)}"
    ]
