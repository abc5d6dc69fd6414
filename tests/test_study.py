"""The study-wide submission plans the same stages as dvc.yaml, under DVC's own stage names."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import yaml

from medal.errors import UserError
from medal.experiment import runner, study
from medal.experiment.study import BESIDE_RUNS, experiment_stages
from medal.fileio import write_npz_atomic
from medal.reproduce import dvc
from medal.study import Study

from conftest import ROOT


def test_every_experiment_stage_of_dvc_yaml_is_planned_under_its_dvc_name(params):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    listed = subprocess.run(
        ["dvc", "stage", "list", "--name-only"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    experiments = {name for name in listed if name.startswith(("al@", "sweep@")) or name == "capped"}
    assert set(experiment_stages(Study.from_params(params))) == experiments
    assert len(experiments) == len(params["study"]["datasets"]) + 1 + len(params["sweeps"]["datasets"]) * 5


def test_a_plan_names_the_stage_folders_the_stage_itself_writes(params, monkeypatch, tmp_path, blobs):
    monkeypatch.chdir(tmp_path)
    write_npz_atomic(Path("data/prepared/wdbc.npz"), blobs)
    params["al"].update(initial_labels=4, budget=20)
    stage = experiment_stages(Study.from_params(params))["al@wdbc"]({})
    assert (stage.name, stage.results, stage.timings) == ("al@wdbc", Path("data/runs/wdbc"), Path("data/timings/wdbc"))
    assert [plan.tag for plan in stage.plans] == [f"wdbc/{strategy}" for strategy in params["study"]["strategies"]]
    plan = stage.plans[params["study"]["strategies"].index("entropy")]
    assert plan.outputs.results == Path("data/runs/wdbc/entropy")
    assert plan.outputs.scratch == Path("data/partial/runs/wdbc/entropy")
    assert plan.outputs.timings == Path("data/timings/wdbc/entropy")
    assert (
        len(plan.tasks)
        == params["al"]["seeds"] * (len(params["study"]["learners"]) - 1) + params["study"]["main_seeds"]
    )


def test_a_capped_plan_runs_the_main_learner_under_the_checks_cap_on_its_dataset(params, monkeypatch, tmp_path, blobs):
    monkeypatch.chdir(tmp_path)
    params["cap_check"] = {"dataset": "wdbc", "max_candidates": 7}
    params["al"].update(initial_labels=4, budget=20)
    write_npz_atomic(Path("data/prepared/wdbc.npz"), blobs)
    stage = experiment_stages(Study.from_params(params))["capped"]({})
    assert (stage.results, stage.timings) == (Path("data/capped/wdbc"), Path("data/timings/capped/wdbc"))
    plan = stage.plans[params["study"]["strategies"].index("entropy")]
    assert plan.outputs.results == Path("data/capped/wdbc/entropy")
    assert plan.outputs.timings == Path("data/timings/capped/wdbc/entropy")
    assert [task.seed for task in plan.tasks] == list(range(params["al"]["seeds"]))
    assert {(task.learner, task.protocol.max_candidates, task.path.split("-")[0]) for task in plan.tasks} == {
        ("logreg", 7, "logreg")
    }
    assert plan.tasks[0].header == {"dataset": "wdbc", "strategy": "entropy", "learner": "logreg", "seed": 0}


def test_a_cap_that_would_not_bite_is_refused_with_the_pool_it_must_undercut(params, monkeypatch, tmp_path, blobs):
    monkeypatch.chdir(tmp_path)
    params["al"].update(initial_labels=4, budget=20, batch_size=4)
    unlabelled_at_last_query = len(blobs["y_pool"]) - 16
    params["cap_check"] = {"dataset": "wdbc", "max_candidates": unlabelled_at_last_query}
    write_npz_atomic(Path("data/prepared/wdbc.npz"), blobs)
    with pytest.raises(UserError, match=f"does not bite on wdbc .*sees {unlabelled_at_last_query} unlabelled"):
        experiment_stages(Study.from_params(params))["capped"]({})
    params["cap_check"]["max_candidates"] -= 1
    assert all(plan.tasks for plan in experiment_stages(Study.from_params(params))["capped"]({}).plans)


def test_representation_features_are_computed_once_per_submission_and_only_when_loaded(
    params, monkeypatch, tmp_path, blobs
):
    monkeypatch.chdir(tmp_path)
    write_npz_atomic(Path(f"data/prepared/{params['sweeps']['datasets'][0]}.npz"), blobs)
    write_npz_atomic(Path(f"data/raw/{params['sweeps']['datasets'][0]}.npz"), blobs)
    params["al"].update(initial_labels=4, budget=20)
    params["sweeps"]["settings"]["initial_labels"] = [4]
    computed = []

    def feature_sets(representations, *_):
        computed.append(sorted(representations))
        return {value: blobs for value in representations}

    monkeypatch.setattr(runner, "feature_sets", feature_sets)
    stages, cache = experiment_stages(Study.from_params(params)), {}
    dataset = params["sweeps"]["datasets"][0]
    plans = stages[f"sweep@{dataset}-representation"](cache).plans
    assert len(plans) == 2 and computed == []  # planning (and publishing kept runs) computes no features
    loaded = [plan.load() for plan in plans]
    assert computed == [sorted(params["sweeps"]["settings"]["representation"])]
    assert loaded[0] == loaded[1] and set(loaded[0]) == {
        f"{dataset}/representation/{value}" for value in params["sweeps"]["settings"]["representation"]
    }
    assert {task.data for plan in plans for task in plan.tasks} == set(loaded[0])


def _paths(group: dict, kind: str) -> set[str]:
    """A dvc.yaml stage group's ``outs`` or ``deps``, each cut before its first ``${`` (a folder or file prefix)."""
    entries = group.get("do", group).get(kind, [])
    return {(entry if isinstance(entry, str) else next(iter(entry))).split("${")[0] for entry in entries}


