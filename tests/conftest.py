"""Shared fixtures: the project's own params.yaml and small synthetic datasets."""

from __future__ import annotations

# isort: off
import medal  # noqa: F401 - before numpy: pins the study's BLAS kernel for pytest and the Dask workers it starts

# isort: on
import copy
from math import nan
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import settings

# Property tests check values, not speed: a first call that imports scikit-learn on a busy machine can take longer
# than Hypothesis's default deadline and would fail as "flaky".
settings.register_profile("medal", deadline=None)
settings.load_profile("medal")

ROOT = Path(__file__).resolve().parents[1]
MIRROR = ROOT.parent / "shared" / "data" / "medmnist"


@pytest.fixture
def params() -> dict:
    """A fresh copy of the project's params.yaml, with the settings that name its datasets to give them fewer seeds or
    leave them out of the learner comparison set to their neutral values (tests rename the datasets;
    tests/test_runner.py covers those settings)."""
    settings = copy.deepcopy(yaml.safe_load((ROOT / "params.yaml").read_text()))
    settings["study"].update(main_seeds_by_dataset={}, learner_datasets=None)
    return settings


@pytest.fixture
def blobs() -> dict[str, np.ndarray]:
    """A separable two-class problem split into pool and test, as the prepare stage writes it."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 60)
    X = rng.normal(size=(120, 4)) + y[:, None] * 2.5
    order = rng.permutation(120)
    X, y = X[order], y[order]
    return {"X_pool": X[:80], "y_pool": y[:80], "X_test": X[80:], "y_test": y[80:]}


def medmnist_arrays(n_train: int = 30, flat_labels: bool = True, seed: int = 0) -> dict[str, np.ndarray]:
    """A tiny MedMNIST-shaped file content: uint8 images and 0/1 labels per split."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("val", 6), ("test", 10)):
        arrays[f"{split}_images"] = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 2).astype(np.uint8)
        arrays[f"{split}_labels"] = labels if flat_labels else labels[:, None]
    return arrays


def aulc_row(strategy: str, aulc: float, p_holm: float = nan, dataset: str = "d", learner: str = "logreg") -> dict:
    """A ``summary.csv`` row as the report reads it (typed), with an AULC (no interval) and a Holm-adjusted p."""
    return {
        "dataset": dataset,
        "learner": learner,
        "strategy": strategy,
        "aulc": aulc,
        "aulc_low": nan,
        "aulc_high": nan,
        "p_holm": p_holm,
    }


def stored_predictions(accuracy: float, y_test: np.ndarray) -> str:
    """Stored test predictions (as a run writes them) whose accuracy on ``y_test`` is ``accuracy``, rounded to a
    whole image: the last images are predicted wrong."""
    from medal.analysis.metrics import encode_predictions

    predicted = y_test.copy()
    wrong = len(y_test) - int(round(accuracy * len(y_test)))
    if wrong:
        predicted[-wrong:] = 1 - predicted[-wrong:]
    return encode_predictions(predicted, np.array([0, 1]))
