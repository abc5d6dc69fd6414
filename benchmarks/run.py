"""Benchmarks of the study's machinery: loop overhead, partial_fit versus refit, strategies' cost with the pool,
parallel speed-up, a Dask cluster against local processes, the whole study on more workers, incremental rebuilds,
peak memory and the cost of the pinned BLAS kernels.

    python benchmarks/run.py                          # every part, about 20 minutes on 2 cores
    python benchmarks/run.py --only strategy_scaling  # one part

Run from the project root with the environment active, on an otherwise idle machine, after `dvc repro` (the
incremental-rebuild part needs a built project). Every figure is a ratio of two measurements taken side by side, or
a curve over sizes, so it holds on a noisy machine. Each part is a module of this folder with ``run(params, quick)``
and ``markdown(result)``; results go to benchmarks/results.json (and a readable benchmarks/results.md), and the
command exits with 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root: this folder's modules as benchmarks.*

import medal  # noqa: E402, F401, I001 - before numpy (benchmarks.common loads it): pins the study's BLAS kernel

from benchmarks.common import ROOT, log  # noqa: E402

from medal.config import load_params  # noqa: E402
from medal.fileio import read_json, write_text_atomic  # noqa: E402

# The parts in the order they run and report; each names a module of this folder (benchmarks.<part>).
PARTS = (
    "loop_overhead",
    "update_modes",
    "strategy_scaling",
    "parallel",
    "cluster",
    "scale_out",
    "incremental",
    "memory",
    "blas_kernel",
)
strategy_scaling = importlib.import_module("benchmarks.strategy_scaling")


def markdown(results: dict[str, Any]) -> str:
    """A readable summary of ``results``, each part as its module writes it."""
    lines = ["# Benchmark results", "", f"Machine: {results['machine']}", ""]
    for part in PARTS:
        if part in results:
            lines += importlib.import_module(f"benchmarks.{part}").markdown(results[part])
    return "\n".join(lines) + "\n"


def missed_targets(results: dict[str, Any]) -> list[str]:
    """The parts (and scaled strategies) whose target was missed."""
    missed = [part for part in results if isinstance(results[part], dict) and results[part].get("met") is False]
    rows = results.get("strategy_scaling", {}).get("rows", [])
    return missed + [f"strategy_scaling:{r['strategy']}" for r in rows if not r["met"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable)")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, to check that the benchmarks run (numbers meaningless)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    args = parser.parse_args(argv)
    params = load_params(ROOT / "params.yaml")
    from medal.reproduce.environment import machine

    # With --only, the other parts' earlier results are kept.
    results: dict[str, Any] = read_json(args.out) if args.only and args.out.is_file() else {}
    results.update({"machine": machine(), "quick": args.quick})
    start = time.perf_counter()
    for part in args.only or PARTS:
        log(f"== {part}")
        results[part] = importlib.import_module(f"benchmarks.{part}").run(params, args.quick)
    results["total_seconds"] = time.perf_counter() - start
    write_text_atomic(args.out, json.dumps(results, indent=1, sort_keys=True) + "\n")
    write_text_atomic(args.out.with_suffix(".md"), markdown(results))
    missed = missed_targets(results)
    log(f"wrote {args.out} in {results['total_seconds']:.0f} s; targets missed: {', '.join(missed) or 'none'}")
    return 1 if missed and not args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
