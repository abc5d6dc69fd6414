"""What the paper concludes, in a form two builds can be compared by: headline numbers with their
95 % CIs, significance decisions and the signs of savings.

Where a rebuild runs on other BLAS kernels than the committed one, its results cannot be
byte-identical (an active-learning run turns the first differing rounding into a different query),
so ``medal verify`` compares these conclusions instead: a number holds when the rebuild's mean
lies in the committed 95 % CI, a decision or a sign holds when it is the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from medal.analysis.stats import ALPHA

# Numbers are written with six decimals; differences below this are rounding, not a change.
ROUNDING = 1e-6


def _triple(row: dict[str, Any], name: str) -> list[float]:
    """Mean, CI low and CI high of ``name`` in a row, rounded as the aggregate's CSV files are."""
    return [round(row[key], 6) for key in (name, f"{name}_low", f"{name}_high")]


def holm_decision(p_holm: float, gain: float) -> str:
    """'above random' or 'below random' when the Holm-adjusted test is significant at ALPHA, else 'not significant'."""
    if math.isnan(p_holm) or p_holm >= ALPHA:
        return "not significant"
    return "above random" if gain > 0 else "below random"


def sign(mean: float, low: float = math.nan, high: float = math.nan) -> str:
    """The direction the data support: '+' or '-' by the mean, '0 within CI' when the 95 % CI [low, high]
    holds zero (so no direction is claimed), 'none' for NaN (e.g. a target never reached)."""
    if math.isnan(mean):
        return "none"
    if not math.isnan(low) and not math.isnan(high) and low <= 0 <= high:
        return "0 within CI"
    return "+" if mean > 0 else "-" if mean < 0 else "0"


