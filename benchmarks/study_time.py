"""Where a built study's compute went, and how two builds compare: from the timing records the experiment stages write.

    python benchmarks/study_time.py --before OTHER/data/timings --after data/timings
    python benchmarks/study_time.py --before benchmarks/study_time.json   # against the baseline recorded there

For each build: the sum over every run of its cycles' update and query seconds (each run on one core, so this is
CPU time), its share per strategy, the sum of the runs' whole durations (scoring included), and the experiment stages'
wall time against that sum divided by the processes that ran them (1.0: no core ever idle inside a stage). With two
builds, the change of the fit + query sum. Results go to benchmarks/study_time.json and a section of
benchmarks/study_time.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from medal.fileio import write_text_atomic
from medal.report.cost import build_time

ROOT = Path(__file__).resolve().parents[1]
DROP_TARGET = 0.40  # issue 30: the same study's update + query seconds down by at least this share


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The relative drop of the fit + query sum, overall and per strategy, and whether it meets ``DROP_TARGET``: only
    between builds of as many runs (a comparison of two different studies meets nothing)."""
    drop = 1 - after["fit_query_seconds"] / before["fit_query_seconds"]
    return {
        "same_runs": after["runs"] == before["runs"],
        "target_met": after["runs"] == before["runs"] and drop >= DROP_TARGET,
        "fit_query_drop": drop,
        "run_seconds_drop": 1 - after["run_seconds"] / before["run_seconds"],
        "drop_by_strategy": {
            s: 1 - after["fit_query_seconds_by_strategy"].get(s, 0.0) / seconds
            for s, seconds in before["fit_query_seconds_by_strategy"].items()
        },
    }


def markdown(result: dict[str, Any]) -> str:
    """A readable summary."""
    lines = ["# Study compute, before and after", ""]
    for name in ("before", "after"):
        if name not in result:
            continue
        b = result[name]
        ratio = b["stage_wall_over_runs_per_process"]
        lines.append(
            f"- {name} ({result['sources'][name]}): {b['runs']} runs, {b['fit_query_seconds']:.0f} s of update + "
            f"query, {b['run_seconds']:.0f} s of whole runs; experiment stages "
            f"{b['experiment_stage_wall_seconds']:.0f} s of wall time, {ratio:.2f}x the whole runs' seconds divided by "
            "the processes"
        )
    if "change" in result:
        change = result["change"]
        lines += [
            f"- Update + query seconds fell by {100 * change['fit_query_drop']:.1f} %; the runs' whole durations "
            f"(scoring included) by {100 * change['run_seconds_drop']:.1f} %",
            f"- Target (a drop of at least {100 * DROP_TARGET:.0f} % of the same runs): "
            + ("met" if change["target_met"] else "not met" if change["same_runs"] else "not comparable (runs differ)"),
            "",
            "| strategy | before (s) | after (s) | change |",
            "|---|--:|--:|--:|",
        ]
        before, after = result["before"], result["after"]
        for strategy in before["fit_query_share_by_strategy"]:
            old = before["fit_query_seconds_by_strategy"][strategy]
            new = after["fit_query_seconds_by_strategy"].get(strategy, 0.0)
            lines.append(f"| {strategy} | {old:.0f} | {new:.0f} | {100 * (new / old - 1):+.0f} % |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--before", type=Path, help="the timings folder of the earlier build, or a study_time.json (its earlier build)"
    )
    parser.add_argument("--after", type=Path, default=ROOT / "data" / "timings", help="the later build's")
    parser.add_argument("--describe", help="how the later build was made, for the record (default: its folder)")
    parser.add_argument("--describe-before", help="how the earlier build was made (default: its folder)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "study_time.json")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"sources": {}}
    if args.before is not None and args.before.is_file():  # a baseline recorded before: kept as it was
        recorded = json.loads(args.before.read_text())
        result["before"], result["sources"]["before"] = recorded["before"], recorded["sources"]["before"]
    elif args.before is not None:
        result["before"], result["sources"]["before"] = (
            build_time(args.before),
            args.describe_before or str(args.before),
        )
    result["after"] = build_time(args.after)
    result["sources"]["after"] = args.describe or str(args.after)
    if "before" in result:
        result["change"] = compare(result["before"], result["after"])
    write_text_atomic(args.out, json.dumps(result, indent=1, sort_keys=True) + "\n")
    write_text_atomic(args.out.with_suffix(".md"), markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
