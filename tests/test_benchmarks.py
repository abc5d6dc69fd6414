"""The benchmark suite runs and checks what it measures (tiny sizes: the numbers are meaningless here)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import ROOT


def _benchmarks():
    spec = importlib.util.spec_from_file_location("benchmarks_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _part(name: str):
    """One part's module, importable once run.py has put the project root on the path."""
    _benchmarks()
    return importlib.import_module(f"benchmarks.{name}")


def test_quick_benchmarks_write_results_with_targets(tmp_path):
    bench = _benchmarks()
    out = tmp_path / "results.json"
    assert bench.main(["--quick", "--only", "loop_overhead", "--only", "strategy_scaling", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    overhead = results["loop_overhead"]
    # Both loops measured (a benchmark that skipped one would record zero or nothing), and a verdict recorded.
    assert 0 < overhead["minimal_seconds"] < 60 and 0 < overhead["ours_seconds"] < 60
    assert isinstance(overhead["met"], bool)
    scaling = results["strategy_scaling"]
    rows = {row["strategy"]: row for row in scaling["rows"]}
    assert list(rows) == bench.load_params(ROOT / "params.yaml")["study"]["strategies"]
    assert rows["entropy"]["limit_seconds"] == 5.0
    assert bench.strategy_scaling.limit_seconds({"method": "monte_carlo_eer"}) == 15.0
    for row in rows.values():
        for n_classes, measured in row["by_classes"].items():
            if (measured["stopped"] or "").startswith("not defined"):  # a two-class strategy on 11 classes
                assert n_classes == "11" and not measured["seconds"] and row["applicable_classes"] == 2
                continue
            assert set(measured["seconds"]) == set(measured["peak_mib"]) == {"300", "600"}
            assert all(seconds > 0 for seconds in measured["seconds"].values())
            assert measured["growth_exponent"] is not None
        top = row["by_classes"][str(row["applicable_classes"])]
        assert row["met"] == (top["seconds"]["600"] <= row["limit_seconds"] and top["peak_mib"]["600"] <= 2048)
    assert rows["entropy"]["applicable_classes"] == 11
    text = out.with_suffix(".md").read_text()
    assert "Loop overhead" in text and "| dal | 11 |" in text


def test_strategy_scaling_fits_the_growth_exponent_and_stops_at_a_missed_limit(monkeypatch):
    strategy_scaling = _benchmarks().strategy_scaling

    assert strategy_scaling.growth_exponent([1000, 2000, 4000], [1.0, 4.0, 16.0]) == pytest.approx(2.0)
    assert strategy_scaling.growth_exponent([1000], [1.0]) is None
    params = {"strategies": {"slow": {"method": "random"}}}
    pools = {(k, n): (None, None) for k in strategy_scaling.CLASSES for n in (10, 20, 30)}
    calls = []

    def fake_query(params, name, X, y, traced):
        calls.append(traced)
        return 1.0 if traced else 6.0  # over the 5-second limit at the first size

    monkeypatch.setattr(strategy_scaling, "one_query", fake_query)
    row = strategy_scaling.strategy_row(params, "slow", pools, (10, 20, 30), log=lambda message: None)
    assert not row["met"]
    for measured in row["by_classes"].values():
        assert list(measured["seconds"]) == ["10"] and measured["stopped"].startswith("limit passed at pool 10")
    assert calls == [False, True, False, True]


def test_missed_targets_are_named():
    bench = _benchmarks()
    results = {
        "machine": {},
        "parallel": {"met": True},
        "loop_overhead": {"met": False},
        "strategy_scaling": {"rows": [{"strategy": "badge", "met": False}, {"strategy": "random", "met": True}]},
    }
    assert bench.missed_targets(results) == ["loop_overhead", "strategy_scaling:badge"]
    assert bench.missed_targets({"parallel": {"met": True}}) == []


def test_the_cluster_benchmark_runs_a_stage_on_real_dask_processes_with_the_local_results(tmp_path):
    bench = _benchmarks()
    out = tmp_path / "results.json"
    bench.main(["--quick", "--only", "cluster", "--out", str(out)])
    result = json.loads(out.read_text())["cluster"]
    # One seed of entropy sampling with every learner, the random forest among them, on two worker processes.
    assert result["byte_identical"] and result["runs"] == len(
        bench.load_params(ROOT / "params.yaml")["study"]["learners"]
    )
    assert "Dask cluster:" in out.with_suffix(".md").read_text()


@pytest.mark.parametrize(
    ("local", "cluster", "same", "in_task", "met"),
    [
        (10.0, 10.0, True, 1.0, True),
        (10.0, 11.0, True, 1.2, True),  # 0.91 of the local speed, tasks at the limit: both targets met
        (10.0, 12.0, True, 1.0, False),  # 0.83 of the local speed
        (10.0, 10.0, False, 1.0, False),  # results that differ
        (10.0, 10.0, True, 1.5, False),  # a run costs 1.5 times as much inside a cluster task
    ],
)
def test_the_cluster_record_meets_its_targets_only_when_identical_fast_enough_and_tasks_cheap(
    local, cluster, same, in_task, met
):
    files = {"local": {"run.json": "a"}, "cluster": {"run.json": "a" if same else "b"}}
    tasks = {
        "mlp": {"here": 1.0, "task": in_task, "ratio": in_task},
        "logreg": {"here": 1.0, "task": 1.0, "ratio": 1.0},
    }
    record = _part("cluster")._record({"local": local, "cluster": cluster}, files, tasks, workers=2)
    assert record["met"] is met and record["relative_speed"] == pytest.approx(local / cluster)


def test_scale_out_simulation_reads_the_recorded_durations_and_overlaps_stages_only_when_submitted(tmp_path):
    from dask.distributed import Client, LocalCluster

    from medal.fileio import write_json_atomic

    bench = _part("scale_out")
    for stage, seconds in (("a/random", [1.0]), ("a/entropy", [1.0])):
        write_json_atomic(tmp_path / stage / bench.STAGE_TIMING_FILE, {"runs": 1})
        write_json_atomic(tmp_path / stage / "logreg-seed0.json", {"seconds": seconds[0], "cycles": []})
    write_json_atomic(tmp_path / "b" / "x" / bench.STAGE_TIMING_FILE, {"runs": 1})
    cycles = [{"fit_seconds": 0.25, "query_seconds": 0.25}] * 2  # an older build: no run seconds recorded
    write_json_atomic(tmp_path / "b" / "x" / "0.1" / "random-seed0.json", {"cycles": cycles})
    stages, source = bench.recorded_durations(tmp_path)
    assert stages == {"a/entropy": [1.0], "a/random": [1.0], "b/x": [1.0]}
    assert source.startswith("sum of each cycle")
    with (
        LocalCluster(n_workers=1, threads_per_worker=3, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        per_stage = bench._makespan(client, stages, 0.2, study_wide=False)
        at_once = bench._makespan(client, stages, 0.2, study_wide=True)
    assert 3.0 <= per_stage < 4.0 and 1.0 <= at_once < 1.8, (per_stage, at_once)


def test_scale_out_simulation_starts_the_longest_runs_first():
    from dask.distributed import Client, LocalCluster

    bench = _part("scale_out")
    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        # In the given order the two short runs go first and the long one runs alone after them (3 s); longest
        # first, the short ones share the second worker while it runs (2 s).
        makespan = bench._makespan(client, {"s": [1.0, 1.0, 2.0]}, 0.2, study_wide=True)
    assert 2.0 <= makespan < 2.7, makespan


def _timings(folder, fit_query_by_strategy):
    """A build's timings folder: one stage of 2 workers, one run per strategy."""
    from medal.design import STAGE_TIMING_FILE
    from medal.fileio import write_json_atomic

    stage = {"wall_seconds": 10.0, "computed_on": {"workers": 2}}
    write_json_atomic(folder / "al" / STAGE_TIMING_FILE, stage)
    for strategy, seconds in fit_query_by_strategy.items():
        cycle = {"fit_seconds": seconds / 2, "query_seconds": seconds / 2}
        record = {"strategy": strategy, "seconds": seconds + 1.0, "cycles": [cycle]}
        write_json_atomic(folder / "al" / f"{strategy}-seed0.json", record)
    return folder


def test_study_time_meets_its_target_only_for_a_large_enough_drop_of_the_same_runs(tmp_path):
    study_time = _part("study_time")
    before = _timings(tmp_path / "before", {"dal": 8.0, "random": 2.0})
    out = tmp_path / "study_time.json"
    cases = [({"dal": 2.0, "random": 2.0}, "met"), ({"dal": 5.0, "random": 2.0}, "not met")]
    cases.append(({"dal": 1.0}, "not comparable (runs differ)"))
    for index, (after, verdict) in enumerate(cases):
        after_dir = _timings(tmp_path / f"after{index}", after)
        assert study_time.main(["--before", str(before), "--after", str(after_dir), "--out", str(out)]) == 0
        result = json.loads(out.read_text())
        assert result["change"]["fit_query_drop"] == pytest.approx(1 - sum(after.values()) / 10.0)
        assert out.with_suffix(".md").read_text().count(f"): {verdict}\n") == 1
    assert result["change"]["drop_by_strategy"]["dal"] == pytest.approx(1 - 1.0 / 8.0)


def test_update_modes_times_each_estimator_the_study_runs_both_incrementally_and_refitted():
    bench = _benchmarks()
    params = bench.load_params(ROOT / "params.yaml")
    result = _part("update_modes").run(params, quick=True)
    learners = [params["learners"][name] for name in params["study"]["learners"]]
    both = {
        spec["estimator"]
        for spec in learners
        if spec["update"] == "partial_fit"
        and any(o["estimator"] == spec["estimator"] for o in learners if o["update"] == "fit")
    }
    assert both and {row["estimator"] for row in result["rows"]} == both
    for row in result["rows"]:
        assert row["partial_fit_total_s"] > 0 and row["refit_total_s"] > 0
        assert row["speedup"] == pytest.approx(row["refit_total_s"] / row["partial_fit_total_s"])


def test_parallel_runs_one_main_learner_run_per_requested_seed_on_each_process_count():
    bench = _benchmarks()
    result = _part("parallel").run(bench.load_params(ROOT / "params.yaml"), quick=True)
    assert result["runs"] == 2 and result["byte_identical"]
    assert result["seconds_n_jobs_1"] > 0 and result["seconds_n_jobs_2"] > 0


def test_memory_runs_the_cut_down_stage_and_judges_both_peaks(monkeypatch):
    bench = _benchmarks()
    params = bench.load_params(ROOT / "params.yaml")
    memory = _part("memory")
    result = memory.run(params, quick=True)
    stage = result["largest_stage"]
    # every learner with random and entropy, two seeds each: the cut-down stage passed the settings check and ran
    assert stage["runs"] == len(params["study"]["learners"]) * 2 * 2
    assert 0 < stage["peak_mib"] < result["limit_mib"] and 0 < result["big_pool_run"]["peak_mib"]
    assert result["met"] is True
    monkeypatch.setitem(memory.TARGETS, "process_max_peak_mib", 1.0)  # a limit no Python process stays under
    assert memory.run(params, quick=True)["met"] is False
