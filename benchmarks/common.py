"""What every benchmark part shares: the project root, the targets, logging and the data the parts run on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from medal.fileio import load_npz

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "loop_overhead_max_ratio": 1.10,
    "parallel_min_speedup": 1.7,
    "cluster_min_relative_speed": 0.9,
    "in_task_max_ratio": 1.2,
    "paper_rebuild_max_seconds": 30.0,
    "pinned_kernel_max_slowdown": 1.25,
    "process_max_peak_mib": 2048.0,  # one worker process: two of them fit a 4 GiB machine beside the system
}


def met(result: dict) -> str:
    return "met" if result["met"] else "MISSED"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def synthetic(n_pool: int, n_test: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """A standardised 50-feature, two-class problem split into pool and test (the prepared files' layout)."""
    X, y = make_classification(n_pool + n_test, n_features=50, n_informative=10, weights=[0.3], random_state=seed)
    X = StandardScaler().fit_transform(X)
    return {"X_pool": X[:n_pool], "y_pool": y[:n_pool], "X_test": X[n_pool:], "y_test": y[n_pool:]}


def study_data() -> tuple[str, dict[str, np.ndarray]]:
    """The prepared PneumoniaMNIST features when the pipeline has built them, else a synthetic stand-in."""
    path = ROOT / "data" / "prepared" / "pneumoniamnist.npz"
    return ("pneumoniamnist", load_npz(path)) if path.is_file() else ("synthetic-5000", synthetic(5000))


def dvc(*args: str, cwd: Path = ROOT) -> str:
    """Output of a dvc command run in ``cwd``; a failure raises with DVC's message."""
    result = subprocess.run(["dvc", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"dvc {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout
