"""Where the compute goes: the per-strategy time table and a build's totals, from hand-written timing records."""

from __future__ import annotations

import pytest

from medal.fileio import write_json_atomic
from medal.report.cost import (
    build_time,
    capped_table,
    capped_text,
    parallel_text,
    strategy_seconds,
    strategy_time_table,
)
from medal.study import Study


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


def test_strategy_time_table_gives_seconds_per_run_and_shares(timings, params):
    params["study"].update(datasets=["a"], strategies=["random", "dal"], main_learner="logreg", main_seeds=2)
    params["al"].update(seeds=2, max_candidates=None)
    seconds = strategy_seconds(Study.from_params(params), timings)
    assert seconds == {("a", "random"): (2.0, 0.0), ("a", "dal"): (2.0, 3.0)}
    table = strategy_time_table(Study.from_params(params), {"a": {"title": "A"}}, seconds)
    lines = table.splitlines()
    assert lines[0] == "| Strategy | A | Share (%) |"
    assert lines[2] == "| Random | 2.0 | 28.6 |" and lines[3].endswith("| 5.0 | 71.4 |")
    assert "querying took 43% of that total" in table and "the whole unlabelled pool" in table
    params["al"]["max_candidates"] = 3000
    table = strategy_time_table(Study.from_params(params), {"a": {"title": "A"}}, seconds)
    assert "Each query was shown at most 3,000 unlabelled images (`al.max_candidates`)." in table


def test_strategy_time_shares_weigh_each_dataset_by_its_seeds(params):
    params["study"].update(
        datasets=["a", "b"],
        strategies=["random", "dal"],
        main_learner="logreg",
        main_seeds=2,
        main_seeds_by_dataset={"b": 4},
    )
    seconds = {
        ("a", "random"): (2.0, 0.0),
        ("a", "dal"): (2.0, 3.0),
        ("b", "random"): (1.0, 0.0),
        ("b", "dal"): (1.0, 1.0),
    }
    provenance = {"a": {"title": "A"}, "b": {"title": "B"}}
    table = strategy_time_table(Study.from_params(params), provenance, seconds)
    # Totals: a 2 x (2 + 5) + b 4 x (1 + 2) = 26 s; random 2 x 2 + 4 x 1 = 8 s; querying 2 x 3 + 4 x 1 = 10 s.
    assert "| Random | 2.0 | 1.0 | 30.8 |" in table and "| 5.0 | 2.0 | 69.2 |" in table
    assert "querying took 38% of that total" in table


def _capped_row(cap, strategy, difference, p_holm):
    return {
        "dataset": "d",
        "max_candidates": cap,
        "strategy": strategy,
        "vs_random": difference,
        "vs_random_low": difference - 0.01,
        "vs_random_high": difference + 0.01,
        "p_holm": p_holm,
        "seeds": 10,
    }


CAPPED_ROWS = [
    _capped_row("5000", "random", float("nan"), float("nan")),
    _capped_row("5000", "entropy", 0.02, 0.001),
    _capped_row("5000", "coreset", -0.03, 0.01),
    _capped_row("700", "random", float("nan"), float("nan")),
    _capped_row("700", "entropy", 0.01, 0.2),
    _capped_row("700", "coreset", -0.02, 0.04),
]


def _capped_study(params, study_cap=5000):
    params["cap_check"].update(dataset="d", max_candidates=700)
    params["al"].update(max_candidates=study_cap, initial_labels=10)
    params["study"]["main_learner"] = "logreg"
    return Study.from_params(params)


PROVENANCE = {"d": {"title": "D", "counts": {"train": [1000, 3000]}, "class_names": ["a", "b"]}}


def test_the_cap_table_sets_each_verdict_beside_the_capped_one_and_flags_a_change(params):
    text = capped_table(_capped_study(params), PROVENANCE, CAPPED_ROWS)
    # 5000 >= the 3,990 unlabelled images a query can see: the main runs saw the whole pool.
    assert "Main runs: whole pool (3,990 unlabelled)" in text and "Check: up to 700 shown" in text
    assert (
        "| Entropy | +0.020 [+0.010, +0.030], above random | +0.010 [+0.000, +0.020], not significant | **no** |"
        in text
    )
    assert "| Core-Set | -0.030 [-0.040, -0.020], below random | -0.020 [-0.030, -0.010], below random | yes |" in text
    assert "Random" not in text.split("|---")[1]  # random is the baseline, not a row
    assert "{#tbl-capped}" in text


def test_a_study_cap_that_bites_is_named_in_the_heading(params):
    assert "Main runs: up to 2,000 shown" in capped_table(_capped_study(params, 2000), PROVENANCE, CAPPED_ROWS)


def test_the_cap_sentence_names_the_verdicts_that_changed_or_says_none_did(params):
    study = _capped_study(params)
    text = capped_text(study, PROVENANCE, CAPPED_ROWS)
    assert text.startswith(
        "On D, with every query shown a seeded random subset of at most 700 unlabelled images instead of the main "
        "runs' rule, 1 of 2 verdicts against random sampling changed"
    )
    assert "entropy (above random in the main runs, not significant in the check)." in text
    held = [row | {"p_holm": 0.001} if row["strategy"] == "entropy" else row for row in CAPPED_ROWS]
    assert capped_text(study, PROVENANCE, held).endswith("; every verdict held.\n")


def test_a_check_that_lifts_the_study_cap_is_named_as_the_whole_pool(params):
    params["cap_check"].update(dataset="d", max_candidates=None)
    params["al"].update(max_candidates=1000, initial_labels=10)
    params["study"]["main_learner"] = "logreg"
    study = Study.from_params(params)
    rows = [row | {"max_candidates": {"5000": "1000", "700": "none"}[row["max_candidates"]]} for row in CAPPED_ROWS]
    table = capped_table(study, PROVENANCE, rows)
    assert "Main runs: up to 1,000 shown" in table and "Check: whole pool (3,990 unlabelled)" in table
    assert "with every query shown the whole unlabelled pool (random sampling under the same rule)" in table
    text = capped_text(study, PROVENANCE, rows)
    assert text.startswith("On D, with every query shown the whole unlabelled pool instead of the main runs' rule")
    assert "entropy (above random in the main runs, not significant in the check)." in text


def test_strategies_with_the_same_results_in_both_conditions_share_a_row_and_a_verdict(params):
    margin = [row | {"strategy": "margin"} for row in CAPPED_ROWS if row["strategy"] == "entropy"]
    rows = CAPPED_ROWS + margin
    table = capped_table(_capped_study(params), PROVENANCE, rows)
    assert "| Entropy (= Margin) | +0.020 [+0.010, +0.030], above random |" in table
    assert "| Margin |" not in table and "share a row" in table
    text = capped_text(_capped_study(params), PROVENANCE, rows)
    assert "1 of 2 verdicts against random sampling changed" in text and "entropy (= Margin) (above random" in text
    # The same result in one condition only is not the same strategy's result: no merge.
    margin[0] = margin[0] | {"p_holm": 0.5}
    assert "| Margin |" in capped_table(_capped_study(params), PROVENANCE, CAPPED_ROWS + margin)
