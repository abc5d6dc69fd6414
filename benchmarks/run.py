"""Benchmarks of the study's machinery: loop overhead, partial_fit versus refit, scaling with the pool,
parallel speed-up, a Dask cluster against local processes, incremental rebuilds, peak memory and the cost of
the pinned BLAS kernels.

    python benchmarks/run.py                 # everything, about 10 minutes on 2 cores
    python benchmarks/run.py --only strategy_scaling  # one part

Run from the project root with the environment active, on an otherwise idle machine, after
`dvc repro` (the incremental-rebuild part needs a built workspace). Every figure is a ratio of two
measurements taken side by side, or a curve over sizes, so it holds on a noisy machine. Results go
to benchmarks/results.json (and a readable benchmarks/results.md); the command exits with 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

import dask
import numpy as np
import yaml
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from medal.config import load_params
from medal.design import STAGE_TIMING_FILE
from medal.experiment.cluster import DASK_SETTINGS, cluster_environment
from medal.experiment.learners import Learner
from medal.experiment.loop import Protocol, initial_indices, run_active_learning
from medal.experiment.runner import Outputs, run_strategy
from medal.experiment.strategies import Strategy
from medal.fileio import load_npz, read_json, write_npz_atomic, write_text_atomic
from medal.report.learners import update_modes as learner_update_modes

sys.path.insert(0, str(Path(__file__).resolve().parent))  # this folder's benchmark modules
import strategy_scaling  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "loop_overhead_max_ratio": 1.10,
    "parallel_min_speedup": 1.7,
    "cluster_min_relative_speed": 0.9,
    "in_task_max_ratio": 1.2,
    "paper_rebuild_max_seconds": 30.0,
    "pinned_kernel_max_slowdown": 1.25,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def synthetic(n_pool: int, n_test: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """A standardised 50-feature, two-class problem split into pool and test (the prepared files' layout)."""
    X, y = make_classification(n_pool + n_test, n_features=50, n_informative=10, weights=[0.3], random_state=seed)
    X = StandardScaler().fit_transform(X)
    return {"X_pool": X[:n_pool], "y_pool": y[:n_pool], "X_test": X[n_pool:], "y_test": y[n_pool:]}


def study_data() -> tuple[str, dict[str, np.ndarray]]:
    """The prepared PneumoniaMNIST features when the pipeline has built them, else a synthetic stand-in."""
    path = ROOT / "data" / "prepared" / "pneumoniamnist.npz"
    return ("pneumoniamnist", load_npz(path)) if path.is_file() else ("synthetic-5000", synthetic(5000))


# 1. Loop overhead ---------------------------------------------------------------------------------


def minimal_loop(
    data: dict[str, np.ndarray], protocol: Protocol, seed: int, logreg_params: dict[str, Any]
) -> np.ndarray:
    """The same work written directly against scikit-activeml: fit, score the test set, query; the labelled indices at
    the end. ``logreg_params``: the study's logistic-regression parameters."""
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import UncertaintySampling
    from sklearn.metrics import balanced_accuracy_score

    X, y_true = data["X_pool"], data["y_pool"]
    classes = np.unique(np.concatenate([y_true, data["y_test"]]))
    clf = SklearnClassifier(LogisticRegression(**logreg_params, random_state=seed), classes=classes, random_state=seed)
    query = UncertaintySampling(method="entropy", random_state=seed)
    y = np.full(len(X), np.nan)
    new = initial_indices(y_true, protocol.initial_labels, np.random.default_rng(seed))
    counts = protocol.label_counts(len(X))
    for cycle, n_labels in enumerate(counts):
        y[new] = y_true[new]
        clf.fit(X, y)
        balanced_accuracy_score(data["y_test"], clf.predict(data["X_test"]))
        if cycle + 1 < len(counts):
            new = query.query(X, y, clf=clf, fit_clf=False, batch_size=counts[cycle + 1] - n_labels)
    return np.flatnonzero(~np.isnan(y))


def loop_overhead(params: dict[str, Any], repeats: int) -> dict[str, Any]:
    name, data = study_data()
    protocol = Protocol.from_params(params["al"])
    ours, minimal = [], []
    with threadpool_limits(1):
        for repeat in range(repeats):  # interleaved, so that drifts of the machine hit both alike
            start = time.perf_counter()
            result = run_active_learning(
                data["X_pool"],
                data["y_pool"],
                data["X_test"],
                data["y_test"],
                Learner.from_params("logreg", params["learners"]["logreg"]),
                Strategy.from_params("entropy", params["strategies"]["entropy"], random_state=repeat),
                protocol,
                repeat,
            )
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            spec = params["learners"]["logreg"]
            weighting = {"class_weight": "balanced"} if spec.get("class_weight") == "balanced" else {}
            labelled = minimal_loop(data, protocol, repeat, {**(spec.get("params") or {}), **weighting})
            minimal.append(time.perf_counter() - start)
            queried = np.sort(np.concatenate([c["queried"] for c in result.cycles]))
            if not np.array_equal(queried, labelled):
                raise RuntimeError("the minimal loop queried other samples: it does not do the same work")
    ratio = median(ours) / median(minimal)
    log(
        f"loop overhead on {name}: ours {median(ours):.3f} s, minimal {median(minimal):.3f} s per run, ratio "
        f"{ratio:.3f}"
    )
    return {
        "data": name,
        "runs": repeats,
        "ours_seconds": median(ours),
        "minimal_seconds": median(minimal),
        "ratio": ratio,
        "target": TARGETS["loop_overhead_max_ratio"],
        "met": ratio <= TARGETS["loop_overhead_max_ratio"],
    }


# 2. partial_fit versus refit ------------------------------------------------------------------------


def update_modes(params: dict[str, Any], sizes: list[int], cycles: int) -> dict[str, Any]:
    rows = []
    with threadpool_limits(1):
        for n_pool in sizes:
            data = synthetic(n_pool)
            batch = max(1, n_pool // 100)
            protocol = Protocol(20, batch, 20 + cycles * batch)
            for estimator, modes in learner_update_modes(params):
                if "partial_fit" not in modes:
                    continue
                incremental, refit = modes["partial_fit"], modes["fit"]
                seconds = {}
                for learner in (incremental, refit):
                    result = run_active_learning(
                        data["X_pool"],
                        data["y_pool"],
                        data["X_test"],
                        data["y_test"],
                        Learner.from_params(learner, params["learners"][learner]),
                        Strategy("random", "random", random_state=0),
                        protocol,
                        0,
                    )
                    seconds[learner] = [t["fit_seconds"] for t in result.timings]
                row = {
                    "estimator": estimator,
                    "pool": n_pool,
                    "batch": batch,
                    "cycles": cycles,
                    "partial_fit_ms_per_cycle": 1000 * float(np.mean(seconds[incremental])),
                    "refit_ms_per_cycle": 1000 * float(np.mean(seconds[refit])),
                    "partial_fit_total_s": float(np.sum(seconds[incremental])),
                    "refit_total_s": float(np.sum(seconds[refit])),
                }
                row["speedup"] = row["refit_total_s"] / row["partial_fit_total_s"]
                log(
                    f"update {estimator} pool {n_pool}: partial_fit {row['partial_fit_ms_per_cycle']:.1f} ms, "
                    f"refit {row['refit_ms_per_cycle']:.1f} ms per cycle, speed-up {row['speedup']:.1f}x"
                )
                rows.append(row)
    return {"rows": rows, "note": "batch = 1 % of the pool, 20 initial labels, random queries; update time only"}


# 3. Scaling with the pool: strategy_scaling.py


# 4. Parallel speed-up -----------------------------------------------------------------------------------


def _timed_entropy_stage(params: dict[str, Any], prepared: Path, out: Path) -> tuple[float, dict[str, bytes]]:
    """Run the entropy stage of ``params`` on ``prepared`` into ``out``: its wall time and its result files' bytes."""
    start = time.perf_counter()
    run_strategy(params, "bench", "entropy", prepared, Outputs(out / "runs", out / "partial", out / "timings"))
    seconds = time.perf_counter() - start
    return seconds, {p.name: p.read_bytes() for p in sorted((out / "runs").iterdir())}


def parallel(params: dict[str, Any], seeds: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="medal-bench-"))
    try:
        prepared = work / "prepared.npz"
        write_npz_atomic(prepared, study_data()[1])
        # Entropy sampling with the main learner, one run per seed, as in a stage of the main experiment.
        local = {
            **params,
            "al": {**params["al"], "seeds": seeds},
            "study": {**params["study"], "learner_strategies": ["random"]},
        }
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


# 4b. A Dask cluster against local processes ----------------------------------------------------------------


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

    from medal.experiment.compute import RunTask, run_one

    protocol = Protocol.from_params(params["al"])
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
        relative = seconds["local"] / seconds["cluster"]
        identical = files["local"] == files["cluster"]
        runs_in_task = ", ".join(
            f"{k} {v['task']:.1f} s in a task vs {v['here']:.1f} s here" for k, v in in_task.items()
        )
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
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


# 4c. The whole study on more workers, simulated --------------------------------------------------------------


def recorded_durations(timings: Path) -> tuple[dict[str, list[float]], str]:
    """Each experiment stage's run durations as the last build recorded them (``seconds``; builds before it was
    recorded: the sum of each cycle's fit and query time), by stage folder."""
    stages, source = {}, "recorded run seconds"
    for stage_file in sorted(timings.rglob(STAGE_TIMING_FILE)):
        durations = []
        for run in sorted(stage_file.parent.rglob("*.json")):
            if run.name == STAGE_TIMING_FILE:
                continue
            record = read_json(run)
            if record.get("seconds") is None:
                source = "sum of each cycle's fit and query seconds"
                durations.append(sum(c["fit_seconds"] + c["query_seconds"] for c in record["cycles"]))
            else:
                durations.append(record["seconds"])
        stages[str(stage_file.parent.relative_to(timings))] = durations
    return stages, source


def _makespan(client: Any, stages: dict[str, list[float]], scale: float, study_wide: bool) -> float:
    """Wall time of every run, each a sleep of ``scale`` × its duration: stage after stage (as ``dvc repro`` runs
    them) or all at once (``medal submit``), the longest runs first in either case, as the runner submits them."""
    from dask.distributed import wait

    start = time.perf_counter()
    batches = [[d for durations in stages.values() for d in durations]] if study_wide else list(stages.values())
    for durations in batches:
        wait(client.map(time.sleep, [d * scale for d in sorted(durations, reverse=True)], pure=False))
    return (time.perf_counter() - start) / scale


def scale_out(workers: list[int], scale: float) -> dict[str, Any]:
    """Speed-up of the whole study on ``workers`` workers, stage by stage against all runs at once, simulated on a
    Dask cluster whose tasks sleep for the runs' recorded durations (scaled by ``scale``)."""
    from dask.distributed import Client, LocalCluster

    stages, source = recorded_durations(ROOT / "data" / "timings")
    if not stages:
        raise SystemExit("scale_out: no recorded timings in data/timings; run dvc repro first")
    serial = sum(sum(durations) for durations in stages.values())
    rows = []
    for n in workers:
        with (
            LocalCluster(n_workers=1, threads_per_worker=n, processes=False, dashboard_address=None) as local,
            Client(local) as client,
        ):
            per_stage, study_wide = (_makespan(client, stages, scale, wide) for wide in (False, True))
        rows.append(
            {
                "workers": n,
                "stage_by_stage_seconds": per_stage,
                "study_wide_seconds": study_wide,
                "stage_by_stage_speedup": serial / per_stage,
                "study_wide_speedup": serial / study_wide,
            }
        )
        log(
            f"scale_out: {n} workers: stage by stage {per_stage:.0f} s ({serial / per_stage:.1f}x), all at once "
            f"{study_wide:.0f} s ({serial / study_wide:.1f}x)"
        )
    return {
        "stages": len(stages),
        "runs": sum(len(durations) for durations in stages.values()),
        "serial_seconds": serial,
        "durations": source,
        "time_scale": scale,
        "rows": rows,
    }


# 5. Incremental rebuilds ----------------------------------------------------------------------------------


def _dvc(*args: str) -> str:
    result = subprocess.run(["dvc", *args], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"dvc {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def _edited(path: Path, edit: Callable[[str], str], action: Callable[[], Any]) -> Any:
    """Run ``action`` with ``path`` edited, and restore the file afterwards whatever happens."""
    original = path.read_text()
    try:
        path.write_text(edit(original))
        return action()
    finally:
        path.write_text(original)


def incremental() -> dict[str, Any]:
    if _dvc("status").strip() != "Data and pipelines are up to date.":
        raise RuntimeError("the workspace is not built (dvc status shows changes): run dvc repro first")
    qmd = ROOT / "paper" / "paper.qmd"

    def rebuild() -> tuple[float, list[str]]:
        start = time.perf_counter()
        out = _dvc("repro")
        return time.perf_counter() - start, re.findall(r"Running stage '([^']+)'", out)

    # A new sentence each time: DVC's run cache would restore the outputs of a text it has rendered before.
    sentence = f"Benchmark sentence {time.time_ns()}."
    seconds, stages = _edited(qmd, lambda text: text.replace("# Conclusion", f"{sentence}\n\n# Conclusion", 1), rebuild)
    rebuild()  # back to the committed text
    params_path = ROOT / "params.yaml"
    changed = _edited(
        params_path,
        lambda text: text.replace(
            "  margin: {method: margin_sampling}", "  margin: {method: margin_sampling, max_candidates: 999}", 1
        ),
        lambda: sorted(json.loads(_dvc("status", "--json"))),
    )
    runs = [name for name in changed if name.startswith(("al@", "sweep@"))]
    only_margin = bool(runs) and all(name.endswith("-margin") for name in runs)
    log(f"incremental: text-only rebuild {seconds:.1f} s running {stages}; a margin change would rerun {changed}")
    return {
        "paper_rebuild_seconds": seconds,
        "paper_rebuild_stages": stages,
        "strategy_change_reruns": changed,
        "target_seconds": TARGETS["paper_rebuild_max_seconds"],
        "met": seconds < TARGETS["paper_rebuild_max_seconds"] and stages == ["paper"] and only_margin,
    }


# 6. Peak memory ----------------------------------------------------------------------------------------------


def _peak_kib(command: list[str], cwd: Path) -> int:
    """Peak resident memory (KiB) of the largest process of ``command``, from GNU time."""
    result = subprocess.run(["/usr/bin/time", "-f", "%M", *command], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()[-300:]}")
    return int(result.stderr.strip().splitlines()[-1])


BIG_POOL_RUN = """
import sys
sys.path.insert(0, {bench!r})
from run import synthetic
from medal.config import load_params
from medal.design import STAGE_TIMING_FILE
from medal.experiment.learners import Learner
from medal.experiment.loop import Protocol, run_active_learning
from medal.experiment.strategies import Strategy
params = load_params({params!r})
data = synthetic({n})
run_active_learning(data["X_pool"], data["y_pool"], data["X_test"], data["y_test"],
                    Learner.from_params("logreg", params["learners"]["logreg"]),
                    Strategy("entropy", "entropy", random_state=0), Protocol(10, 10, 60), 0)
"""


def memory(params: dict[str, Any], big_pool: int) -> dict[str, Any]:
    result = {}
    work = Path(tempfile.mkdtemp(prefix="medal-bench-"))
    try:
        prepared = ROOT / "data" / "prepared" / "pneumoniamnist.npz"
        if prepared.is_file():
            (work / "data" / "prepared").mkdir(parents=True)
            shutil.copy(prepared, work / "data" / "prepared")
            stage = yaml.safe_load((ROOT / "params.yaml").read_text())
            stage["al"]["seeds"] = 2  # every learner of the largest stage, two seeds each
            (work / "params.yaml").write_text(yaml.safe_dump(stage))
            kib = _peak_kib([sys.executable, "-m", "medal.cli", "al", "pneumoniamnist", "entropy"], work)
            result["largest_stage"] = {
                "stage": "al@pneumoniamnist-entropy (9 learners, 2 seeds)",
                "peak_mib": kib / 1024,
            }
            log(f"memory: al@pneumoniamnist-entropy peak {kib / 1024:.0f} MiB per process")
        script = BIG_POOL_RUN.format(bench=str(Path(__file__).parent), params=str(ROOT / "params.yaml"), n=big_pool)
        kib = _peak_kib([sys.executable, "-c", script], ROOT)
        result["big_pool_run"] = {"pool": big_pool, "features": 50, "peak_mib": kib / 1024}
        log(f"memory: one run on a {big_pool}-point pool peak {kib / 1024:.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


# Report -------------------------------------------------------------------------------------------------------


# 7. The pinned BLAS kernels against the CPU's own ------------------------------------------------------

# A stage's work (features, then active-learning runs) in a fresh process. With "native", numpy is
# imported before medal, so OpenBLAS keeps the kernel it picks for this CPU and medal cannot pin it.
KERNEL_WORKLOAD = """
import sys, json, time
if sys.argv[1] == "native":
    import numpy
import medal
from medal.config import load_params
from medal.design import STAGE_TIMING_FILE
from medal.reproduce.environment import numerical_platform
from medal.fileio import load_npz
from medal.experiment.learners import Learner
from medal.experiment.loop import Protocol, run_active_learning
from medal.data.prepare import prepare
from medal.experiment.strategies import Strategy
from threadpoolctl import threadpool_limits

params = load_params("params.yaml")
start = time.perf_counter()
with threadpool_limits(limits=1):
    data = prepare(load_npz("data/raw/pneumoniamnist.npz"), params["prepare"]["pneumoniamnist"])
    scores = []
    for learner in ("logreg", "mlp_refit"):
        for seed in range(int(sys.argv[2])):
            result = run_active_learning(
                data["X_pool"], data["y_pool"], data["X_test"], data["y_test"],
                Learner.from_params(learner, params["learners"][learner]),
                Strategy.from_params("entropy", params["strategies"]["entropy"], random_state=seed),
                Protocol.from_params(params["al"]), seed)
            scores.append([c["balanced_accuracy"] for c in result.cycles])
print(json.dumps({"seconds": time.perf_counter() - start, "blas": numerical_platform()["blas"], "scores": scores}))
"""


def blas_kernel(seeds: int, repeats: int) -> dict[str, Any]:
    """Wall time of the same work on the pinned kernels and on the kernels OpenBLAS picks for this CPU,
    alternating, each in a fresh process with OPENBLAS_CORETYPE unset (so this part changes the
    benchmark processes' environment; the test suite does not run it)."""
    if not (ROOT / "data" / "raw" / "pneumoniamnist.npz").is_file():
        raise RuntimeError("blas_kernel needs data/raw/pneumoniamnist.npz; run `dvc repro fetch` first")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    seconds: dict[str, list[float]] = {"pinned": [], "native": []}
    outputs: dict[str, dict[str, Any]] = {}
    for _ in range(repeats):
        for mode in seconds:
            done = subprocess.run(
                [sys.executable, "-c", KERNEL_WORKLOAD, mode, str(seeds)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            outputs[mode] = json.loads(done.stdout)
            seconds[mode].append(outputs[mode]["seconds"])
    slowdown = median(seconds["pinned"]) / median(seconds["native"])
    same = outputs["pinned"]["scores"] == outputs["native"]["scores"]
    log(
        f"blas_kernel: pinned {outputs['pinned']['blas']} {median(seconds['pinned']):.1f} s, native "
        f"{outputs['native']['blas']} {median(seconds['native']):.1f} s: {slowdown:.2f}x; scores "
        f"{'identical' if same else 'differ'}"
    )
    return {
        "pinned_kernels": outputs["pinned"]["blas"],
        "native_kernels": outputs["native"]["blas"],
        "pinned_seconds": seconds["pinned"],
        "native_seconds": seconds["native"],
        "slowdown": slowdown,
        "runs": 2 * seeds,
        "scores_identical": same,
        "target": TARGETS["pinned_kernel_max_slowdown"],
        "met": slowdown <= TARGETS["pinned_kernel_max_slowdown"],
    }


def markdown(results: dict[str, Any]) -> str:
    """A readable summary of ``results``."""
    lines = ["# Benchmark results", "", f"Machine: {results['machine']}", ""]
    if "loop_overhead" in results:
        r = results["loop_overhead"]
        lines += [
            f"- Loop overhead ({r['data']}): {r['ratio']:.3f}x a minimal scikit-activeml loop "
            f"({r['ours_seconds']:.3f} s vs {r['minimal_seconds']:.3f} s per run); target <= {r['target']}: "
            f"{'met' if r['met'] else 'MISSED'}"
        ]
    if "parallel" in results:
        r = results["parallel"]
        lines += [
            f"- Parallel: {r['speedup']:.2f}x with 2 processes over 1 ({r['runs']} runs), results "
            f"{'byte-identical' if r['byte_identical'] else 'DIFFERENT'}; target >= {r['target']}: "
            f"{'met' if r['met'] else 'MISSED'}"
        ]
    if "cluster" in results:
        r = results["cluster"]
        lines += [
            f"- Dask cluster: {r['relative_speed']:.2f}x the speed of {r['workers']} local processes with "
            f"{r['workers']} worker processes ({r['runs']} runs: {r['seconds_cluster']:.1f} s vs "
            f"{r['seconds_local']:.1f} s), "
            f"results {'byte-identical' if r['byte_identical'] else 'DIFFERENT'}; one run in a cluster task vs in "
            f"the client: "
            + ", ".join(
                f"{k} {v['task']:.1f} s vs {v['here']:.1f} s ({v['ratio']:.2f}x)" for k, v in r["in_task"].items()
            )
            + f"; targets >= {r['target']} and <= {r['in_task_target']}: {'met' if r['met'] else 'MISSED'}"
        ]
    if "scale_out" in results:
        r = results["scale_out"]
        lines += [
            f"- The whole study ({r['runs']} runs in {r['stages']} experiment stages, {r['serial_seconds']:.0f} s of "
            f"runs one after another; {r['durations']}), simulated with sleeps at {r['time_scale']}x time:",
            "",
            "| workers | stage by stage (dvc repro) | speed-up | all at once (medal submit) | speed-up |",
            "|--:|--:|--:|--:|--:|",
            *(
                f"| {row['workers']} | {row['stage_by_stage_seconds']:.0f} s | {row['stage_by_stage_speedup']:.1f}x | "
                f"{row['study_wide_seconds']:.0f} s | {row['study_wide_speedup']:.1f}x |"
                for row in r["rows"]
            ),
            "",
        ]
    if "incremental" in results:
        r = results["incremental"]
        lines += [
            f"- Text-only rebuild: {r['paper_rebuild_seconds']:.1f} s (stages {r['paper_rebuild_stages']}); "
            f"a change to one strategy reruns {r['strategy_change_reruns']}; {'met' if r['met'] else 'MISSED'}"
        ]
    if "memory" in results:
        for r in results["memory"].values():
            what = r["stage"] if "stage" in r else f"one run on a {r['pool']}-point pool"
            lines += [f"- Peak memory, {what}: {r['peak_mib']:.0f} MiB"]
    if "blas_kernel" in results:
        r = results["blas_kernel"]
        lines += [
            f"- Pinned BLAS kernels ({'; '.join(r['pinned_kernels'])}) against this CPU's own "
            f"({'; '.join(r['native_kernels'])}): {r['slowdown']:.2f}x the time (median of "
            f"{len(r['pinned_seconds'])}: {median(r['pinned_seconds']):.1f} s vs {median(r['native_seconds']):.1f} s "
            f"for PCA features and {r['runs']} runs on PneumoniaMNIST), scores "
            f"{'identical' if r['scores_identical'] else 'different'}; target <= {r['target']}: "
            f"{'met' if r['met'] else 'MISSED'}"
        ]
    if "update_modes" in results:
        lines += [
            "",
            "| estimator | pool | partial_fit ms/cycle | refit ms/cycle | speed-up |",
            "|---|--:|--:|--:|--:|",
        ]
        lines += [
            f"| {r['estimator']} | {r['pool']} | {r['partial_fit_ms_per_cycle']:.1f} | {r['refit_ms_per_cycle']:.1f} | "
            f"{r['speedup']:.1f}x |"
            for r in results["update_modes"]["rows"]
        ]
    if "strategy_scaling" in results:
        lines += strategy_scaling.markdown(results["strategy_scaling"])
    return "\n".join(lines) + "\n"


PARTS = (
    "loop_overhead",
    "update_modes",
    "strategy_scaling",
    "parallel",
    "cluster",
    "scale_out",
    "incremental",
    "memory",
    "blas_kernel",
)


def missed_targets(results: dict[str, Any]) -> list[str]:
    """The parts (and scaled strategies) whose target was missed."""
    missed = [part for part in results if isinstance(results[part], dict) and results[part].get("met") is False]
    rows = results.get("strategy_scaling", {}).get("rows", [])
    return missed + [f"strategy_scaling:{r['strategy']}" for r in rows if not r["met"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable)")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, to check that the benchmarks run (numbers meaningless)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    args = parser.parse_args(argv)
    params = load_params(ROOT / "params.yaml")
    quick = args.quick
    runners = {
        "loop_overhead": lambda: loop_overhead(params, repeats=1 if quick else 5),
        "update_modes": lambda: update_modes(params, [300] if quick else [500, 5000, 50000], cycles=2 if quick else 8),
        "strategy_scaling": lambda: strategy_scaling.strategy_scaling(
            params, (300, 600) if quick else strategy_scaling.SIZES, log=log
        ),
        "parallel": lambda: parallel(params, seeds=2 if quick else 40),
        "cluster": lambda: cluster(params, seeds=1 if quick else 10),
        "scale_out": lambda: scale_out([2, 8] if quick else [2, 8, 32, 128], scale=0.001 if quick else 0.01),
        "incremental": incremental,
        "memory": lambda: memory(params, 2000 if quick else 100000),
        "blas_kernel": lambda: blas_kernel(seeds=1 if quick else 4, repeats=1 if quick else 3),
    }
    from medal.reproduce.environment import machine

    # With --only, the other parts' earlier results are kept.
    results: dict[str, Any] = read_json(args.out) if args.only and args.out.is_file() else {}
    results.update({"machine": machine(), "quick": quick})
    start = time.perf_counter()
    for part in args.only or PARTS:
        log(f"== {part}")
        results[part] = runners[part]()
    results["total_seconds"] = time.perf_counter() - start
    write_text_atomic(args.out, json.dumps(results, indent=1, sort_keys=True) + "\n")
    write_text_atomic(args.out.with_suffix(".md"), markdown(results))
    missed = missed_targets(results)
    log(f"wrote {args.out} in {results['total_seconds']:.0f} s; targets missed: {', '.join(missed) or 'none'}")
    return 1 if missed and not quick else 0


if __name__ == "__main__":
    sys.exit(main())
