"""Seconds per query and peak memory of every strategy of the study as the pool grows.

Every strategy of ``study.strategies`` is built exactly as a run builds it (its ``strategies`` entry and the
protocol's ``al.max_candidates``) and queries one batch of ``BATCH`` after the study's main learner was fitted on
``LABELLED`` labels (every class among them), on one BLAS thread, in this process, on the same synthetic pools:
``FEATURES`` standardised features, 2 or 11 classes, sizes ``SIZES``. Each (strategy, pool) is timed alone,
then run again under ``tracemalloc`` for the peak of the memory the query allocates (NumPy's arrays included; the
pool itself is not counted). The growth exponent is the least-squares slope of log seconds on log pool size.

A strategy that misses a limit at one size is not run at larger ones (it would only take longer or exhaust the
memory); its row says so.
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import numpy as np
from benchmarks.common import log
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from medal.errors import UserError
from medal.experiment.learners import Learner
from medal.experiment.loop import Protocol, initial_indices
from medal.experiment.strategies import Strategy

SIZES = (1000, 5000, 12000, 35000)
CLASSES = (2, 11)
FEATURES = 400
LABELLED = 100
BATCH = 10
# Per query, at the largest pool with the most classes, on one core.
LIMIT_SECONDS = 5.0
LIMIT_SECONDS_BY_METHOD = {"monte_carlo_eer": 15.0}
LIMIT_PEAK_MIB = 2048.0


def synthetic_pool(n: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A standardised ``FEATURES``-feature pool of ``n`` samples and ``n_classes`` classes (two clusters each)."""
    X, y = make_classification(
        n,
        n_features=FEATURES,
        n_informative=40,
        n_redundant=40,
        n_classes=n_classes,
        n_clusters_per_class=2,
        random_state=seed,
    )
    return StandardScaler().fit_transform(X), y


def limit_seconds(spec: dict[str, Any]) -> float:
    """The per-query limit of a strategy's ``params.yaml`` entry."""
    return LIMIT_SECONDS_BY_METHOD.get(spec.get("method", ""), LIMIT_SECONDS)


def one_query(params: dict[str, Any], name: str, X: np.ndarray, y_true: np.ndarray, traced: bool) -> float:
    """Seconds of one ``BATCH`` query of strategy ``name`` after the main learner was fitted on ``LABELLED`` labels;
    with ``traced``, the peak MiB the query allocated instead."""
    learner_name = params["study"]["main_learner"]
    learner = Learner.from_params(learner_name, params["learners"][learner_name])
    protocol = Protocol.for_pool(params["al"], y_true)
    classes = np.unique(y_true)
    clf = learner.make(classes, random_state=0)
    y = np.full(len(y_true), np.nan)
    first = initial_indices(y_true, LABELLED, np.random.default_rng(0))
    y[first] = y_true[first]
    learner.update(clf, X, y, first)
    strategy = Strategy.from_params(name, params["strategies"][name], random_state=0, pool_cap=protocol.max_candidates)
    if traced:
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    chosen = np.asarray(strategy.query(X, y, clf, BATCH))
    seconds = time.perf_counter() - start
    if traced:
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    if len(set(chosen.tolist())) != BATCH or not np.all(np.isnan(y[chosen])):
        raise RuntimeError(f"{name} did not return {BATCH} distinct unlabelled samples")
    return peak / 2**20 if traced else seconds


def growth_exponent(sizes: list[int], seconds: list[float]) -> float | None:
    """The slope b of log(seconds) = a + b log(size), by least squares; None with fewer than two sizes."""
    if len(sizes) < 2:
        return None
    return float(np.polyfit(np.log(sizes), np.log(np.maximum(seconds, 1e-6)), 1)[0])


