"""What every process of a Dask cluster for this study starts with: the study's BLAS kernels and Dask's
periodic bookkeeping slowed down to suit runs that keep a core busy for seconds to minutes.

By default every Dask process wakes many times a second (the event loop's tick, a worker's profiler, the memory
and system monitors), which takes CPU from the runs on a small machine (measured: benchmarks/measurements.md).
None of :data:`DASK_SETTINGS` changes a result or where a run goes, only how often Dask looks: its dashboard shows
no profiles and coarser resource plots, and a worker over its memory limit is noticed within a second.
"""

from __future__ import annotations

import os
import shlex

from medal.blas import CORETYPE_VARIABLE

DASK_SETTINGS: dict[str, str | bool] = {
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}


def dask_variable(key: str) -> str:
    """The environment variable that sets Dask's configuration ``key`` (dask.config's naming)."""
    return "DASK_" + "__".join(part.upper().replace("-", "_") for part in key.split("."))


def cluster_environment() -> dict[str, str]:
    """The variables for the scheduler, the workers and ``medal submit``: the BLAS kernel this process computes on
    (when one is pinned) and :data:`DASK_SETTINGS`."""
    environment = {dask_variable(key): str(value) for key, value in DASK_SETTINGS.items()}
    if os.environ.get(CORETYPE_VARIABLE):
        environment[CORETYPE_VARIABLE] = os.environ[CORETYPE_VARIABLE]
    return environment


def shell_exports() -> str:
    """:func:`cluster_environment` as ``export`` lines for a POSIX shell (``eval "$(medal cluster-env)"``)."""
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in sorted(cluster_environment().items()))
