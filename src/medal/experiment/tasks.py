"""One seeded run as a task that any process can compute (a local worker or a Dask worker), with the same
result wherever it runs: one BLAS/OpenMP thread and joblib's sequential backend inside the run, arrays aligned.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from joblib import parallel_config
from sklearn.exceptions import ConvergenceWarning

from medal.blas import one_thread
from medal.errors import UserError
from medal.experiment.learners import Learner
from medal.experiment.loop import Protocol, run_active_learning
from medal.experiment.strategies import Strategy
from medal.experiment.worker import undo_malloc_trimming, watch_parent
from medal.reproduce.environment import numerical_platform


@dataclass(frozen=True)
class RunTask:
    """One seeded run: what it is (``header``, written into its result), how it runs, and where its file goes.

    ``path`` is relative to the stage's output folder; ``data`` names the feature set it runs on (a key of the
    data passed with it, the same for every run on that feature set); ``spec`` holds every setting that decides
    its numbers (``learner`` and ``strategy``: their ``params.yaml`` entries), from which the run is built and
    the fingerprint that lets a rerun reuse a run finished before is computed.
    """

    learner: str
    strategy: str
    seed: int
    protocol: Protocol
    header: dict[str, Any]
    path: str
    data: str
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finished:
    """One computed run: its position in the submitted list, its result, per-cycle timings and wall time."""

    index: int
    result: dict[str, Any]
    timings: list[dict[str, float]]
    seconds: float


def aligned(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays, each copied (same layout) where its memory is not aligned to its items: Dask deserialises
    scattered arrays into frames at any offset, and an unaligned matrix takes other numerical paths than an
    aligned one (a PCA-feature run's results differed in the last bits, then in its queries)."""
    return {key: array if array.flags.aligned else array.copy(order="K") for key, array in data.items()}


def run_one(
    data: dict[str, np.ndarray], task: RunTask, index: int, parent_pid: int | None = None
) -> tuple[Finished, dict[str, Any]]:
    """Run one task with a single BLAS/OpenMP thread and joblib's sequential backend (runs go in parallel
    instead); also return the numerical platform it ran on, which the caller checks against its own.
    ``parent_pid``: the local process that dispatched it, whose death ends this worker (None on a cluster).

    Convergence warnings are silenced: on a few dozen labels an iterative learner often stops at its
    iteration limit, which is part of the protocol, and thousands of such lines would bury the progress.
    """
    if parent_pid is not None:
        watch_parent(parent_pid)
    undo_malloc_trimming()
    data = aligned(data)
    start = time.perf_counter()
    # Sequential inside the run: on a Dask worker joblib inherits the client's Dask backend, and a
    # random forest would send each of its trees back to the cluster as a task of its own.
    with one_thread(), parallel_config(backend="sequential"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # While the oracle's answers hold one class, the learner predicts it (see Learner._checked).
        warnings.filterwarnings("ignore", message="Since the 'base_estimator' could not be fitted")
        learner = Learner.from_params(task.learner, task.spec["learner"])
        query = Strategy.from_params(
            task.strategy, task.spec["strategy"], random_state=task.seed, pool_cap=task.protocol.max_candidates
        )
        try:
            result = run_active_learning(
                data["X_pool"], data["y_pool"], data["X_test"], data["y_test"], learner, query, task.protocol, task.seed
            )
        except UserError as exc:
            raise UserError(f"{task.header['dataset']}, seed {task.seed}: {exc}") from None
    record = {**task.header, "protocol": asdict(task.protocol), "cycles": result.cycles}
    finished = Finished(index, record, result.timings, time.perf_counter() - start)
    return finished, numerical_platform()
