"""Where the compute goes: the per-strategy time table and a build's totals, from hand-written timing records."""

from __future__ import annotations

import pytest

from medal.fileio import write_json_atomic
from medal.report.cost import build_time, parallel_text, strategy_seconds, strategy_time_table


def _write_stage(folder, runs, workers=2, wall=None):
    for name, record in runs.items():
        write_json_atomic(folder / name, record)
    total = sum(record["seconds"] for record in runs.values())
    write_json_atomic(
        folder / "_stage.json", {"wall_seconds": wall or total / workers, "computed_on": {"workers": workers}}
    )


def _run(strategy, fit, query, seconds):
    cycles = [{"fit_seconds": f, "query_seconds": q} for f, q in zip(fit, query)]
    return {"strategy": strategy, "seconds": seconds, "cycles": cycles}


@pytest.fixture
def timings(tmp_path):
    _write_stage(
        tmp_path / "a" / "random",
        {
            "logreg-seed0.json": _run("random", [1, 1], [0, 0], 3.0),
            "logreg-seed1.json": _run("random", [1, 1], [0, 0], 3.0),
        },
    )
    _write_stage(
        tmp_path / "a" / "dal",
        {"logreg-seed0.json": _run("dal", [1, 1], [4, 0], 7.0), "logreg-seed1.json": _run("dal", [1, 1], [2, 0], 5.0)},
        wall=9.0,
    )
    return tmp_path


def test_stages_that_published_a_submission_count_runs_but_no_stage_time(tmp_path):
    _write_stage(tmp_path / "a" / "random", {"logreg-seed0.json": _run("random", [1], [0], 2.0)})
    write_json_atomic(tmp_path / "a" / "random" / "_stage.json", {"wall_seconds": 0.1, "computed_on": None})
    totals = build_time(tmp_path)
    assert totals["runs"] == 1 and totals["run_seconds"] == 2.0
    assert totals["stage_wall_over_runs_per_process"] is None and parallel_text(tmp_path) == ""


def test_build_time_sums_update_and_query_per_strategy_and_compares_stage_wall_with_the_runs(timings):
    totals = build_time(timings)
    assert totals["runs"] == 4
    assert totals["fit_query_seconds_by_strategy"] == {"dal": 10.0, "random": 4.0}
    assert totals["fit_query_seconds"] == 14.0
    assert totals["fit_query_share_by_strategy"] == pytest.approx({"dal": 10 / 14, "random": 4 / 14})
    assert totals["run_seconds"] == 18.0
    # random's stage ran at the runs' seconds / 2 processes (3 s), dal's took 9 s for 12 s / 2 = 6 s.
    assert totals["experiment_stage_wall_seconds"] == 12.0
    assert totals["stage_wall_over_runs_per_process"] == pytest.approx(12 / 9)
    assert "1.33 times that divided by the processes" in parallel_text(timings)


def test_strategy_time_table_gives_seconds_per_run_and_shares(timings):
    params = {
        "study": {"datasets": ["a"], "strategies": ["random", "dal"], "main_learner": "logreg", "main_seeds": 2},
        "al": {"seeds": 2, "max_candidates": None},
    }
    seconds = strategy_seconds(params, timings)
    assert seconds == {("a", "random"): (2.0, 0.0), ("a", "dal"): (2.0, 3.0)}
    table = strategy_time_table(params, {"a": {"title": "A"}}, seconds)
    lines = table.splitlines()
    assert lines[0] == "| Strategy | A | Share (%) |"
    assert lines[2] == "| Random | 2.0 | 28.6 |" and lines[3].endswith("| 5.0 | 71.4 |")
    assert "querying took 43% of that total" in table and "the whole unlabelled pool" in table
    params["al"]["max_candidates"] = 3000
    table = strategy_time_table(params, {"a": {"title": "A"}}, seconds)
    assert "Each query was shown at most 3,000 unlabelled images (`al.max_candidates`)." in table
