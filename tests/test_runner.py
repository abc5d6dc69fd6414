"""The runner: byte-identical results whatever the parallelism, and nothing lost when a stage dies."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from medal.experiment import executor as compute_executor
from medal.experiment import plans, runner, tasks, worker
from medal.experiment.cluster import DASK_SETTINGS
from medal.experiment.plans import Outputs, fingerprint
from medal.experiment.runner import Stage, plan_strategy, run_stage
from medal.experiment.tasks import RunTask
from medal.fileio import read_json, write_json_atomic, write_npz_atomic, write_text_atomic
from medal.study import Study, spec_for_dataset

from conftest import ROOT


@pytest.fixture
def small(params, blobs, tmp_path):
    """params for two learners × two seeds of entropy sampling on the blobs, and the prepared file."""
    params["study"]["learner_strategies"] = ["entropy"]
    params["study"]["learners"] = ["logreg", "sgd_partial_fit"]
    params["al"] = {"initial_labels": 4, "batch_size": 4, "budget": 20, "seeds": 2}
    params["study"]["main_seeds"] = 2
    prepared = tmp_path / "prepared.npz"
    write_npz_atomic(prepared, blobs)
    return params, prepared


def _outputs(root: Path) -> Outputs:
    return Outputs(root / "runs", root / "partial", root / "timings")


def _run_strategy(study: Study, dataset: str, strategy: str, prepared: Path, outputs: Outputs) -> None:
    """One strategy as a stage of its own, publishing to ``outputs``' folders."""
    plan = plan_strategy(study, dataset, strategy, prepared, outputs)
    run_stage(study, Stage(f"al@{dataset}", [plan], outputs.results, outputs.timings))


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(params, prepared, root: Path) -> dict[str, bytes]:
    _run_strategy(Study.from_params(params), "blobs", "entropy", prepared, _outputs(root))
    return _files(root / "runs")


def test_results_are_byte_identical_for_one_or_two_processes(small, tmp_path):
    params, prepared = small
    params["compute"]["n_jobs"] = 1
    sequential = _run(params, prepared, tmp_path / "one")
    params["compute"]["n_jobs"] = 2
    parallel = _run(params, prepared, tmp_path / "two")
    assert len(sequential) == 4 and sequential == parallel
    assert not (tmp_path / "two" / "partial").exists()  # the scratch folder goes once the stage is done
    assert set(_files(tmp_path / "two" / "timings")) == {*parallel, runner.STAGE_TIMING_FILE}
    stage = read_json(tmp_path / "two" / "timings" / runner.STAGE_TIMING_FILE)
    assert (stage["runs"], stage["reused"], stage["submitted"]) == (4, 0, 0)
    assert stage["computed_on"] == {"dask": False, "workers": 2}
    assert stage["environment"]["versions"]["scikit-activeml"] == "1.0.1"


def test_dask_cluster_gives_the_local_results(small, tmp_path, monkeypatch):
    from dask.distributed import LocalCluster

    params, prepared = small
    local = _run(params, prepared, tmp_path / "local")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        monkeypatch.setenv(compute_executor.DASK_SCHEDULER_ENV, cluster.scheduler_address)
        assert compute_executor.dask_scheduler(params["compute"]["dask_scheduler"]) == cluster.scheduler_address
        distributed = _run(params, prepared, tmp_path / "dask")
    assert distributed == local


def test_threads_here_count_local_processes_and_the_dask_workers_on_this_machine_only(monkeypatch):
    from dask.distributed import LocalCluster

    with compute_executor.Executor(2) as executor:
        assert executor.threads_here() == 2
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        with compute_executor.Executor(address=cluster.scheduler_address) as executor:
            assert executor.threads_here() == 2
            monkeypatch.setattr(compute_executor, "this_machine_addresses", lambda: {"10.9.8.7"})
            assert executor.threads_here() == 0


# What the watched run function sees on an in-process cluster (module-level, so that Dask can pickle it).
WATCH: dict = {}


