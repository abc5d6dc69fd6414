"""Where runs execute: local processes (joblib) or a Dask cluster, with the same results either way.

Each run is a :class:`~medal.experiment.tasks.RunTask` computed by :func:`~medal.experiment.tasks.run_one`, which
keeps it sequential inside whichever process runs it. On a cluster each feature set is sent once to every worker
(``scatter(broadcast=True)``), each run is one task, and the runner can keep some of this machine's cores free for
other work while it needs them (:meth:`Executor.making_room`). This module decides where and when runs compute,
never what they compute: the study's outputs are byte-identical on local processes and on a cluster.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from joblib import Parallel, delayed, effective_n_jobs

from medal.errors import UserError
from medal.experiment.cluster import DASK_SETTINGS
from medal.experiment.tasks import Finished, RunTask, run_one
from medal.reproduce.environment import numerical_platform

if TYPE_CHECKING:
    from medal.study import Study

# Environment variable that sets the local processes for one shell; it overrides ``compute.n_jobs`` (results do not
# depend on it). ``medal submit`` sets it for the stages it runs beside the runs.
N_JOBS_ENV = "MEDAL_N_JOBS"
# Environment variable that sends runs to a Dask scheduler; it overrides ``compute.dask_scheduler``.
DASK_SCHEDULER_ENV = "MEDAL_DASK_SCHEDULER"
DASK_CONNECT_TIMEOUT = "30s"
# Runs handed to the cluster at once per worker thread: one running, one ready to start.
TASKS_PER_WORKER = 2
# How often the cluster's worker threads are counted again while runs are handed out (workers may join or leave).
WORKERS_RECOUNT_SECONDS = 10.0
# How often the runner looks again, while no run finishes, whether the work it makes room for is done.
ROOM_RECHECK_SECONDS = 1.0


def check_same_platform(expected: dict[str, Any], got: dict[str, Any]) -> None:
    """Refuse a run computed on another numerical platform than this process's (a worker with other BLAS kernels)."""
    if got != expected:
        raise UserError(
            f"a worker computed on BLAS {got['blas']} ({got['architecture']}), this process on {expected['blas']} "
            f"({expected['architecture']}); start the workers with the same OPENBLAS_CORETYPE (README, 'On a cluster')"
        )


def dask_scheduler(configured: str | None) -> str | None:
    """The Dask scheduler address runs go to: ``$MEDAL_DASK_SCHEDULER``, else the ``configured`` one
    (``compute.dask_scheduler``), else none (local)."""
    return os.environ.get(DASK_SCHEDULER_ENV) or configured or None


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
    def for_study(cls, study: Study) -> Executor:
        """The executor the study's ``compute`` settings (and ``$MEDAL_DASK_SCHEDULER``) describe."""
        return cls(study.n_jobs, dask_scheduler(study.dask_scheduler))

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

    def in_flight_limit(self, threads: int, threads_here: int) -> int:
        """Runs to keep submitted on a cluster of ``threads`` worker threads, ``threads_here`` of them on this
        machine: :data:`TASKS_PER_WORKER` per thread, or while room is made, one per thread left to the runs."""
        if self._room is not None and threads_here and self._room[1]():
            return max(1, threads - min(self._room[0], threads_here))
        return TASKS_PER_WORKER * threads

    def run(self, tasks: list[RunTask], data: dict[str, dict[str, Any]]) -> Iterator[Finished]:
        """Every task, each on ``data[task.data]``, yielding each as it finishes (in any order), once checked to come
        from this process's numerical platform."""
        here = numerical_platform()
        for finished, platform in self._dask(tasks, data) if self.dask else self._local(tasks, data):
            check_same_platform(here, platform)
            yield finished

    def _local(self, tasks: list[RunTask], data: dict[str, dict[str, Any]]) -> Iterator:
        parent = os.getpid()
        # joblib memory-maps large arrays for its worker processes, so each feature set is written once.
        return Parallel(n_jobs=self.n_jobs, return_as="generator_unordered")(
            delayed(run_one)(data[task.data], task, index, parent) for index, task in enumerate(tasks)
        )

    def _dask(self, tasks: list[RunTask], data: dict[str, dict[str, Any]]) -> Iterator:
        """Runs as Dask tasks in the order given, a few at a time (:class:`_DaskFeed`): a task that reads scattered
        data is assigned to a worker as soon as it is submitted and may be stolen by another, so submitting all at
        once would lose the order (the longest runs first, :meth:`Kept.pending`)."""
        from dask.distributed import wait

        feed = _DaskFeed(self, tasks, data)
        try:
            feed.top_up()
            while feed.pending:
                try:
                    done = wait(feed.pending, timeout=ROOM_RECHECK_SECONDS, return_when="FIRST_COMPLETED").done
                except TimeoutError:  # none finished: look again whether room is still needed
                    done = set()
                feed.pending -= done
                finished = [future.result() for future in done]  # a failed run raises its error here
                feed.top_up()
                yield from finished
        finally:
            feed.cancel()


class _DaskFeed:
    """The runs of one :meth:`Executor.run` on a cluster: those not submitted yet, the submitted ones not finished
    (``pending``), and the cluster's worker threads as last counted (every :data:`WORKERS_RECOUNT_SECONDS`)."""

    def __init__(self, executor: Executor, tasks: list[RunTask], data: dict[str, dict[str, Any]]):
        self.executor = executor
        self.client = executor._client
        self.shared = {name: self.client.scatter([data[name]], broadcast=True)[0] for name in {t.data for t in tasks}}
        self.waiting = iter(enumerate(tasks))
        self.pending: set = set()
        # At least one worker's share, so that runs wait for workers to join.
        self.threads, self.threads_here, self.counted = 1, 0, -math.inf

    def top_up(self) -> None:
        """Submit runs in order until as many are in flight as :meth:`Executor.in_flight_limit` allows."""
        if time.monotonic() - self.counted > WORKERS_RECOUNT_SECONDS:
            self.threads = max(1, self.executor.workers)
            self.threads_here = self.executor.threads_here() if self.executor._room is not None else 0
            self.counted = time.monotonic()
        limit = self.executor.in_flight_limit(self.threads, self.threads_here)
        while len(self.pending) < limit:
            index, task = next(self.waiting, (None, None))
            if task is None:
                return
            self.pending.add(self.client.submit(run_one, self.shared[task.data], task, index, pure=False))

    def cancel(self) -> None:
        """Cancel the runs submitted and not finished (the caller stopped reading, or one failed)."""
        self.client.cancel(list(self.pending))
