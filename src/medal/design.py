"""The study's design and file layout, shared by the stages that run it and those that read it: which
learners and strategies run together, which values a sweep tries, and where each run's file goes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The strategy every other one is compared with.
BASELINE = "random"
# The protocol settings a sweep can vary, one at a time.
SWEEP_SETTINGS = ("batch_size", "initial_labels", "label_noise", "representation", "class_weight")
# Sweep settings that change the learner or the features rather than the protocol.
LEARNER_SETTINGS = ("class_weight",)
# In a timings folder, beside the per-run files: the stage's wall time, parallelism and reused runs.
STAGE_TIMING_FILE = "_stage.json"
# Set (to anything) to recompute every run although an earlier build published it with the same fingerprint, as
# ``medal verify`` does.
RECOMPUTE_ENV = "MEDAL_RECOMPUTE"


def run_folder(dataset: str, strategy: str) -> Path:
    """Folder of one ``al`` stage's runs, below the runs (and the timings) folder."""
    return Path(dataset) / strategy


def run_path(dataset: str, strategy: str, learner: str, seed: int) -> Path:
    """One main-experiment run's file, below the runs (and the timings) folder: one file per learner and seed."""
    return run_folder(dataset, strategy) / f"{learner}-seed{seed}.json"


def sweep_folder(dataset: str, setting: str, strategy: str) -> Path:
    """Folder of one ``sweep`` stage's runs, below the sweeps folder: one sub-folder per value."""
    return Path(dataset) / setting / strategy


def sweep_run_path(dataset: str, setting: str, strategy: str, value: Any, seed: int) -> Path:
    """One sweep run's file, below the sweeps (and the sweeps' timings) folder: one file per value and seed, named
    after the strategy (a sweep runs one learner)."""
    return sweep_folder(dataset, setting, strategy) / sweep_value_name(value) / f"{strategy}-seed{seed}.json"


def learners_for(study: dict[str, Any], strategy: str) -> list[str]:
    """The learners a strategy runs with: all of them for the learner comparison's strategies, else the main learner."""
    return list(study["learners"]) if strategy in study["learner_strategies"] else [study["main_learner"]]


def learner_datasets(study: Mapping[str, Any]) -> list[str]:
    """The learner comparison's datasets, in study order: ``study.learner_datasets``, or every dataset when null."""
    named = study.get("learner_datasets") or study["datasets"]
    return [dataset for dataset in study["datasets"] if dataset in named]


def strategies_for(study: dict[str, Any], learner: str) -> list[str]:
    """The strategies run with ``learner``, in study order: all of them for the main learner."""
    return [strategy for strategy in study["strategies"] if learner in learners_for(study, strategy)]


def sweep_value_name(value: Any) -> str:
    """Folder name of one sweep value: the representation's name, or the number as written."""
    return str(value)


def label_sizes(al: Mapping[str, Any], n_classes: int) -> dict[str, int]:
    """The initial set, batch and budget ``al`` sets for a dataset of ``n_classes`` classes: with
    ``al.scale_with_classes`` those of two classes multiplied by ``n_classes / 2`` and rounded up (every dataset then
    starts with about as many labels per class and runs as many cycles), else as given."""
    factor = n_classes / 2 if al.get("scale_with_classes", False) else 1
    return {key: math.ceil(al[key] * factor) for key in ("initial_labels", "batch_size", "budget")}


def candidates_for_refits(refits_per_query: int, n_classes: int, batch_size: int) -> int:
    """Candidates a query scores when each costs one refit per class and a query may cost ``refits_per_query``
    refits: that divided by the classes, rounded down, but never fewer than the batch the query must return."""
    return max(batch_size, refits_per_query // n_classes)


def query_cycles(al: Mapping[str, Any]) -> int:
    """Query cycles of one run: batches from the initial set to the budget."""
    return math.ceil((al["budget"] - al["initial_labels"]) / al["batch_size"])


def percent_key(fraction: float) -> str:
    """'95' for 0.95: the label of a target in file columns and metric names."""
    return f"{100 * fraction:g}"