def strategy_row(params: dict[str, Any], name: str, pools: dict[tuple[int, int], tuple], sizes, log) -> dict:
    """One strategy's seconds and peak MiB per (classes, size), its growth exponents and whether it met the limits."""
    spec = params["strategies"][name]
    limit = limit_seconds(spec)
    row: dict[str, Any] = {"strategy": name, "limit_seconds": limit, "limit_peak_mib": LIMIT_PEAK_MIB, "by_classes": {}}
    for n_classes in CLASSES:
        measured: dict[str, Any] = {"seconds": {}, "peak_mib": {}, "stopped": None}
        for n in sizes:
            X, y = pools[(n_classes, n)]
            try:
                seconds = one_query(params, name, X, y, traced=False)
            except UserError as exc:  # a strategy defined for two classes only
                measured["stopped"] = f"not defined here: {exc}"
                break
            peak = one_query(params, name, X, y, traced=True)
            measured["seconds"][str(n)] = seconds
            measured["peak_mib"][str(n)] = peak
            log(f"strategy_scaling {name}, {n_classes} classes, pool {n}: {seconds:.3f} s, {peak:.0f} MiB")
            if seconds > limit or peak > LIMIT_PEAK_MIB:
                measured["stopped"] = f"limit passed at pool {n}; larger pools not run"
                break
        done = [int(n) for n in measured["seconds"]]
        measured["growth_exponent"] = growth_exponent(done, [measured["seconds"][str(n)] for n in done])
        row["by_classes"][str(n_classes)] = measured
    largest = row["by_classes"][str(max(CLASSES))]
    binary = row["by_classes"][str(min(CLASSES))]
    judged = largest if largest["seconds"] or not str(largest["stopped"]).startswith("not defined") else binary
    top = str(max(sizes))
    row["applicable_classes"] = max(CLASSES) if judged is largest else min(CLASSES)
    row["met"] = (
        top in judged["seconds"] and judged["seconds"][top] <= limit and judged["peak_mib"][top] <= LIMIT_PEAK_MIB
    )
    return row


def strategy_scaling(params: dict[str, Any], sizes: tuple[int, ...] = SIZES, log=print) -> dict[str, Any]:
    """Every strategy of the study at every pool size and class count (see the module's docstring)."""
    pools = {(k, n): synthetic_pool(n, k) for k in CLASSES for n in sizes}
    with threadpool_limits(1):
        rows = [strategy_row(params, name, pools, sizes, log) for name in params["study"]["strategies"]]
    return {
        "sizes": list(sizes),
        "classes": list(CLASSES),
        "features": FEATURES,
        "labelled": LABELLED,
        "batch": BATCH,
        "max_candidates": params["al"].get("max_candidates"),
        "rows": rows,
        "met": all(row["met"] for row in rows),
        "note": f"one query of {BATCH} after the main learner was fitted on {LABELLED} labels; one BLAS thread; "
        "limits judged at the largest pool with the most classes the strategy is defined for",
    }


def markdown(result: dict[str, Any]) -> list[str]:
    """The results as a table: seconds (peak MiB) per pool size, for each class count."""
    sizes = result["sizes"]
    cap = result["max_candidates"]
    lines = [
        "",
        f"Strategy scaling: seconds per query of {result['batch']} (peak MiB the query allocated) after "
        f"{result['labelled']} labels, {result['features']} features, one core"
        + (f", al.max_candidates = {cap}" if cap else ", no al.max_candidates")
        + f"; limits {LIMIT_SECONDS:g} s (MC-EER {LIMIT_SECONDS_BY_METHOD['monte_carlo_eer']:g} s) and "
        f"{LIMIT_PEAK_MIB:.0f} MiB at {sizes[-1]}.",
        "",
        "| strategy | classes | " + " | ".join(str(n) for n in sizes) + " | growth | limits met |",
        "|---|--:|" + "--:|" * len(sizes) + "--:|---|",
    ]
    for row in result["rows"]:
        # class counts in numeric order (results.json stores them as sorted string keys: "11" before "2")
        for n_classes, measured in sorted(row["by_classes"].items(), key=lambda item: int(item[0])):
            cells = [
                f"{measured['seconds'][str(n)]:.2f} ({measured['peak_mib'][str(n)]:.0f})"
                if str(n) in measured["seconds"]
                else "–"
                for n in sizes
            ]
            exponent = measured["growth_exponent"]
            growth = "–" if exponent is None else f"n^{exponent:.2f}"
            judged = int(n_classes) == row["applicable_classes"]
            verdict = ("yes" if row["met"] else "NO") if judged else ""
            if measured["stopped"] and measured["stopped"].startswith("not defined"):
                verdict = "not defined"
            lines.append(f"| {row['strategy']} | {n_classes} | " + " | ".join(cells) + f" | {growth} | {verdict} |")
    return lines


def run(params: dict[str, Any], quick: bool) -> dict[str, Any]:
    return strategy_scaling(params, (300, 600) if quick else SIZES, log=log)
