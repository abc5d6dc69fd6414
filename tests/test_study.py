"""The study-wide submission plans the same stages as dvc.yaml, under DVC's own stage names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from medal.experiment.study import experiment_stages

from conftest import ROOT


def test_every_experiment_stage_of_dvc_yaml_is_planned_under_its_dvc_name(params):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    listed = subprocess.run(
        ["dvc", "stage", "list", "--name-only"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    experiments = {name for name in listed if name.startswith(("al@", "sweep@"))}
    assert set(experiment_stages(params)) == experiments and len(experiments) == 45 + 16


def test_a_plan_names_the_stage_folders_the_stage_itself_writes(params, monkeypatch, tmp_path, blobs):
    from medal.fileio import write_npz_atomic

    monkeypatch.chdir(tmp_path)
    write_npz_atomic(Path("data/prepared/wdbc.npz"), blobs)
    params["al"].update(initial_labels=4, budget=20)
    plan = experiment_stages(params)["al@wdbc-entropy"]({})
    assert plan.outputs.results == Path("data/runs/wdbc/entropy")
    assert plan.outputs.scratch == Path("data/partial/runs/wdbc/entropy")
    assert plan.outputs.timings == Path("data/timings/wdbc/entropy")
    assert (
        len(plan.tasks)
        == params["al"]["seeds"] * (len(params["study"]["learners"]) - 1) + params["study"]["main_seeds"]
    )


def test_representation_features_are_computed_once_per_submission_and_only_when_loaded(
    params, monkeypatch, tmp_path, blobs
):
    from medal.experiment import runner
    from medal.fileio import write_npz_atomic

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
    stages, cache = experiment_stages(params), {}
    dataset = params["sweeps"]["datasets"][0]
    plans = [stages[f"sweep@{dataset}-representation-{strategy}"](cache) for strategy in params["sweeps"]["strategies"]]
    assert len(plans) == 2 and computed == []  # planning (and publishing kept runs) computes no features
    loaded = [plan.load() for plan in plans]
    assert computed == [sorted(params["sweeps"]["settings"]["representation"])]
    assert loaded[0] == loaded[1] and set(loaded[0]) == {
        f"{dataset}/representation/{value}" for value in params["sweeps"]["settings"]["representation"]
    }
    assert {task.data for plan in plans for task in plan.tasks} == set(loaded[0])
