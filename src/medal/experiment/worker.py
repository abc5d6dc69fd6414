"""How a process that computes runs behaves, never what it computes: it ends with the process that started it,
and in a Dask worker glibc gets back the memory thresholds its nanny's setting takes away."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time

# How often a local worker checks that the process that started it is still alive.
PARENT_POLL_SECONDS = 0.5
# Dask's nanny starts its workers with this glibc setting, so that freed memory returns to the system.
MALLOC_TRIM_VARIABLE = "MALLOC_TRIM_THRESHOLD_"
# glibc's ``mallopt`` parameters, and where its own adjustment takes them on 64-bit machines (malloc(3)).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_MAX = 32 * 2**20
_WATCHING = False
_MALLOC_TUNED = False


def watch_parent(parent_pid: int) -> None:
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
    and unmapped afresh, page faults included (a multilayer-perceptron run took three times as long). Results do not
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
