"""Peak memory: the largest experiment stage, and one run on a large synthetic pool; the target is the largest
process's peak (``TARGETS["process_max_peak_mib"]``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from benchmarks.common import ROOT, TARGETS, log, met, synthetic

from medal.fileio import write_npz_atomic

STAGE_DATASET = "pneumoniamnist"  # the image set whose al stage runs every learner on the largest binary pool


def _peak_kib(command: list[str], cwd: Path) -> int:
    """Peak resident memory (KiB) of the largest process of ``command``, from GNU time."""
    result = subprocess.run(["/usr/bin/time", "-f", "%M", *command], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()[-300:]}")
    return int(result.stderr.strip().splitlines()[-1])


def stage_params(params: dict[str, Any], quick: bool) -> dict[str, Any]:
    """The study's settings cut down to the benchmarked stage: random and entropy with every learner, two seeds;
    ``quick``: a budget of 60 labels, for the small stand-in pool."""
    stage = yaml.safe_load(yaml.safe_dump(params))
    stage["study"]["strategies"] = stage["study"]["learner_strategies"] = ["random", "entropy"]
    stage["al"]["seeds"] = stage["study"]["main_seeds"] = 2
    stage["study"]["main_seeds_by_dataset"] = {}
    if quick:
        stage["al"].update(initial_labels=10, batch_size=25, budget=60)  # the sweeps' values fit in it
    return stage


def stage_peak(params: dict[str, Any], quick: bool, work: Path) -> dict[str, Any]:
    """Peak memory of ``medal al`` on the stage dataset's prepared features (a 600-image stand-in when ``quick``
    or when the pipeline has not built them: the machinery is checked, the figure means little)."""
    prepared = ROOT / "data" / "prepared" / f"{STAGE_DATASET}.npz"
    (work / "data" / "prepared").mkdir(parents=True)
    if prepared.is_file() and not quick:
        shutil.copy(prepared, work / "data" / "prepared")
        data = f"{STAGE_DATASET}'s prepared features"
    else:
        write_npz_atomic(work / "data" / "prepared" / f"{STAGE_DATASET}.npz", synthetic(600, 200))
        data = "a 600-image synthetic stand-in"
    (work / "params.yaml").write_text(yaml.safe_dump(stage_params(params, quick)))
    kib = _peak_kib([sys.executable, "-m", "medal.cli", "al", STAGE_DATASET], work)
    what = f"al@{STAGE_DATASET} with random and entropy (every learner, 2 seeds) on {data}"
    log(f"memory: {what} peak {kib / 1024:.0f} MiB per process")
    return {"stage": what, "peak_mib": kib / 1024, "runs": len(list((work / "data" / "runs").rglob("*.json")))}


def memory(params: dict[str, Any], big_pool: int, quick: bool) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="medal-bench-"))
    try:
        result: dict[str, Any] = {"largest_stage": stage_peak(params, quick, work)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = [sys.executable, "-m", "benchmarks.workloads.big_pool_run", str(ROOT / "params.yaml"), str(big_pool)]
    kib = _peak_kib(command, ROOT)
    result["big_pool_run"] = {"pool": big_pool, "features": 50, "peak_mib": kib / 1024}
    log(f"memory: one run on a {big_pool}-point pool peak {kib / 1024:.0f} MiB")
    result["limit_mib"] = TARGETS["process_max_peak_mib"]
    result["met"] = all(r["peak_mib"] <= result["limit_mib"] for r in (result["largest_stage"], result["big_pool_run"]))
    return result


def run(params: dict[str, Any], quick: bool) -> dict[str, Any]:
    return memory(params, 2000 if quick else 100000, quick)


def markdown(result: dict[str, Any]) -> list[str]:
    stage, big = result["largest_stage"], result["big_pool_run"]
    return [
        f"- Peak memory, {stage['stage']}: {stage['peak_mib']:.0f} MiB",
        f"- Peak memory, one run on a {big['pool']}-point pool: {big['peak_mib']:.0f} MiB",
        f"- Peak memory target: at most {result['limit_mib']:.0f} MiB per process: {met(result)}",
    ]