def _watched_run_one(data, task, index, parent_pid=None):
    active = ("waiting", "queued", "no-worker", "processing")
    WATCH["seen"].append((index, sum(ts.state in active for ts in WATCH["scheduler"].tasks.values())))
    return WATCH["run_one"](data, task, index, parent_pid)


def test_on_a_cluster_runs_are_handed_out_in_order_a_few_per_worker_at_a_time(small, tmp_path, monkeypatch):
    from dask.distributed import LocalCluster

    params, prepared = small
    params["al"]["seeds"] = params["study"]["main_seeds"] = 4  # 8 runs
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        WATCH.update(seen=[], scheduler=cluster.scheduler, run_one=compute_executor.run_one)
        monkeypatch.setattr(compute_executor, "run_one", _watched_run_one)
        monkeypatch.setenv(compute_executor.DASK_SCHEDULER_ENV, cluster.scheduler_address)
        _run(params, prepared, tmp_path / "dask")
    seen = WATCH["seen"]
    assert [index for index, _ in seen] == list(range(8))  # in the order given: the longest runs first
    assert max(count for _, count in seen) <= compute_executor.TASKS_PER_WORKER, seen  # not all 8 at once


@pytest.mark.parametrize("workers_here", [True, False])
def test_workers_here_make_room_while_asked_and_take_it_back_after(small, tmp_path, monkeypatch, workers_here):
    from dask.distributed import LocalCluster

    params, prepared = small
    params["al"]["seeds"] = params["study"]["main_seeds"] = 6  # 12 runs
    plan = runner.plan_strategy(Study.from_params(params), "blobs", "entropy", prepared, _outputs(tmp_path))
    if not workers_here:
        monkeypatch.setattr(compute_executor, "this_machine_addresses", lambda: {"10.9.8.7"})
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        WATCH.update(seen=[], scheduler=cluster.scheduler, run_one=compute_executor.run_one)
        monkeypatch.setattr(compute_executor, "run_one", _watched_run_one)
        busy = lambda: len(WATCH["seen"]) < 6  # noqa: E731 - the other work ends once six runs have started
        with compute_executor.Executor(address=cluster.scheduler_address) as executor, executor.making_room(1, busy):
            finished = list(executor.run(plan.tasks, plan.load()))
    assert sorted(run.index for run in finished) == list(range(12))
    while_busy = [count for _, count in WATCH["seen"][:6]]
    after = [count for _, count in WATCH["seen"][7:]]
    if workers_here:  # one of the two cores left free: one run at a time, none waiting; then the full share again
        assert max(while_busy) == 1, WATCH["seen"]
        assert max(after) > 1, WATCH["seen"]
    else:  # the workers are elsewhere: this machine's cores are not theirs to leave free
        assert max(while_busy) > 1, WATCH["seen"]


def test_on_a_cluster_each_run_is_one_task_even_with_a_parallel_learner(small, tmp_path, monkeypatch):
    from dask.distributed import LocalCluster, get_task_stream

    params, prepared = small
    params["study"]["learners"] = ["random_forest"]
    params["learners"]["random_forest"]["params"] = {"n_estimators": 20}
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        monkeypatch.setenv(compute_executor.DASK_SCHEDULER_ENV, cluster.scheduler_address)
        from dask.distributed import Client

        with Client(cluster.scheduler_address) as client, get_task_stream(client) as stream:
            _run(params, prepared, tmp_path / "dask")
    # Exactly one task per run (two seeds), not one per tree of every forest fit.
    assert len(stream.data) == params["al"]["seeds"], [task["key"] for task in stream.data][:5]