def test_the_stages_run_beside_the_runs_neither_feed_nor_read_an_experiment_stage():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    experiment_outs = _paths(stages["al"], "outs") | _paths(stages["sweep"], "outs")
    experiment_deps = _paths(stages["al"], "deps") | _paths(stages["sweep"], "deps")
    data_outs = _paths(stages["fetch"], "outs") | _paths(stages["prepare"], "outs")
    for name in BESIDE_RUNS:
        outs = _paths(stages[name], "outs")
        assert outs and not any(dep.startswith(out) for dep in experiment_deps for out in outs), name
        data_deps = {dep for dep in _paths(stages[name], "deps") if dep.startswith("data/")}
        assert data_deps and data_deps <= data_outs and not data_deps & experiment_outs, name


class _Cluster:
    """An executor with ``workers`` Dask worker threads, ``here`` of them on this machine; records the room asked."""

    dask = True

    def __init__(self, workers: int, here: int):
        self.workers, self.here, self.room = workers, here, None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    def threads_here(self) -> int:
        return self.here

    @contextmanager
    def making_room(self, cores, busy):
        self.room = cores
        yield


@pytest.mark.parametrize(
    "workers, here, beside, room",
    [(2, 2, False, None), (10, 2, True, 1), (8, 0, True, None)],
    ids=["every worker here", "some here, some elsewhere", "every worker elsewhere"],
)
def test_select_and_reference_go_beside_the_runs_only_when_some_worker_is_elsewhere(
    params, tmp_path, monkeypatch, workers, here, beside, room
):
    monkeypatch.chdir(tmp_path)
    cluster, calls = _Cluster(workers, here), []

    @contextmanager
    def repro_beside(*arguments, log, failure, environment=None):
        calls.append(("beside", arguments, environment))
        yield lambda: False

    monkeypatch.setattr(study.Executor, "for_study", lambda settings: cluster)
    monkeypatch.setattr(study, "_compute", lambda executor, params, planners: calls.append(("compute",)))
    monkeypatch.setattr(dvc, "stage_names", lambda: None)
    monkeypatch.setattr(dvc, "repro", lambda *arguments, failure: calls.append(("repro", arguments)))
    monkeypatch.setattr(dvc, "repro_beside", repro_beside)
    study.submit(Study.from_params(params), force=True)
    stages = ("-f", "-s", *BESIDE_RUNS)
    if beside:  # started before the runs are computed; with workers here, on one process and a core they leave
        assert calls[1:3] == [("beside", stages, {"MEDAL_N_JOBS": "1"} if here else {}), ("compute",)]
    else:
        assert calls[1:3] == [("compute",), ("repro", stages)]
    assert cluster.room == room
    # and then the submitted stages, by their dvc.yaml groups, and those downstream
    assert calls[-1][1] == ("-f", "--downstream", "al", "sweep", "capped")


