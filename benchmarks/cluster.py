"""A Dask cluster against local processes: one stage's runs on both, and single runs inside a cluster task."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dask
import numpy as np
from benchmarks.common import TARGETS, log, met, study_data
from benchmarks.parallel import _timed_entropy_stage

from medal.experiment.cluster import DASK_SETTINGS, cluster_environment
from medal.experiment.loop import Protocol
from medal.fileio import load_npz, write_npz_atomic


def _start_cluster(work: Path, workers: int) -> tuple[list[subprocess.Popen], str]:
    """A scheduler and ``workers`` single-threaded worker processes, started as the README's "On a cluster" says
    (separate processes, in the environment ``medal cluster-env`` prints); returns them and the address."""
    from dask.distributed import Client

    bin_dir = Path(sys.executable).parent
    scheduler_file = work / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": {**os.environ, **cluster_environment()}}
    processes = [
        subprocess.Popen(
            [bin_dir / "dask", "scheduler", "--scheduler-file", scheduler_file, "--port", "0", "--no-dashboard"],
            **quiet,
        )
    ]
    deadline = time.monotonic() + 60
    while not scheduler_file.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    command = [bin_dir / "dask", "worker", "--scheduler-file", scheduler_file, "--nthreads", "1"]
    processes.append(subprocess.Popen([*command, "--nworkers", str(workers), "--no-dashboard"], **quiet))
    with Client(scheduler_file=str(scheduler_file), timeout="60s") as client:
        client.wait_for_workers(workers, timeout=120)
        return processes, client.scheduler.address


# Learners timed one run at a time inside a cluster task: the forest has its own joblib parallelism, the
# multilayer perceptron allocates large arrays in every iteration.
IN_TASK_LEARNERS = ("random_forest", "mlp_refit")


def _in_task_seconds(params: dict[str, Any], data: dict[str, np.ndarray], address: str) -> dict[str, dict]:
    """Wall time of one entropy run with each of ``IN_TASK_LEARNERS``, in this process and as one task on the cluster
    (its data sent to the workers before the clock starts), and their ratio."""
    from dask.distributed import Client

    from medal.experiment.tasks import RunTask, run_one

    protocol = Protocol.from_params(params["al"], 2)  # the study's binary benchmark data
    seconds = {}
    with Client(address) as client:
        shared = client.scatter([data], broadcast=True)[0]
        for learner in IN_TASK_LEARNERS:
            spec = {"learner": params["learners"][learner], "strategy": params["strategies"]["entropy"]}
            task = RunTask(learner, "entropy", 0, protocol, {"dataset": "bench"}, "x", "data", spec)
            here = run_one(data, task, 0)[0].seconds
            in_task = client.submit(run_one, shared, task, 0, pure=False).result()[0].seconds
            seconds[learner] = {"here": here, "task": in_task, "ratio": in_task / here}
    return seconds


def cluster(params: dict[str, Any], seeds: int, workers: int = 2) -> dict[str, Any]:
    """One stage's runs (entropy with every learner, the random forest included) on a Dask cluster of ``workers``
    worker processes against ``workers`` local processes on the same cores: speed relative to local, and whether
    the results are byte-identical; and one run of each of ``IN_TASK_LEARNERS`` in a cluster task against one here."""
    work = Path(tempfile.mkdtemp(prefix="medal-bench-"))
    processes: list[subprocess.Popen] = []
    try:
        prepared = work / "prepared.npz"
        write_npz_atomic(prepared, study_data()[1])
        stage = {
            **params,
            "al": {**params["al"], "seeds": seeds},
            "study": {**params["study"], "main_seeds": seeds, "learner_strategies": ["entropy"]},
        }
        seconds, files = {}, {}
        # This process is the cluster's client: it gets the settings its workers get (README: exported for all).
        # distributed registers its configuration defaults on import: imported inside the block, they would be
        # dropped with the block's settings on exit and break every later Dask cluster of this process.
        import distributed  # noqa: F401

        with dask.config.set(DASK_SETTINGS):
            for where in ("local", "cluster"):
                if where == "cluster":
                    processes, address = _start_cluster(work, workers)
                    stage["compute"] = {"n_jobs": workers, "dask_scheduler": address}
                else:
                    stage["compute"] = {"n_jobs": workers, "dask_scheduler": None}
                seconds[where], files[where] = _timed_entropy_stage(stage, prepared, work / where)
            in_task = _in_task_seconds(stage, load_npz(prepared), address)
        return _record(seconds, files, in_task, workers)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def _record(
    seconds: dict[str, float], files: dict[str, dict], in_task: dict[str, dict[str, float]], workers: int
) -> dict[str, Any]:
    """The measurements of :func:`cluster` as the result record, logged; ``met`` against the targets."""
    relative = seconds["local"] / seconds["cluster"]
    identical = files["local"] == files["cluster"]
    runs_in_task = ", ".join(f"{k} {v['task']:.1f} s in a task vs {v['here']:.1f} s here" for k, v in in_task.items())
    log(
        f"cluster: {len(files['local'])} runs, {workers} local processes {seconds['local']:.1f} s, {workers} Dask "
        f"workers {seconds['cluster']:.1f} s, {relative:.2f}x local speed, results "
        f"{'byte-identical' if identical else 'DIFFERENT'}; one run of {runs_in_task}"
    )
    worst = max(v["ratio"] for v in in_task.values())
    return {
        "runs": len(files["local"]),
        "workers": workers,
        "seconds_local": seconds["local"],
        "seconds_cluster": seconds["cluster"],
        "relative_speed": relative,
        "byte_identical": identical,
        "in_task": in_task,
        "target": TARGETS["cluster_min_relative_speed"],
        "in_task_target": TARGETS["in_task_max_ratio"],
        "met": identical
        and relative >= TARGETS["cluster_min_relative_speed"]
        and worst <= TARGETS["in_task_max_ratio"],
    }


def run(params: dict[str, Any], quick: bool) -> dict[str, Any]:
    return cluster(params, seeds=1 if quick else 10)


def markdown(r: dict[str, Any]) -> list[str]:
    in_task = ", ".join(
        f"{k} {v['task']:.1f} s vs {v['here']:.1f} s ({v['ratio']:.2f}x)" for k, v in r["in_task"].items()
    )
    return [
        f"- Dask cluster: {r['relative_speed']:.2f}x the speed of {r['workers']} local processes with "
        f"{r['workers']} worker processes ({r['runs']} runs: {r['seconds_cluster']:.1f} s vs "
        f"{r['seconds_local']:.1f} s), results {'byte-identical' if r['byte_identical'] else 'DIFFERENT'}; one run in "
        f"a cluster task vs in the client: {in_task}; targets >= {r['target']} and <= {r['in_task_target']}: {met(r)}"
    ]
