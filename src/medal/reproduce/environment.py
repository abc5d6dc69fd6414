"""The machine and software a build ran on, as each experiment stage records them with its timings."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from medal.blas import notify_once
from medal.fileio import dumps_json, read_json

# Packages whose versions each experiment stage records: those that compute the results.
RUN_PACKAGES = ("numpy", "scipy", "scikit-learn", "scikit-activeml", "joblib", "threadpoolctl", "dask", "distributed")
# Packages whose versions can change a run's numbers: part of the numerical platform.
RESULT_PACKAGES = ("numpy", "scipy", "scikit-learn", "scikit-activeml")
# Packages that build the pipeline, figures and paper, read where the report stage runs.
BUILD_PACKAGES = ("dvc", "matplotlib", "PyYAML", "pypandoc_binary", "typst")


def _proc_field(path: str, key: str) -> str | None:
    """The value of ``key: value`` in a /proc file, or None where there is no such file (not Linux)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.split(":", 1)[0].strip() == key), None)


def machine() -> dict[str, Any]:
    """CPU model, logical cores, memory, operating system and Python version of this machine."""
    memory_kb = _proc_field("/proc/meminfo", "MemTotal")
    return {
        "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "logical_cores": os.cpu_count(),
        "memory_gib": round(int(memory_kb.split()[0]) / 2**20, 1) if memory_kb else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed version of each package ('not installed' for absent ones)."""
    versions = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def blas_libraries() -> list[dict[str, Any]]:
    """Each BLAS library numpy and scipy loaded, with its version and the kernel it runs (threadpoolctl)."""
    import numpy  # noqa: F401  (loads numpy's BLAS)
    import scipy.linalg  # noqa: F401  (loads scipy's)
    from threadpoolctl import threadpool_info

    return [
        {
            "library": Path(info["filepath"]).name,
            "api": info["internal_api"],
            "version": info.get("version"),
            "kernel": info.get("architecture"),
        }
        for info in sorted(threadpool_info(), key=lambda info: info["filepath"])
        if info["user_api"] == "blas"
    ]


@cache
def numerical_platform() -> dict[str, Any]:
    """What decides a result's last bits besides the code and data: the CPU architecture, the BLAS
    libraries with their kernels, and the numerical libraries' versions (read once per process).

    Where the BLAS is not OpenBLAS (an MKL build, say), no kernel can be pinned: it says so once.
    """
    libraries = blas_libraries()
    others = sorted({library["api"] for library in libraries} - {"openblas"})
    if others:
        notify_once(
            f"BLAS kernel not pinned: numpy or scipy uses {', '.join(others)}, not OpenBLAS; "
            "results may differ from dvc.lock in the last bits"
        )
    return {
        "architecture": platform.machine(),
        "blas": [f"{lib['api']} {lib['version']} {lib['kernel']}" for lib in libraries],
        "versions": package_versions(RESULT_PACKAGES),
    }


def run_environment() -> dict[str, Any]:
    """What an experiment stage records about where it ran: the machine, the BLAS kernels and versions."""
    return {
        "machine": machine(),
        "blas": blas_libraries(),
        "platform": numerical_platform(),
        "versions": package_versions(RUN_PACKAGES),
    }


def stage_records(timings_dir: Path, file_name: str) -> list[dict[str, Any]]:
    """Every stage record (``file_name``) under ``timings_dir``, in path order."""
    return [read_json(path) for path in sorted(timings_dir.rglob(file_name))]


def format_duration(seconds: float) -> str:
    """'42 s', '3 min' or '1 h 05 min': a time rounded as a progress line or a run-time sentence needs it."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def build_platforms(stages: list[dict[str, Any]]) -> dict[str, Any]:
    """The distinct numerical platforms the experiment stages ran on (one, when the build was uniform)."""
    platforms = {
        dumps_json(stage["environment"]["platform"]): stage["environment"]["platform"]
        for stage in stages
        if "platform" in stage.get("environment", {})
    }
    return {"platforms": [platforms[key] for key in sorted(platforms)]}


def build_versions() -> dict[str, str]:
    """Versions of the tools that build the figures and render the paper, Pandoc and Quarto included."""
    import pypandoc

    versions = package_versions(BUILD_PACKAGES)
    versions["Pandoc"] = pypandoc.get_pandoc_version()
    quarto = shutil.which("quarto")
    versions["Quarto"] = (
        subprocess.run([quarto, "--version"], capture_output=True, text=True).stdout.strip()
        if quarto
        else "not installed"
    )
    return versions