@pytest.mark.parametrize(
    "names, expected",
    [
        (["al@a-x", "al@b-x", "sweep@a-s-x"], ["al", "sweep"]),
        (["al@a-x", "sweep@a-s-x"], ["sweep", "al@a-x"]),
        (["al@b-x"], ["al@b-x"]),
        ([], []),
    ],
    ids=["every stage", "one group complete", "part of a group", "none"],
)
def test_dvc_gets_a_complete_stage_group_by_its_name(names, expected):
    assert dvc.by_group(names, {"prepare@a", "al@a-x", "al@b-x", "sweep@a-s-x", "paper"}) == expected


def _fake_dvc(tmp_path: Path, monkeypatch, script: str, interpreter: str = "/bin/sh") -> Path:
    program = tmp_path / "dvc"
    program.write_text(f"#!{interpreter}\n{script}\n")
    program.chmod(0o755)
    monkeypatch.setattr(dvc, "executable", lambda: str(program))
    return tmp_path / "beside.log"


def test_a_dvc_repro_beside_the_body_runs_meanwhile_and_is_waited_for(tmp_path, monkeypatch, capsys):
    log = _fake_dvc(tmp_path, monkeypatch, f'sleep 1; echo "done $*"; touch {tmp_path}/finished')
    with dvc.repro_beside("-s", "select", log=log, failure="unused"):
        assert not (tmp_path / "finished").exists()  # running beside the body
    assert (tmp_path / "finished").exists() and log.read_text() == "done repro -s select\n"
    assert f"$ dvc repro -s select   (beside the runs; output in {log})" in capsys.readouterr().err


def test_a_dvc_repro_beside_gets_the_environment_it_is_given(tmp_path, monkeypatch):
    log = _fake_dvc(tmp_path, monkeypatch, 'echo "jobs=$MEDAL_N_JOBS"')
    with dvc.repro_beside("select", log=log, failure="unused", environment={"MEDAL_N_JOBS": "1"}) as running:
        while running():
            time.sleep(0.05)
    assert log.read_text() == "jobs=1\n"


def test_a_failed_dvc_repro_beside_raises_its_message_with_the_end_of_its_output(tmp_path, monkeypatch, capsys):
    log = _fake_dvc(tmp_path, monkeypatch, "echo 'ERROR: select@x failed'; exit 3")
    with pytest.raises(UserError, match="the selection failed"):
        with dvc.repro_beside("select", log=log, failure="the selection failed"):
            pass
    assert "ERROR: select@x failed" in capsys.readouterr().err


def _fail_once_the_stage_started(tmp_path: Path, log: Path) -> float:
    """Run a body beside the fake dvc that fails once its stage has touched ``started`` (or after 10 s); the seconds
    until the interrupted dvc had ended."""
    started = time.perf_counter()
    with pytest.raises(RuntimeError, match="a run failed"):
        with dvc.repro_beside("select", log=log, failure="unused"):
            while not (tmp_path / "started").exists() and time.perf_counter() - started < 10:
                time.sleep(0.05)
            raise RuntimeError("a run failed")
    return time.perf_counter() - started


