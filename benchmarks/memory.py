"""Peak memory: the largest experiment stage, and one run on a large synthetic pool."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from benchmarks.common import ROOT, log


def _peak_kib(command: list[str], cwd: Path) -> int:
    """Peak resident memory (KiB) of the largest process of ``command``, from GNU time."""
    result = subprocess.run(["/usr/bin/time", "-f", "%M", *command], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()[-300:]}")
    return int(result.stderr.strip().splitlines()[-1])


def memory(big_pool: int) -> dict[str, Any]:
    result = {}
    work = Path(tempfile.mkdtemp(prefix="medal-bench-"))
    try:
        prepared = ROOT / "data" / "prepared" / "pneumoniamnist.npz"
        if prepared.is_file():
            (work / "data" / "prepared").mkdir(parents=True)
            shutil.copy(prepared, work / "data" / "prepared")
            stage = yaml.safe_load((ROOT / "params.yaml").read_text())
            # The al stage of the dataset with the most learners, with two strategies and every learner, two seeds
            stage["study"]["strategies"] = stage["study"]["learner_strategies"] = ["random", "entropy"]
            stage["al"]["seeds"] = stage["study"]["main_seeds"] = 2
            stage["study"]["main_seeds_by_dataset"] = {}
            (work / "params.yaml").write_text(yaml.safe_dump(stage))
            kib = _peak_kib([sys.executable, "-m", "medal.cli", "al", "pneumoniamnist"], work)
            what = "al@pneumoniamnist with random and entropy (every learner, 2 seeds)"
            result["largest_stage"] = {"stage": what, "peak_mib": kib / 1024}
            log(f"memory: {what} peak {kib / 1024:.0f} MiB per process")
        command = [sys.executable, "-m", "benchmarks.workloads.big_pool_run", str(ROOT / "params.yaml"), str(big_pool)]
        kib = _peak_kib(command, ROOT)
        result["big_pool_run"] = {"pool": big_pool, "features": 50, "peak_mib": kib / 1024}
        log(f"memory: one run on a {big_pool}-point pool peak {kib / 1024:.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def run(params: dict[str, Any], quick: bool) -> dict[str, Any]:
    return memory(2000 if quick else 100000)


def markdown(result: dict[str, Any]) -> list[str]:
    lines = []
    for r in result.values():
        what = r["stage"] if "stage" in r else f"one run on a {r['pool']}-point pool"
        lines.append(f"- Peak memory, {what}: {r['peak_mib']:.0f} MiB")
    return lines
