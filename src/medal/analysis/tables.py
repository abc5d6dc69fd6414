"""The aggregate stage's tables, defined once: each file's columns and their types.

The analysis writes them as CSV with fixed float formatting (six decimals, an empty cell for NaN), so
equal numbers give equal bytes, and the report reads them back as typed rows: numbers as ``int`` or
``float`` (NaN where the cell is empty), names as ``str``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Row = dict[str, Any]

# Columns that come in threes: an estimate and its 95 % interval.
_INTERVAL = ("", "_low", "_high")


def _with_interval(name: str) -> dict[str, type]:
    return {name + suffix: float for suffix in _INTERVAL}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6f}"
    return str(value)


def _parse(kind: type, text: str) -> Any:
    if kind is float:
        return float(text) if text != "" else math.nan
    return kind(text)


@dataclass(frozen=True)
class Table:
    """One CSV file of the aggregate stage: its name and its columns, in order, with their types."""

    file: str
    columns: dict[str, type]

    def text(self, rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> str:
        """The rows as CSV under this table's header; a row is a mapping with exactly these columns in this
        order, or a sequence of their values."""
        names = list(self.columns)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            if isinstance(row, Mapping):
                if list(row) != names:
                    raise ValueError(f"{self.file}: a row has columns {list(row)}, the table {names}")
                row = list(row.values())
            elif len(row) != len(names):
                raise ValueError(f"{self.file}: a row has {len(row)} values, the table {len(names)} columns")
            writer.writerow([_cell(value) for value in row])
        return buffer.getvalue()

    def read(self, folder: Path, file: str | None = None) -> list[Row]:
        """The table's rows from ``folder`` (its own file, or ``file`` for a table kept in many files), each value
        converted to its column's type."""
        path = folder / (file or self.file)
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != list(self.columns):
                raise ValueError(f"{path}: columns {reader.fieldnames}, expected {list(self.columns)}")
            return [{name: _parse(kind, row[name]) for name, kind in self.columns.items()} for row in reader]


CURVES = Table(
    "curves.csv",
    {"dataset": str, "learner": str, "strategy": str, "metric": str, "labels": int}
    | {"mean": float, "ci_low": float, "ci_high": float, "n": int},
)
DIFFERENCES = Table(
    "differences.csv",
    {"dataset": str, "learner": str, "strategy": str, "labels": int, "mean": float, "ci_low": float, "ci_high": float},
)
# What the paired comparison of a strategy's per-seed AULC with random's adds to ``summary.csv`` (empty for
# random): the mean difference with its 95 % CI; the paired t-test (the decision test: ``p_holm``),
# Holm-adjusted over the strategies compared on the same dataset and learner, with the Shapiro–Wilk p of the
# differences; the Wilcoxon signed-rank test as a check that needs no normality; the equivalence test (TOST)
# against the minimal important difference, Holm-adjusted; the minimum detectable effect of the t-test at
# 80 % power and Holm's strictest level, and the smallest margin the TOST would show equivalence within at that
# level (``equivalence_bound``); and, for the main learner, the 95 % interval of the difference when the
# test images are resampled with the seeds (:func:`test_set_intervals`).
COMPARISON_COLUMNS = (
    _with_interval("difference")
    | dict.fromkeys(("p_t", "p_holm", "p_normality", "p_wilcoxon", "p_wilcoxon_holm", "p_tost", "p_tost_holm"), float)
    | {"mde": float, "equivalence_bound": float, "difference_test_low": float, "difference_test_high": float}
)
SUMMARY = Table(
    "summary.csv",
    {"dataset": str, "learner": str, "strategy": str, "metric": str}
    | _with_interval("aulc")
    | _with_interval("final")
    | _with_interval("full_pool")
    | {"seeds": int}
    | COMPARISON_COLUMNS
    | {"aulc_sd": float}
    | _with_interval("drops")
    | _with_interval("largest_drop"),
)
TARGETS = Table(
    "targets.csv",
    {"dataset": str, "learner": str, "strategy": str, "target": str, "goal": float, "above_initial": int}
    | {"reached": int, "seeds": int}
    | _with_interval("labels")
    | _with_interval("saving")
    | {"saving_pct": float, "saving_bounded": int},
)
STOPPING = Table(
    "stopping.csv",
    {"dataset": str, "learner": str, "strategy": str, "criterion": str, "stopped": int, "seeds": int}
    | _with_interval("labels")
    | _with_interval("score")
    | _with_interval("percent_of_full")
    | {"final": float},
)
STOPPING_TRADEOFF = Table(
    "stopping_tradeoff.csv",
    {"dataset": str, "criterion": str, "threshold": float, "stopped": int, "runs": int}
    | {"labels": float, "percent_of_full": float},
)
METRIC_COMPARISONS = Table(
    "metric_comparisons.csv",
    {"dataset": str, "metric": str, "strategy": str}
    | _with_interval("difference")
    | {"p_holm": float, "p_tost_holm": float},
)
CLASS_RECALL = Table(
    "class_recall.csv",
    {"dataset": str, "learner": str, "strategy": str, "class": int} | _with_interval("recall") | {"full_pool": float},
)
CLASS_WEIGHT = Table(
    "class_weight.csv",
    {"dataset": str, "strategy": str, "class_weight": str, "metric": str, "labels": int} | _with_interval("mean"),
)
SWEEPS = Table(
    "sweeps.csv",
    {"dataset": str, "setting": str, "value": str, "strategy": str}
    | _with_interval("aulc")
    | _with_interval("final")
    | _with_interval("vs_random")
    | {"p_t": float, "p_holm": float, "seeds": int},
)
CAPPED = Table(
    "capped.csv",
    {"dataset": str, "max_candidates": str, "strategy": str}
    | _with_interval("aulc")
    | _with_interval("vs_random")
    | {"p_holm": float, "seeds": int},
)
# Ordinal datasets (main learner): quadratic-weighted kappa and balanced accuracy at the initial labels and the budget.
ORDINAL = Table(
    "ordinal.csv",
    {"dataset": str, "strategy": str, "labels": int} | _with_interval("kappa") | _with_interval("balanced_accuracy"),
)
# The primary metric's curve of one dataset and learner, for ``dvc plots`` (one file per pair).
PLOT = Table("plot.csv", {"labels": int, "strategy": str, "mean": float, "ci_low": float, "ci_high": float})