FAULTS = """
import resource, sys
import numpy as np
from medal.experiment.worker import undo_malloc_trimming
from medal.study import Study
if sys.argv[1] == "undone":
    undo_malloc_trimming()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    np.ones(2**17).sum()  # 1 MiB, allocated and freed
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc")
def test_in_a_dask_worker_freed_arrays_are_reused_not_mapped_afresh():
    env = {**os.environ, worker.MALLOC_TRIM_VARIABLE: "65536"}  # as Dask's nanny starts its workers
    faults = {
        mode: int(subprocess.run([sys.executable, "-c", FAULTS, mode], env=env, capture_output=True, check=True).stdout)
        for mode in ("as started", "undone")
    }
    # Mapped afresh, each 1 MiB array faults in its 256 pages (51,200 in all); reused, almost none do.
    assert faults["undone"] * 10 < faults["as started"], faults


def test_unreachable_dask_scheduler_is_a_clear_error(small, tmp_path, monkeypatch):
    import dask

    params, prepared = small
    monkeypatch.setenv(compute_executor.DASK_SCHEDULER_ENV, "tcp://127.0.0.1:9")
    monkeypatch.setattr(compute_executor, "DASK_CONNECT_TIMEOUT", "1s")
    with dask.config.set(UNSET):
        with pytest.raises(
            compute_executor.UserError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9 .*unset"
        ):
            _run_strategy(Study.from_params(params), "blobs", "entropy", prepared, _outputs(tmp_path))
        assert _settings() == UNSET  # the client's settings are undone when it cannot connect either
    assert not (tmp_path / "runs").exists()


# What this process's Dask configuration holds under DASK_SETTINGS' keys before an executor sets them.
UNSET = {key: f"before the executor: {key}" for key in DASK_SETTINGS}


def _settings() -> dict:
    import dask

    return {key: dask.config.get(key) for key in DASK_SETTINGS}


def test_the_client_wakes_as_seldom_as_the_cluster_and_undoes_its_settings_after():
    import dask
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with dask.config.set(UNSET):
            with compute_executor.Executor(address=cluster.scheduler_address):
                assert _settings() == DASK_SETTINGS
            assert _settings() == UNSET


def _keep(root: Path, path: str, record: dict) -> None:
    write_text_atomic(root / "partial" / path, json.dumps(record))


def _task(params, learner: str, seed: int) -> RunTask:
    return RunTask(
        learner,
        "entropy",
        seed,
        runner.Protocol.from_params(params["al"], 2),
        {"dataset": "blobs", "strategy": "entropy", "learner": learner, "seed": seed},
        runner.run_path("blobs", "entropy", learner, seed).name,
        "prepared",
        {
            "learner": spec_for_dataset(params["learners"][learner], "blobs"),
            "strategy": params["strategies"]["entropy"],
        },
    )


def test_a_rerun_reuses_kept_runs_whose_fingerprint_matches(small, tmp_path, capsys):
    params, prepared = small
    clean = _run(params, prepared, tmp_path / "clean")
    task = _task(params, "logreg", 1)
    digest = fingerprint(task, {"prepared": runner.md5_file(prepared)})
    marked = {**json.loads(clean[task.path]), "marker": "kept"}
    _keep(tmp_path, task.path, {"fingerprint": digest, "result": marked, "timings": []})
    resumed = _run(params, prepared, tmp_path)
    assert "reusing 1 runs finished before an interruption" in capsys.readouterr().err
    stage = read_json(tmp_path / "timings" / runner.STAGE_TIMING_FILE)
    assert (stage["runs"], stage["reused"], stage["submitted"]) == (4, 1, 0)
    assert json.loads(resumed[task.path])["marker"] == "kept"  # not recomputed
    assert {k: v for k, v in resumed.items() if k != task.path} == {k: v for k, v in clean.items() if k != task.path}


@pytest.mark.parametrize("content", ['{"fingerprint": "stale", "result": {}}', '{"fingerprint": tr'])
def test_stale_or_broken_kept_runs_are_recomputed(small, tmp_path, content):
    params, prepared = small
    clean = _run(params, prepared, tmp_path / "clean")
    write_text_atomic(tmp_path / "partial" / "logreg-seed0.json", content)
    assert _run(params, prepared, tmp_path) == clean


def test_runs_go_longest_first_by_recorded_duration_and_untimed_runs_before_them(small, tmp_path):
    params, _ = small
    tasks = [_task(params, "logreg", 0), _task(params, "logreg", 1), _task(params, "sgd_partial_fit", 0)]
    timings = tmp_path / "timings"
    write_json_atomic(timings / tasks[0].path, {"seconds": 1.0})
    write_json_atomic(timings / tasks[1].path, {"seconds": 5.0})
    plan = plans.StagePlan("t", tasks, dict, {}, Outputs(tmp_path / "runs", tmp_path / "partial", timings))
    kept = plans.Kept.find([plan])
    assert [(task, seconds) for _, task, seconds in kept.pending([plan])] == [
        (tasks[2], float("inf")),
        (tasks[1], 5.0),
        (tasks[0], 1.0),
    ]
    kept.records["t"][tasks[2].path] = {"kept": True}
    assert [task for _, task, _ in kept.pending([plan])] == [tasks[1], tasks[0]]


def test_a_stage_whose_runs_are_all_kept_publishes_them_without_loading_its_features(small, tmp_path):
    params, prepared = small
    clean = _run(params, prepared, tmp_path / "clean")
    plan = runner.plan_strategy(Study.from_params(params), "blobs", "entropy", prepared, _outputs(tmp_path))
    with compute_executor.Executor(1) as executor:
        runner.keep_runs(executor, [plan], plans.Kept.find([plan]), plans.BY_SUBMIT, "balanced_accuracy")

    def no_features() -> dict:
        raise AssertionError("features loaded although every run is kept")

    stage = Stage("al@blobs", [replace(plan, load=no_features)], tmp_path / "runs", tmp_path / "timings")
    runner.run_stage(Study.from_params(params), stage)
    assert _files(tmp_path / "runs") == clean
    assert read_json(tmp_path / "timings" / runner.STAGE_TIMING_FILE)["submitted"] == 4


def _two_strategy_stage(params, prepared, root: Path) -> Stage:
    """An ``al`` stage of entropy and margin sampling on the blobs, publishing below ``root``."""
    study = Study.from_params(params)
    plans = [
        plan_strategy(
            study,
            "blobs",
            strategy,
            prepared,
            Outputs(*(root / part / strategy for part in ("runs", "partial", "timings"))),
        )
        for strategy in ("entropy", "margin")
    ]
    return Stage("al@blobs", plans, root / "runs", root / "timings")


def test_a_rerun_publishes_again_the_runs_whose_fingerprint_did_not_change_and_recomputes_the_rest(
    small, tmp_path, monkeypatch, capsys
):
    params, prepared = small
    params["study"]["strategies"] = ["entropy", "margin"]
    run_stage(Study.from_params(params), _two_strategy_stage(params, prepared, tmp_path))
    first = _files(tmp_path / "runs")
    assert len(first) == 6  # entropy with two learners, margin with the main learner, two seeds each
    # A change to margin's settings: only its runs are computed again.
    params["strategies"]["margin"] = {"method": "margin_sampling", "max_candidates": 7}
    capsys.readouterr()
    run_stage(Study.from_params(params), _two_strategy_stage(params, prepared, tmp_path))
    assert "publishing again 4 runs of an earlier build" in capsys.readouterr().err
    stage = read_json(tmp_path / "timings" / runner.STAGE_TIMING_FILE)
    assert (stage["runs"], stage["republished"], stage["reused"]) == (6, 4, 0)
    second = _files(tmp_path / "runs")
    assert {k: v for k, v in second.items() if k.startswith("entropy/")} == {
        k: v for k, v in first.items() if k.startswith("entropy/")
    }
    # Publishing again is byte-identical to recomputing; $MEDAL_RECOMPUTE recomputes every run.
    monkeypatch.setenv(runner.RECOMPUTE_ENV, "1")
    run_stage(Study.from_params(params), _two_strategy_stage(params, prepared, tmp_path))
    assert read_json(tmp_path / "timings" / runner.STAGE_TIMING_FILE)["republished"] == 0
    assert _files(tmp_path / "runs") == second


def test_a_strategy_left_out_of_the_study_leaves_no_runs_behind(small, tmp_path):
    params, prepared = small
    params["study"]["strategies"] = ["entropy", "margin"]
    run_stage(Study.from_params(params), _two_strategy_stage(params, prepared, tmp_path))
    stage = _two_strategy_stage(params, prepared, tmp_path)
    run_stage(Study.from_params(params), replace(stage, plans=stage.plans[:1]))
    assert {Path(path).parts[0] for path in _files(tmp_path / "runs")} == {"entropy"}
    assert {Path(path).parts[0] for path in _files(tmp_path / "timings")} == {"entropy", runner.STAGE_TIMING_FILE}


def test_a_published_run_with_another_fingerprint_or_a_broken_file_is_recomputed(small, tmp_path):
    params, prepared = small
    clean = _run(params, prepared, tmp_path / "clean")
    _run(params, prepared, tmp_path)
    timing = tmp_path / "timings" / "logreg-seed0.json"
    write_json_atomic(timing, {**read_json(timing), "fingerprint": "stale"})
    write_text_atomic(tmp_path / "runs" / "logreg-seed1.json", '{"broken')
    assert _run(params, prepared, tmp_path) == clean
    assert read_json(tmp_path / "timings" / runner.STAGE_TIMING_FILE)["republished"] == 2


def test_time_left_weighs_runs_by_recorded_duration_unless_one_is_unknown():
    assert runner._expected_work([30.0, 2.0, 0.5]) == [30.0, 2.0, 0.5]
    assert runner._expected_work([30.0, float("inf"), 0.5]) == [1.0, 1.0, 1.0]
    assert runner._expected_work([30.0, 0.0]) == [1.0, 1.0]  # a zero duration cannot weigh a run


def test_the_code_in_a_fingerprint_is_what_every_experiment_stage_depends_on():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    sources = {
        dep.removeprefix("src/medal/")
        for name in ("al", "capped", "sweep")
        for dep in stages[name].get("do", stages[name])["deps"]
        if dep.startswith("src/medal/")
    }
    assert sorted(sources) == list(plans.RUN_SOURCES)


def test_an_edit_outside_the_run_sources_keeps_the_fingerprint_and_one_inside_changes_it(monkeypatch, tmp_path):
    for name in (*plans.RUN_SOURCES, "report/paper.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    monkeypatch.setattr(plans, "PACKAGE", tmp_path)
    digests = []
    for edited in ("report/paper.py", "experiment/strategies.py"):
        plans.code_digest.cache_clear()
        before = plans.code_digest()
        (tmp_path / edited).write_text("edited")
        plans.code_digest.cache_clear()
        digests.append(before != plans.code_digest())
    plans.code_digest.cache_clear()
    assert digests == [False, True]


def test_fingerprint_follows_every_setting_and_the_input(small):
    params, _ = small
    task = _task(params, "logreg", 0)
    base = fingerprint(task, {"prepared": "a"})
    assert fingerprint(task, {"prepared": "b"}) != base
    assert fingerprint(_task(params, "logreg", 1), {"prepared": "a"}) != base
    params["strategies"]["entropy"]["max_candidates"] = 7
    assert fingerprint(_task(params, "logreg", 0), {"prepared": "a"}) != base
    params["al"]["budget"] = 24
    assert fingerprint(_task(params, "logreg", 0), {"prepared": "a"}) != base


def test_a_failing_run_publishes_nothing_and_keeps_the_finished_ones(small, tmp_path, monkeypatch):
    params, prepared = small
    params["compute"]["n_jobs"] = 1  # in this process, so the patch applies
    real = compute_executor.run_one

    def fail_on_second_seed(data, task, index, parent_pid=None):
        if task.seed == 1:
            raise RuntimeError("killed")
        return real(data, task, index, parent_pid)

    monkeypatch.setattr(compute_executor, "run_one", fail_on_second_seed)
    with pytest.raises(RuntimeError, match="killed"):
        _run_strategy(Study.from_params(params), "blobs", "entropy", prepared, _outputs(tmp_path))
    assert not (tmp_path / "runs").exists() and not (tmp_path / "timings").exists()
    assert sorted(p.name for p in (tmp_path / "partial").iterdir()) == ["logreg-seed0.json"]


def _stage_project(root: Path, params: dict, prepared: Path) -> None:
    (root / "data" / "prepared").mkdir(parents=True)
    (root / "data" / "prepared" / "blobs.npz").write_bytes(prepared.read_bytes())
    params["datasets"]["blobs"] = {
        "source": "sklearn_breast_cancer",
        "test_fraction": 0.3,
        "split_seed": 0,
        "canonical_md5": {"bundled": None},
    }
    params["prepare"]["blobs"] = {"features": "raw"}
    params["study"]["strategies"] = ["random", "entropy"]  # the al stage runs every strategy of the study
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def _medal_al(root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "medal.cli", "al", "blobs"],
        cwd=root,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_midway_then_rerun_computes_only_the_missing_runs(small, tmp_path):
    params, prepared = small
    params["al"] = {"initial_labels": 4, "batch_size": 1, "budget": 50, "seeds": 4}
    params["study"]["main_seeds"] = 4
    params["study"]["learners"] = ["logreg", "sgd_refit"]
    params["compute"]["n_jobs"] = 1
    for name in ("clean", "killed"):
        _stage_project(tmp_path / name, params, prepared)
    clean = _medal_al(tmp_path / "clean")
    killed = _medal_al(tmp_path / "killed")
    partial = tmp_path / "killed" / "data" / "partial" / "runs" / "blobs"
    deadline = time.monotonic() + 120
    while len(list(partial.rglob("*.json"))) < 2 and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.communicate()  # waits and closes the pipes
    kept = {p.relative_to(partial).as_posix(): p.read_bytes() for p in partial.rglob("*.json")}
    total = 4 + 8  # random with the main learner, entropy with both learners; four seeds each
    assert 2 <= len(kept) < total, "the stage should die part-way"
    assert not (tmp_path / "killed" / "data" / "runs").exists()
    clean.communicate()
    assert clean.returncode == 0
    rerun = _medal_al(tmp_path / "killed")
    _, err = rerun.communicate()
    assert rerun.returncode == 0, err
    assert f"reusing {len(kept)} runs finished before an interruption" in err
    assert len(re.findall(r"^\[al@blobs\] \d+/12 ", err, flags=re.MULTILINE)) == total - len(kept)
    assert not partial.exists()
    runs = tmp_path / "{}" / "data" / "runs" / "blobs"
    assert _files(Path(str(runs).format("killed"))) == _files(Path(str(runs).format("clean")))
    assert {name: read_json(Path(str(runs).format("killed")) / name) for name in kept} == {
        name: json.loads(content)["result"] for name, content in kept.items()
    }


def test_progress_lines_estimate_the_time_left(small, tmp_path, capsys):
    params, prepared = small
    _run(params, prepared, tmp_path)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[al@blobs]")]
    assert len(lines) == 4 and all(line.endswith(" left)") and "; about " in line for line in lines)
    assert lines[-1].endswith("; about 0 s left)")
    # each line names the run once: its plan (dataset/strategy), learner and seed
    assert all(re.match(r"\[al@blobs\] \d+/4 blobs/[\w-]+ [\w-]+ seed \d+: ", line) for line in lines), lines


def test_format_duration():
    from medal.reproduce.environment import format_duration

    assert [format_duration(s) for s in (4.4, 89, 150, 3600, 3 * 3600 + 65 * 60)] == [
        "4 s",
        "89 s",
        "2 min",
        "1 h 00 min",
        "4 h 05 min",
    ]


def test_workers_end_with_their_stage_after_sigkill(small, tmp_path):
    import psutil

    params, prepared = small
    params["al"] = {"initial_labels": 4, "batch_size": 1, "budget": 70, "seeds": 6}
    params["study"]["main_seeds"] = 6
    params["study"]["learners"] = ["logreg", "sgd_refit"]
    params["compute"]["n_jobs"] = 2
    _stage_project(tmp_path, params, prepared)
    stage = _medal_al(tmp_path)
    partial = tmp_path / "data" / "partial" / "runs" / "blobs"
    deadline = time.monotonic() + 120
    while not list(partial.rglob("*.json")) and stage.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = psutil.Process(stage.pid).children(recursive=True)
    assert workers and stage.poll() is None, "the stage should be computing in worker processes"
    os.kill(stage.pid, signal.SIGKILL)  # the stage only, as an OOM killer would: not its process group
    stage.wait()
    stage.stdout.close()  # not communicate(): surviving workers would hold the pipes open
    stage.stderr.close()
    deadline = time.monotonic() + 5 * worker.PARENT_POLL_SECONDS + 2
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for process in alive:
        process.kill()
    assert not alive, f"{len(alive)} worker(s) outlived the stage: {[p.cmdline()[-3:] for p in alive]}"


def test_a_run_from_a_worker_on_other_blas_kernels_is_refused():
    here = {"architecture": "x86_64", "blas": ["openblas 0.3.30 Haswell"], "versions": {"numpy": "2.4.6"}}
    there = {**here, "blas": ["openblas 0.3.30 SkylakeX"]}
    compute_executor.check_same_platform(here, dict(here))
    with pytest.raises(
        compute_executor.UserError,
        match=r"a worker computed on BLAS \['openblas 0.3.30 SkylakeX'\].*"
        r"start the workers with the same OPENBLAS_CORETYPE",
    ):
        compute_executor.check_same_platform(here, there)


def test_the_main_learner_runs_main_seeds_and_the_others_al_seeds(params):
    params["al"]["seeds"], params["study"]["main_seeds"] = 3, 7
    params["study"]["main_seeds_by_dataset"] = {"wdbc": 4}
    study = Study.from_params(params)
    main = params["study"]["main_learner"]
    assert study.seeds_for(main, "breastmnist") == 7 and study.seeds_for(main, "wdbc") == 4
    assert study.seeds_for("svm_rbf", "breastmnist") == study.seeds_for("svm_rbf", "wdbc") == 3


def test_learners_outside_the_learner_comparison_run_only_the_main_learner(params):
    params["study"]["learner_datasets"] = ["breastmnist"]
    study = Study.from_params(params)
    assert study.learner_datasets == ("breastmnist",)
    assert study.learners_on("breastmnist") == study.learners
    assert study.learners_on("wdbc") == (params["study"]["main_learner"],)
    assert study.learners_for("entropy", "breastmnist") == list(study.learners)
    assert study.learners_for("entropy", "wdbc") == [params["study"]["main_learner"]]


def test_unaligned_arrays_from_a_cluster_are_copied_in_their_own_layout():
    import numpy as np

    values = np.asfortranarray(np.arange(12.0).reshape(4, 3))
    buffer = bytearray(values.nbytes + 3)
    # As Dask deserialises a scattered array: its bytes at an odd offset of a frame.
    unaligned = np.ndarray(values.shape, values.dtype, memoryview(buffer)[3:], strides=values.strides)
    unaligned[...] = values
    assert not unaligned.flags.aligned
    out = tasks.aligned({"X_pool": unaligned, "y_pool": values})
    assert out["X_pool"].flags.aligned and out["X_pool"].flags.f_contiguous
    assert np.array_equal(out["X_pool"], values) and out["y_pool"] is values  # aligned arrays are not copied
