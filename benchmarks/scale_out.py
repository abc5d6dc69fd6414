"""The whole study on more workers, simulated: each recorded run a sleep, stage by stage against all at once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, log

from medal.design import STAGE_TIMING_FILE
from medal.fileio import read_json


def recorded_durations(timings: Path) -> tuple[dict[str, list[float]], str]:
    """Each experiment stage's run durations as the last build recorded them (``seconds``; builds before it was
    recorded: the sum of each cycle's fit and query time), by stage folder."""
    stages, source = {}, "recorded run seconds"
    for stage_file in sorted(timings.rglob(STAGE_TIMING_FILE)):
        durations = []
        for run in sorted(stage_file.parent.rglob("*.json")):
            if run.name == STAGE_TIMING_FILE:
                continue
            record = read_json(run)
            if record.get("seconds") is None:
                source = "sum of each cycle's fit and query seconds"
                durations.append(sum(c["fit_seconds"] + c["query_seconds"] for c in record["cycles"]))
            else:
                durations.append(record["seconds"])
        stages[str(stage_file.parent.relative_to(timings))] = durations
    return stages, source


def _makespan(client: Any, stages: dict[str, list[float]], scale: float, study_wide: bool) -> float:
    """Wall time of every run, each a sleep of ``scale`` × its duration: stage after stage (as ``dvc repro`` runs
    them) or all at once (``medal submit``), the longest runs first in either case, as the runner submits them."""
    from dask.distributed import wait

    start = time.perf_counter()
    batches = [[d for durations in stages.values() for d in durations]] if study_wide else list(stages.values())
    for durations in batches:
        wait(client.map(time.sleep, [d * scale for d in sorted(durations, reverse=True)], pure=False))
    return (time.perf_counter() - start) / scale


def scale_out(workers: list[int], scale: float) -> dict[str, Any]:
    """Speed-up of the whole study on ``workers`` workers, stage by stage against all runs at once, simulated on a
    Dask cluster whose tasks sleep for the runs' recorded durations (scaled by ``scale``)."""
    from dask.distributed import Client, LocalCluster

    stages, source = recorded_durations(ROOT / "data" / "timings")
    if not stages:
        raise SystemExit("scale_out: no recorded timings in data/timings; run dvc repro first")
    serial = sum(sum(durations) for durations in stages.values())
    rows = []
    for n in workers:
        with (
            LocalCluster(n_workers=1, threads_per_worker=n, processes=False, dashboard_address=None) as local,
            Client(local) as client,
        ):
            per_stage, study_wide = (_makespan(client, stages, scale, wide) for wide in (False, True))
        rows.append(
            {
                "workers": n,
                "stage_by_stage_seconds": per_stage,
                "study_wide_seconds": study_wide,
                "stage_by_stage_speedup": serial / per_stage,
                "study_wide_speedup": serial / study_wide,
            }
        )
        log(
            f"scale_out: {n} workers: stage by stage {per_stage:.0f} s ({serial / per_stage:.1f}x), all at once "
            f"{study_wide:.0f} s ({serial / study_wide:.1f}x)"
        )
    return {
        "stages": len(stages),
        "runs": sum(len(durations) for durations in stages.values()),
        "serial_seconds": serial,
        "durations": source,
        "time_scale": scale,
        "rows": rows,
    }


def run(params: dict[str, Any], quick: bool) -> dict[str, Any]:
    return scale_out([2, 8] if quick else [2, 8, 32, 128], scale=0.001 if quick else 0.01)


def markdown(r: dict[str, Any]) -> list[str]:
    return [
        f"- The whole study ({r['runs']} runs in {r['stages']} experiment stages, {r['serial_seconds']:.0f} s of "
        f"runs one after another; {r['durations']}), simulated with sleeps at {r['time_scale']}x time:",
        "",
        "| workers | stage by stage (dvc repro) | speed-up | all at once (medal submit) | speed-up |",
        "|--:|--:|--:|--:|--:|",
        *(
            f"| {row['workers']} | {row['stage_by_stage_seconds']:.0f} s | {row['stage_by_stage_speedup']:.1f}x | "
            f"{row['study_wide_seconds']:.0f} s | {row['study_wide_speedup']:.1f}x |"
            for row in r["rows"]
        ),
        "",
    ]
