"""The pinned BLAS kernels against the ones OpenBLAS picks for this CPU: the same work, alternating, each in a fresh
process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from statistics import median
from typing import Any

from benchmarks.common import ROOT, TARGETS, log, met


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
                [sys.executable, "-m", "benchmarks.workloads.kernel", mode, str(seeds)],
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


def run(params: dict[str, Any], quick: bool) -> dict[str, Any]:
    return blas_kernel(seeds=1 if quick else 4, repeats=1 if quick else 3)


def markdown(r: dict[str, Any]) -> list[str]:
    return [
        f"- Pinned BLAS kernels ({'; '.join(r['pinned_kernels'])}) against this CPU's own "
        f"({'; '.join(r['native_kernels'])}): {r['slowdown']:.2f}x the time (median of "
        f"{len(r['pinned_seconds'])}: {median(r['pinned_seconds']):.1f} s vs {median(r['native_seconds']):.1f} s "
        f"for PCA features and {r['runs']} runs on PneumoniaMNIST), scores "
        f"{'identical' if r['scores_identical'] else 'different'}; target <= {r['target']}: {met(r)}"
    ]
