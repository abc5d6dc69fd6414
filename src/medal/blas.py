"""One numerical platform for every process that computes a result: OpenBLAS's Haswell kernels on x86-64,
one thread.

Floating-point sums depend on the BLAS kernel, and an active-learning run turns the first differing
tie into a different query, so results are byte-identical only between machines that run the same
kernels. OpenBLAS picks its kernel when it is loaded (with numpy), from ``OPENBLAS_CORETYPE`` or the
CPU; this module sets that variable before numpy is imported, when the user has not set it. Child
processes (joblib workers, Dask workers started from this process) inherit it.

The thread count matters too: LAPACK's SVD (PCA) and other blocked routines split their sums by thread, so
the same kernel on 2 cores and on 1 gives different last bits. Every computation whose numbers are kept runs
inside :func:`one_thread`.

Nothing here imports numpy: the decision must come before numpy loads OpenBLAS.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CORETYPE_VARIABLE = "OPENBLAS_CORETYPE"
# The kernel the study's results are built with: it runs on every x86-64 CPU with AVX2 and FMA.
PINNED_KERNEL = "Haswell"
REQUIRED_FLAGS = frozenset({"avx2", "fma"})
X86_64 = frozenset({"x86_64", "amd64"})
# Set once a process has printed the notice, so that its child processes do not repeat it.
NOTICE_SHOWN_VARIABLE = "MEDAL_BLAS_NOTICE_SHOWN"


@dataclass(frozen=True)
class KernelChoice:
    """What to set ``OPENBLAS_CORETYPE`` to (None: leave it alone), and a one-line notice when
    nothing could be pinned."""

    coretype: str | None
    notice: str | None = None


def choose_kernel(environ: Mapping[str, str], machine: str, cpu_flags: frozenset[str]) -> KernelChoice:
    """The kernel decision for a process with this environment, on a CPU of this architecture and flags.

    A value the user set is respected; on x86-64 with AVX2 and FMA the Haswell kernels are chosen;
    elsewhere nothing can be pinned and the notice says so.
    """
    if environ.get(CORETYPE_VARIABLE):
        return KernelChoice(None)
    if machine.lower() not in X86_64:
        return KernelChoice(
            None,
            f"BLAS kernel not pinned on a {machine} CPU (only x86-64 has the study's "
            f"{PINNED_KERNEL} kernels); results may differ from dvc.lock in the last bits",
        )
    missing = sorted(REQUIRED_FLAGS - cpu_flags)
    if missing:
        return KernelChoice(
            None,
            f"BLAS kernel not pinned: this CPU lacks {', '.join(missing)}, which OpenBLAS's "
            f"{PINNED_KERNEL} kernels need; results may differ from dvc.lock in the last bits",
        )
    return KernelChoice(PINNED_KERNEL)


def one_thread() -> Any:
    """A context (and decorator) that runs BLAS and OpenMP on one thread: the same sums on every machine."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The instruction-set flags of this CPU (empty where /proc/cpuinfo does not exist)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def notify_once(message: str) -> None:
    """Print ``message`` on stderr once per process tree."""
    if os.environ.get(NOTICE_SHOWN_VARIABLE):
        return
    os.environ[NOTICE_SHOWN_VARIABLE] = "1"
    print(f"medal: {message}", file=sys.stderr, flush=True)


def pin_kernel() -> None:
    """Select the study's BLAS kernels for this process and its children, if numpy is not loaded yet."""
    choice = choose_kernel(os.environ, platform.machine(), cpu_flags())
    if choice.notice:
        notify_once(choice.notice)
    elif choice.coretype and "numpy" in sys.modules:
        notify_once(
            f"numpy was loaded before medal, so the BLAS kernel could not be pinned to {choice.coretype}; "
            f"import medal first or set {CORETYPE_VARIABLE}={choice.coretype}"
        )
    elif choice.coretype:
        os.environ[CORETYPE_VARIABLE] = choice.coretype
