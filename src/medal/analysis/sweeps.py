"""The sweeps (experiment 3): per swept value and strategy, AULC and final score and the AULC difference from random
sampling, paired by seed and Holm-adjusted within each setting; and what the learner's class weighting changes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from medal.analysis.comparisons import series
from medal.analysis.metrics import METRIC_NAMES
from medal.analysis.stats import SCORE_RANGE, aulc, holm, mean_ci, paired_t
from medal.design import BASELINE, SWEEP_SETTINGS, sweep_run_path, sweep_value_name
from medal.errors import UserError
from medal.fileio import read_json
from medal.study import Study


def sweep_rows(study: Study, sweeps_dir: Path) -> list[dict[str, Any]]:
    """Rows of ``sweeps.csv``: per sweep value and strategy, AULC and final score, and AULC minus random's paired by
    seed."""
    sweeps, seeds, metric = study.sweeps, study.seeds, study.primary_metric
    rows = []
    for dataset in sweeps["datasets"]:
        for setting in SWEEP_SETTINGS:
            for value in study.sweep_values[setting]:
                aulcs: dict[str, list[float]] = {}
                for strategy in sweeps["strategies"]:
                    paths = [
                        sweeps_dir / sweep_run_path(dataset, setting, strategy, value, seed) for seed in range(seeds)
                    ]
                    missing = [path for path in paths if not path.is_file()]
                    if missing:
                        raise UserError(f"{missing[0]} missing; run `dvc repro sweep@{dataset}-{setting}` first")
                    runs = [read_json(path) for path in paths]
                    aulcs[strategy] = [aulc(*series(run, metric)) for run in runs]
                    difference = (math.nan,) * 3
                    p_value = math.nan
                    if strategy != BASELINE and BASELINE in aulcs:
                        difference = mean_ci(np.subtract(aulcs[strategy], aulcs[BASELINE]))
                        p_value = paired_t(aulcs[BASELINE], aulcs[strategy])[0]
                    rows.append(
                        {
                            "dataset": dataset,
                            "setting": setting,
                            "value": sweep_value_name(value),
                            "strategy": strategy,
                            **dict(
                                zip(("aulc", "aulc_low", "aulc_high"), mean_ci(aulcs[strategy], bounds=SCORE_RANGE))
                            ),
                            **dict(
                                zip(
                                    ("final", "final_low", "final_high"),
                                    mean_ci([r["cycles"][-1][metric] for r in runs], bounds=SCORE_RANGE),
                                )
                            ),
                            **dict(zip(("vs_random", "vs_random_low", "vs_random_high"), difference)),
                            "p_t": p_value,
                            "p_holm": math.nan,
                            "seeds": seeds,
                        }
                    )
    _holm_within_settings(rows)
    return rows


def class_weight_rows(study: Study, sweeps_dir: Path) -> list[dict[str, Any]]:
    """Rows of ``class_weight.csv``: what the learner's class weighting changes, from the class-weight sweep: per
    dataset, strategy, weighting and metric, the mean [95 % CI] test score with the initial labels and at the
    budget."""
    sweeps, seeds = study.sweeps, study.seeds
    rows = []
    for dataset in sweeps["datasets"]:
        for strategy in sweeps["strategies"]:
            for value in study.sweep_values["class_weight"]:
                paths = [
                    sweeps_dir / sweep_run_path(dataset, "class_weight", strategy, value, seed) for seed in range(seeds)
                ]
                runs = [read_json(path) for path in paths]
                for metric in METRIC_NAMES:
                    for position in (0, -1):
                        scores = mean_ci([run["cycles"][position][metric] for run in runs], bounds=SCORE_RANGE)
                        labels = runs[0]["cycles"][position]["labels"]
                        row = {"dataset": dataset, "strategy": strategy, "class_weight": value, "metric": metric}
                        rows.append(row | {"labels": labels} | dict(zip(("mean", "mean_low", "mean_high"), scores)))
    return rows


def _holm_within_settings(rows: list[dict[str, Any]]) -> None:
    """Holm-adjust the sweep p-values (paired t-tests) within each family: all values of one setting for one dataset
    and strategy."""
    families: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if not math.isnan(row["p_t"]):
            families.setdefault((row["dataset"], row["setting"], row["strategy"]), []).append(row)
    for family in families.values():
        for row, adjusted in zip(family, holm([row["p_t"] for row in family])):
            row["p_holm"] = adjusted