@pytest.mark.parametrize("sigint", [signal.SIG_DFL, signal.SIG_IGN], ids=["sigint-default", "sigint-ignored"])
def test_a_failing_body_interrupts_the_dvc_repro_beside_it_and_its_stage(tmp_path, monkeypatch, sigint):
    # Like dvc, the fake ignores SIGINT while its stage command runs; the stage notes that it was interrupted. Also
    # when this process ignores SIGINT (as under nohup), which its children would inherit.
    stage = (
        f"import pathlib, time\ntry:\n    pathlib.Path({str(tmp_path / 'started')!r}).touch()\n    time.sleep(10)\n"
        "except KeyboardInterrupt:\n    print('interrupted', flush=True)\n    raise SystemExit(130)\n"
    )
    script = (
        f"import signal, subprocess, sys\nstage = subprocess.Popen([sys.executable, '-c', {stage!r}])\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\nsys.exit(stage.wait())"
    )
    log = _fake_dvc(tmp_path, monkeypatch, script, interpreter=sys.executable)
    before = signal.signal(signal.SIGINT, sigint)
    try:
        seconds = _fail_once_the_stage_started(tmp_path, log)
    finally:
        signal.signal(signal.SIGINT, before)
    assert seconds < 10 and log.read_text() == "interrupted\n"


def test_a_stage_that_ignores_the_interrupt_is_terminated_after_a_grace_period(tmp_path, monkeypatch):
    log = _fake_dvc(tmp_path, monkeypatch, f"trap '' INT; touch {tmp_path}/started; sleep 10; echo finished")
    monkeypatch.setattr(dvc, "INTERRUPT_GRACE_SECONDS", 0.5)
    assert _fail_once_the_stage_started(tmp_path, log) < 5 and log.read_text() == ""


def test_a_multi_class_datasets_runs_get_the_sizes_scaled_to_its_classes(params, monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    y = np.arange(150) % 3
    data = {
        "X_pool": rng.normal(size=(120, 4)),
        "y_pool": y[:120],
        "X_test": rng.normal(size=(30, 4)),
        "y_test": y[120:],
    }
    monkeypatch.chdir(tmp_path)
    write_npz_atomic(Path("data/prepared/wdbc.npz"), data)
    params["al"].update(initial_labels=4, batch_size=10, budget=20, scale_with_classes=True)
    stage = experiment_stages(Study.from_params(params))["al@wdbc"]({})
    sizes = {
        (t.protocol.initial_labels, t.protocol.batch_size, t.protocol.budget) for p in stage.plans for t in p.tasks
    }
    assert sizes == {(6, 15, 30)}
    params["al"]["scale_with_classes"] = False
    stage = experiment_stages(Study.from_params(params))["al@wdbc"]({})
    sizes = {
        (t.protocol.initial_labels, t.protocol.batch_size, t.protocol.budget) for p in stage.plans for t in p.tasks
    }
    assert sizes == {(4, 10, 20)}


def test_a_strategy_for_two_classes_is_refused_when_its_stage_is_planned_on_three(params, monkeypatch, tmp_path):
    y = np.arange(150) % 3
    data = {"X_pool": np.zeros((120, 2)), "y_pool": y[:120], "X_test": np.zeros((30, 2)), "y_test": y[120:]}
    monkeypatch.chdir(tmp_path)
    write_npz_atomic(Path("data/prepared/wdbc.npz"), data)
    params["al"].update(initial_labels=4, budget=20)
    params["study"]["strategies"].append("epistemic")
    with pytest.raises(
        UserError, match="'epistemic' .* is defined for two classes and this dataset has 3; leave it out"
    ):
        experiment_stages(Study.from_params(params))["al@wdbc"]({})
    params["study"]["strategies"].remove("epistemic")
    assert all(plan.tasks for plan in experiment_stages(Study.from_params(params))["al@wdbc"]({}).plans)
