"""The benchmark suite runs and checks what it measures (tiny sizes: the numbers are meaningless here)."""

from __future__ import annotations

import importlib.util
import json

from conftest import ROOT


def _benchmarks():
    spec = importlib.util.spec_from_file_location("benchmarks_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_benchmarks_write_results_with_targets(tmp_path):
    bench = _benchmarks()
    out = tmp_path / "results.json"
    assert bench.main(["--quick", "--only", "loop_overhead", "--only", "scaling", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    overhead = results["loop_overhead"]
    assert overhead["ratio"] == overhead["ours_seconds"] / overhead["minimal_seconds"]
    assert overhead["met"] == (overhead["ratio"] <= 1.10)
    rows = {row["strategy"]: row for row in results["scaling"]["rows"]}
    assert set(rows) == set(bench.load_params(ROOT / "params.yaml")["strategies"])
    assert rows["entropy"]["limit_seconds"] == 1.0 and rows["probcover"]["limit_seconds"] == 10.0
    assert "Loop overhead" in out.with_suffix(".md").read_text()


def test_missed_targets_are_named():
    bench = _benchmarks()
    results = {
        "machine": {},
        "parallel": {"met": True},
        "loop_overhead": {"met": False},
        "scaling": {"rows": [{"strategy": "badge", "met": False}, {"strategy": "random", "met": True}]},
    }
    assert bench.missed_targets(results) == ["loop_overhead", "scaling:badge"]
    assert bench.missed_targets({"parallel": {"met": True}}) == []


def test_growth_labels():
    bench = _benchmarks()
    assert [bench.growth_label(e) for e in (0.1, 1.0, 1.5, 2.1)] == [
        "sub-linear (fixed costs dominate)",
        "about linear",
        "between linear and quadratic",
        "quadratic or worse",
    ]


def test_the_cluster_benchmark_runs_a_stage_on_real_dask_processes_with_the_local_results(tmp_path):
    bench = _benchmarks()
    out = tmp_path / "results.json"
    bench.main(["--quick", "--only", "cluster", "--out", str(out)])
    result = json.loads(out.read_text())["cluster"]
    # One seed of entropy sampling with every learner, the random forest among them, on two worker processes.
    assert result["byte_identical"] and result["runs"] == len(
        bench.load_params(ROOT / "params.yaml")["study"]["learners"]
    )
    assert result["relative_speed"] == result["seconds_local"] / result["seconds_cluster"]
    assert result["met"] == (result["relative_speed"] >= 0.9)
    assert "Dask cluster:" in out.with_suffix(".md").read_text()
