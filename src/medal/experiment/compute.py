"""Where runs execute: local processes (joblib) or a Dask cluster, with the same results either way.

Each run executes sequentially inside whichever process runs it: one BLAS thread and joblib's
sequential backend, so that a random forest on a Dask worker does not send its trees back to the
cluster as tasks of their own. On a cluster each feature set is sent once to every worker
(``scatter(broadcast=True)``), each run is one task, and the runner can keep some of this
machine's cores free for other work while it needs them (:meth:`Executor.making_room`).
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs, parallel_config
from sklearn.exceptions import ConvergenceWarning

from medal.blas import one_thread
from medal.errors import UserError
from medal.experiment.cluster import DASK_SETTINGS
from medal.experiment.learners import Learner
from medal.experiment.loop import Protocol, run_active_learning
from medal.experiment.strategies import Strategy
from medal.reproduce.environment import numerical_platform

# Environment variable that sends runs to a Dask scheduler; it overrides ``compute.dask_scheduler``.
DASK_SCHEDULER_ENV = "MEDAL_DASK_SCHEDULER"
DASK_CONNECT_TIMEOUT = "30s"
# Runs handed to the cluster at once per worker thread: one running, one ready to start.
TASKS_PER_WORKER = 2
# How often the cluster's worker threads are counted again while runs are handed out (workers may join or leave).
WORKERS_RECOUNT_SECONDS = 10.0
# How often the runner looks again, while no run finishes, whether the work it makes room for is done.
ROOM_RECHECK_SECONDS = 1.0
# How often a local worker checks that the process that started it is still alive.
PARENT_POLL_SECONDS = 0.5
_WATCHING = False
# Dask's nanny starts its workers with this glibc setting, so that freed memory returns to the system.
MALLOC_TRIM_VARIABLE = "MALLOC_TRIM_THRESHOLD_"
# glibc's ``mallopt`` parameters, and where its own adjustment takes them on 64-bit machines (malloc(3)).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_MAX = 32 * 2**20
_MALLOC_TUNED = False


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


def _watch_parent(parent_pid: int) -> None:
    """In a worker process: end it within a second of its parent's death (a ``kill -9`` of the stage
    leaves no worker computing for minutes). Started once per process."""
    global _WATCHING
    if _WATCHING or os.getpid() == parent_pid:
        return
    _WATCHING = True

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="medal-parent-watch", daemon=True).start()


def undo_malloc_trimming() -> None:
    """In a process started with ``MALLOC_TRIM_THRESHOLD_`` (a Dask worker): give glibc back the thresholds its own
    adjustment reaches, once per process.

    Setting that variable also stops glibc from raising its mmap threshold, so every array over 128 KiB is mapped
    and unmapped afresh, page faults included: a multilayer-perceptron run took 10 s instead of 3.2 s. Results do not
    change, only where memory comes from. Elsewhere (and without glibc) nothing is done.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED or not os.environ.get(MALLOC_TRIM_VARIABLE) or sys.platform != "linux":
        return
    _MALLOC_TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
        libc.mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD_MAX)
    except (OSError, AttributeError):  # not glibc
        pass


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
        _watch_parent(parent_pid)
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


def check_same_platform(expected: dict[str, Any], got: dict[str, Any]) -> None:
    """Refuse a run computed on another numerical platform than this process's (a worker with other BLAS kernels)."""
    if got != expected:
        raise UserError(
            f"a worker computed on BLAS {got['blas']} ({got['architecture']}), this process on {expected['blas']} "
            f"({expected['architecture']}); start the workers with the same OPENBLAS_CORETYPE (README, 'On a cluster')"
        )


def dask_scheduler(params: dict[str, Any]) -> str | None:
    """The Dask scheduler address runs go to: ``$MEDAL_DASK_SCHEDULER``, else ``compute.dask_scheduler``, else none
    (local)."""
    return os.environ.get(DASK_SCHEDULER_ENV) or params.get("compute", {}).get("dask_scheduler") or None


def this_machine_addresses() -> set[str]:
    """This machine's network addresses and names, to tell the Dask workers running on it from remote ones."""
    import psutil

    addresses = {address.address for entries in psutil.net_if_addrs().values() for address in entries}
    return addresses | {"localhost", socket.gethostname(), socket.getfqdn()}