def friedman_tests(name: str, friedman: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The single Friedman tests of one entry of ``friedman.json``, named: one per dataset where it holds a test per
    dataset (``datasets``), else the one test; each with its ``strategies``."""
    if "datasets" not in friedman:
        return [(name, friedman)]
    return [
        (f"{name}/{dataset}", {"strategies": friedman["strategies"], **test})
        for dataset, test in friedman["datasets"].items()
    ]


def friedman_decisions(name: str, friedman: dict[str, Any]) -> dict[str, str]:
    """The Friedman verdict and, for every pair of treatments, whether the critical difference separates them."""
    decisions = {
        f"friedman/{name}": "not tested"
        if math.isnan(friedman["p_value"])
        else "ranks differ"
        if friedman["p_value"] < ALPHA
        else "no difference detected"
    }
    ranks = dict(zip(friedman["strategies"], friedman["average_ranks"]))
    names = list(ranks)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            gap = abs(ranks[first] - ranks[second])
            decisions[f"critical_difference/{name}/{first} vs {second}"] = (
                "separated" if gap >= friedman["critical_difference"] else "not separated"
            )
    return decisions


def conclusions(
    summary: Iterable[dict[str, Any]],
    targets: Iterable[dict[str, Any]],
    sweeps: Iterable[dict[str, Any]],
    friedman: dict[str, dict[str, Any]],
    baseline: str,
    across: dict[str, Any] | None = None,
    capped: Iterable[dict[str, Any]] = (),
) -> dict[str, dict[str, Any]]:
    """The study's conclusions from the aggregate's rows (numbers as floats): ``numbers`` maps a name to [mean,
    CI low, CI high], ``decisions`` to a significance verdict (with the comparison ``across`` datasets' and the
    candidate cap's check), ``signs`` to the direction of a saving in labels or of an AULC difference from random
    (see :func:`sign`)."""
    numbers: dict[str, list[float]] = {}
    decisions: dict[str, str] = {}
    signs: dict[str, str] = {}
    summary, capped = list(summary), list(capped)
    baseline_aulc = {(r["dataset"], r["learner"]): r["aulc"] for r in summary if r["strategy"] == baseline}
    for row in summary:
        key = f"{row['dataset']}/{row['learner']}/{row['strategy']}"
        for name in ("aulc", "final", "full_pool"):
            numbers[f"{name}/{key}"] = _triple(row, name)
        if row["strategy"] != baseline and (row["dataset"], row["learner"]) in baseline_aulc:
            gain = row["aulc"] - baseline_aulc[(row["dataset"], row["learner"])]
            decisions[f"holm/{key}"] = holm_decision(row["p_holm"], gain)
    # (rows, the fields that name a row, (column, name) of its level, (column, name) of its difference to random)
    tables = (
        (targets, ("target", "dataset", "learner", "strategy"), ("labels", "labels_to"), ("saving", "saving")),
        (sweeps, ("dataset", "setting", "value", "strategy"), ("aulc", "sweep_aulc"), ("vs_random", "sweep_vs_random")),
        (capped, ("dataset", "max_candidates", "strategy"), ("aulc", "capped_aulc"), ("vs_random", "capped_vs_random")),
    )
    for rows, fields, (level, level_name), (difference, difference_name) in tables:
        for row in rows:
            key = "/".join(str(row[field]) for field in fields)
            numbers[f"{level_name}/{key}"] = _triple(row, level)
            if row["strategy"] != baseline:
                numbers[f"{difference_name}/{key}"] = _triple(row, difference)
                signs[f"{difference_name}/{key}"] = sign(*numbers[f"{difference_name}/{key}"])
    decisions |= _capped_decisions(capped, baseline)
    for name, result in friedman.items():
        for part, test in friedman_tests(name, result):
            decisions.update(friedman_decisions(part, test))
    if across:
        for strategy, result in across["strategies"].items():
            decisions[f"across/{strategy}"] = result["decision"]
        if across["friedman"]:
            decisions.update(friedman_decisions("across", across["friedman"]))
    return {"numbers": numbers, "decisions": decisions, "signs": signs}


def _capped_decisions(capped: list[dict[str, Any]], baseline: str) -> dict[str, str]:
    """Each strategy's verdict against random under each cap of the candidate cap's check."""
    return {
        f"capped/{row['dataset']}/{row['max_candidates']}/{row['strategy']}": holm_decision(
            row["p_holm"], row["vs_random"]
        )
        for row in capped
        if row["strategy"] != baseline
    }


def _number_holds(committed: list[float], rebuilt: list[float]) -> bool:
    """The rebuilt mean lies in the committed CI (widened by rounding); without a CI it must equal the mean."""
    mean, low, high = committed
    got = rebuilt[0]
    if math.isnan(mean) or math.isnan(got):
        return math.isnan(mean) and math.isnan(got)
    if math.isnan(low) or math.isnan(high):
        low = high = mean
    return low - ROUNDING <= got <= high + ROUNDING


def _show(values: list[float]) -> str:
    mean, low, high = values
    return "none" if math.isnan(mean) else f"{mean:.4g} [{low:.4g}, {high:.4g}]"


@dataclass
class ConclusionComparison:
    """How the conclusions of a rebuild compare with the committed ones."""

    checked: int = 0
    moved_within_ci: int = 0
    changed: list[str] = field(default_factory=list)

    @property
    def hold(self) -> bool:
        """True when every number stays in its CI and every decision and sign is unchanged."""
        return not self.changed


def compare_conclusions(
    committed: dict[str, dict[str, Any]], rebuilt: dict[str, dict[str, Any]]
) -> ConclusionComparison:
    """Check every committed number, decision and sign against the rebuild's."""
    result = ConclusionComparison()
    for name, values in committed["numbers"].items():
        result.checked += 1
        got = rebuilt["numbers"].get(name)
        if got is None:
            result.changed.append(f"{name}: missing from the rebuild")
        elif not _number_holds(values, got):
            result.changed.append(f"{name}: {_show(got)} in the rebuild, mean outside the committed {_show(values)}")
        elif got != values:
            result.moved_within_ci += 1
    for kind in ("decisions", "signs"):
        for name, value in committed[kind].items():
            result.checked += 1
            got = rebuilt[kind].get(name, "missing")
            if got != value:
                result.changed.append(f"{name}: {got} (committed: {value})")
    return result


def conclusion_report(comparison: ConclusionComparison) -> str:
    """A short report: how many conclusions were checked, how many numbers moved within their CI, what changed."""
    lines = [
        f"{comparison.checked} conclusions checked (headline numbers against the committed 95 % CI, "
        "significance decisions, signs of savings)",
        f"{comparison.moved_within_ci} numbers moved within their committed CI",
        *(f"CHANGED: {line}" for line in comparison.changed),
        "conclusions reproduced" if comparison.hold else "conclusions NOT reproduced",
    ]
    return "\n".join(lines)
