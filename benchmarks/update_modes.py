"""partial_fit against refitting: the update time per cycle of every estimator run with both, over pool sizes."""

from __future__ import annotations

from typing import Any

import numpy as np
from benchmarks.common import log, synthetic
from threadpoolctl import threadpool_limits

from medal.experiment.learners import Learner
from medal.experiment.loop import Protocol, run_active_learning
from medal.experiment.strategies import Strategy
from medal.report.learners import update_modes as learner_update_modes
from medal.study import Study


def update_modes(params: dict[str, Any], sizes: list[int], cycles: int) -> dict[str, Any]:
    rows = []
    with threadpool_limits(1):
        for n_pool in sizes:
            data = synthetic(n_pool)
            batch = max(1, n_pool // 100)
            protocol = Protocol(20, batch, 20 + cycles * batch)
            for estimator, modes in learner_update_modes(Study.from_params(params)):
                if "partial_fit" not in modes:
                    continue
                incremental, refit = modes["partial_fit"], modes["fit"]
                seconds = {}
                for learner in (incremental, refit):
                    result = run_active_learning(
                        data["X_pool"],
                        data["y_pool"],
                        data["X_test"],
                        data["y_test"],
                        Learner.from_params(learner, params["learners"][learner]),
                        Strategy("random", "random", random_state=0),
                        protocol,
                        0,
                    )
                    seconds[learner] = [t["fit_seconds"] for t in result.timings]
                row = {
                    "estimator": estimator,
                    "pool": n_pool,
                    "batch": batch,
                    "cycles": cycles,
                    "partial_fit_ms_per_cycle": 1000 * float(np.mean(seconds[incremental])),
                    "refit_ms_per_cycle": 1000 * float(np.mean(seconds[refit])),
                    "partial_fit_total_s": float(np.sum(seconds[incremental])),
                    "refit_total_s": float(np.sum(seconds[refit])),
                }
                row["speedup"] = row["refit_total_s"] / row["partial_fit_total_s"]
                log(
                    f"update {estimator} pool {n_pool}: partial_fit {row['partial_fit_ms_per_cycle']:.1f} ms, "
                    f"refit {row['refit_ms_per_cycle']:.1f} ms per cycle, speed-up {row['speedup']:.1f}x"
                )
                rows.append(row)
    return {"rows": rows, "note": "batch = 1 % of the pool, 20 initial labels, random queries; update time only"}


def run(params: dict[str, Any], quick: bool) -> dict[str, Any]:
    return update_modes(params, [300] if quick else [500, 5000, 50000], cycles=2 if quick else 8)


def markdown(result: dict[str, Any]) -> list[str]:
    return [
        "",
        "| estimator | pool | partial_fit ms/cycle | refit ms/cycle | speed-up |",
        "|---|--:|--:|--:|--:|",
        *(
            f"| {r['estimator']} | {r['pool']} | {r['partial_fit_ms_per_cycle']:.1f} | {r['refit_ms_per_cycle']:.1f} | "
            f"{r['speedup']:.1f}x |"
            for r in result["rows"]
        ),
    ]