class Executor:
    """Runs tasks on ``compute.n_jobs`` local processes, or on every worker of the Dask cluster when a scheduler is
    set (:func:`dask_scheduler`); use as a context manager, which connects to the cluster and closes the client."""

    def __init__(self, n_jobs: int = 1, address: str | None = None):
        self.n_jobs = n_jobs
        self.address = address
        self._stack = ExitStack()
        self._client = None
        self._room: tuple[int, Callable[[], bool]] | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Executor:
        """The executor ``params.yaml``'s ``compute`` section (and ``$MEDAL_DASK_SCHEDULER``) describe."""
        return cls(params.get("compute", {}).get("n_jobs", 1), dask_scheduler(params))

    def __enter__(self) -> Executor:
        if self.address is not None:
            import dask
            from dask.distributed import Client

            # This process is the cluster's client: it wakes as seldom as its scheduler and workers (medal cluster-env).
            self._stack.enter_context(dask.config.set(DASK_SETTINGS))
            try:
                self._client = self._stack.enter_context(Client(self.address, timeout=DASK_CONNECT_TIMEOUT))
            except OSError as exc:
                self._stack.close()
                raise UserError(
                    f"cannot reach the Dask scheduler at {self.address} ({exc}); start it or unset "
                    f"{DASK_SCHEDULER_ENV} / compute.dask_scheduler"
                ) from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    @property
    def dask(self) -> bool:
        return self._client is not None

    @property
    def workers(self) -> int:
        """Runs in flight at once: the cluster's worker threads, or the local processes."""
        if self._client is not None:
            return sum(self._client.nthreads().values())
        return effective_n_jobs(self.n_jobs)

    def threads_here(self) -> int:
        """Runs in flight at once on this machine's cores: the local processes, or the threads of the Dask workers on
        one of its addresses (asks the scheduler)."""
        if self._client is None:
            return effective_n_jobs(self.n_jobs)
        here = this_machine_addresses()
        workers = self._client.scheduler_info(n_workers=-1)["workers"].values()
        return sum(worker.get("nthreads", 0) for worker in workers if worker.get("host") in here)

    @contextmanager
    def making_room(self, cores: int, busy: Callable[[], bool]) -> Iterator[None]:
        """While ``busy()`` holds, keep ``cores`` of this machine's cores free for other work on it (a second ``dvc
        repro`` beside the runs): when Dask workers compute on this machine, fewer runs are in flight, none waiting,
        and the full number again within :data:`ROOM_RECHECK_SECONDS` of ``busy()`` turning false. Workers elsewhere
        need no room; local processes are a fixed pool, so with them nothing changes."""
        self._room = (cores, busy)
        try:
            yield
        finally:
            self._room = None

    def run(self, tasks: list[RunTask], data: dict[str, dict[str, np.ndarray]]) -> Iterator[Finished]:
        """Every task, each on ``data[task.data]``, yielding each as it finishes (in any order), once checked to come
        from this process's numerical platform."""
        here = numerical_platform()
        for finished, platform in self._dask(tasks, data) if self.dask else self._local(tasks, data):
            check_same_platform(here, platform)
            yield finished

    def _local(self, tasks: list[RunTask], data: dict[str, dict[str, np.ndarray]]) -> Iterator:
        parent = os.getpid()
        # joblib memory-maps large arrays for its worker processes, so each feature set is written once.
        return Parallel(n_jobs=self.n_jobs, return_as="generator_unordered")(
            delayed(run_one)(data[task.data], task, index, parent) for index, task in enumerate(tasks)
        )

    def _dask(self, tasks: list[RunTask], data: dict[str, dict[str, np.ndarray]]) -> Iterator:
        """Runs as Dask tasks in the order given, at most :data:`TASKS_PER_WORKER` per worker thread in flight: a task
        that reads scattered data is assigned to a worker as soon as it is submitted and may be stolen by another,
        so submitting all at once would lose the order (the longest runs first, :meth:`Kept.pending`). While room is
        made (:meth:`making_room`), fewer."""
        from dask.distributed import wait

        client = self._client
        shared = {name: client.scatter([data[name]], broadcast=True)[0] for name in {task.data for task in tasks}}
        waiting = iter(enumerate(tasks))
        pending: set = set()  # submitted futures not finished yet
        threads, here, counted = 1, 0, -np.inf  # at least one worker's share, so that runs wait for workers

        def submit_until_full() -> None:
            nonlocal threads, here, counted
            if time.monotonic() - counted > WORKERS_RECOUNT_SECONDS:
                threads = max(1, self.workers)
                here = self.threads_here() if self._room is not None else 0
                counted = time.monotonic()
            limit = TASKS_PER_WORKER * threads
            if self._room is not None and here and self._room[1]():
                limit = max(1, threads - min(self._room[0], here))
            while len(pending) < limit:
                index, task = next(waiting, (None, None))
                if task is None:
                    return
                pending.add(client.submit(run_one, shared[task.data], task, index, pure=False))

        try:
            submit_until_full()
            while pending:
                try:
                    done = wait(pending, timeout=ROOM_RECHECK_SECONDS, return_when="FIRST_COMPLETED").done
                except TimeoutError:  # none finished: look again whether room is still needed
                    done = set()
                pending -= done
                finished = [future.result() for future in done]  # a failed run raises its error here
                submit_until_full()
                yield from finished
        finally:
            client.cancel(list(pending))
