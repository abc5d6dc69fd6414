"""Where every figure, table and quoted number of the manuscript comes from: the pipeline outputs it is computed
from (with their checksums as ``dvc.lock`` records them), the ``params.yaml`` sections it depends on, the module that
writes it, and the command that rebuilds and checks it.

The report stage writes the record (:func:`provenance_record`) beside the measurements, since it holds the
checksums of wall-clock inputs too; the paper stage shows it: a note under each figure and table of the HTML, a
tooltip on each quoted number, and one table in the supplement (:func:`provenance_table`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medal.analysis.tables import (
    CAPPED,
    CLASS_RECALL,
    CLASS_WEIGHT,
    CURVES,
    DIFFERENCES,
    METRIC_COMPARISONS,
    ORDINAL,
    STOPPING,
    STOPPING_TRADEOFF,
    SUMMARY,
    SWEEPS,
    TARGETS,
)
from medal.design import SWEEP_SETTINGS
from medal.fileio import md5_file
from medal.layout import AGGREGATE, PUBLISHED, REFERENCE, RUNS, SELECTION, TIMINGS
from medal.layout import RAW as RAW_DIR
from medal.study import RESULT_SECTIONS

# The pipeline outputs the report stage reads, and the stage that writes each (``dvc.yaml``); the published
# results are kept in git. tests/test_provenance.py checks both against dvc.yaml.
TRACKED = {
    str(RAW_DIR): "fetch",
    str(SELECTION): "select",
    str(REFERENCE): "reference",
    str(RUNS): "al",
    str(TIMINGS): "al",
    str(AGGREGATE): "aggregate",
    str(PUBLISHED): None,
}
# The stage that writes the manuscript's parts, and the command that rebuilds one and checks it reproduced.
STAGE = "report"
COMMAND = "medal verify report"
SHORT_MD5 = 8


@dataclass(frozen=True)
class Source:
    """What one generated file is computed from: inputs (below :data:`TRACKED` paths), ``params.yaml`` sections
    and the report module that writes it."""

    inputs: tuple[str, ...]
    params: tuple[str, ...]
    module: str


def _aggregate(*files: str) -> tuple[str, ...]:
    return tuple(f"data/aggregate/{name}" for name in files)


RAW = str(RAW_DIR)
STUDY = ("study", "evaluation")
# Every file the report stage writes that the manuscript includes, by name.
SOURCES: dict[str, Source] = {
    "datasets.md": Source((RAW,), ("study", "datasets"), "report/setup.py"),
    "classes.md": Source((RAW,), ("study",), "report/setup.py"),
    "data_description.md": Source((RAW,), ("study", "prepare"), "report/setup.py"),
    "data_provenance.md": Source((RAW,), ("datasets",), "report/setup.py"),
    "parameters.md": Source((), RESULT_SECTIONS, "report/setup.py"),
    "prior_shift.md": Source((RAW,), ("study",), "report/validity.py"),
    "class_weight.md": Source((RAW, *_aggregate(CLASS_WEIGHT.file)), ("sweeps",), "report/validity.py"),
    "flags.md": Source((RAW, *_aggregate("flags.json")), STUDY, "report/validity.py"),
    "selection.md": Source((RAW, "data/selection"), ("select",), "report/benchmark.py"),
    "selection_text.md": Source(("data/selection",), ("select",), "report/benchmark.py"),
    "benchmark.md": Source((RAW, "data/reference", "data/published/medmnist_v2.yaml"), STUDY, "report/benchmark.py"),
    "benchmark_text.md": Source(
        (RAW, "data/reference", "data/published/medmnist_v2.yaml"), STUDY, "report/benchmark.py"
    ),
    "representations.md": Source((RAW, "data/reference"), ("sweeps",), "report/benchmark.py"),
    "aulc.md": Source((RAW, *_aggregate(SUMMARY.file)), STUDY, "report/savings.py"),
    "results.md": Source((RAW, *_aggregate(SUMMARY.file, "identical.json")), STUDY, "report/savings.py"),
    "across.md": Source((RAW, *_aggregate("across.json")), STUDY, "report/savings.py"),
    "across_text.md": Source((RAW, *_aggregate("across.json")), STUDY, "report/savings.py"),
    "friedman.md": Source((RAW, *_aggregate("friedman.json")), STUDY, "report/savings.py"),
    "friedman_learners.md": Source((RAW, *_aggregate("friedman.json")), STUDY, "report/savings.py"),
    "labels.md": Source((RAW, *_aggregate(TARGETS.file)), STUDY, "report/savings.py"),
    "labels_targets.md": Source((RAW, *_aggregate(TARGETS.file)), STUDY, "report/savings.py"),
    "conclusion.md": Source(
        (RAW, *_aggregate(SUMMARY.file, TARGETS.file, "friedman.json", "across.json")), STUDY, "report/conclusion.py"
    ),
    "answers.md": Source((RAW, *_aggregate(SUMMARY.file)), STUDY, "report/conclusion.py"),
    "answers_targets.md": Source((RAW, *_aggregate(TARGETS.file)), STUDY, "report/conclusion.py"),
    "metrics.md": Source((RAW, *_aggregate(METRIC_COMPARISONS.file)), STUDY, "report/conclusion.py"),
    "metrics_text.md": Source((RAW, *_aggregate(METRIC_COMPARISONS.file)), STUDY, "report/conclusion.py"),
    "learners.md": Source((RAW, *_aggregate(SUMMARY.file)), ("study", "learners"), "report/learners.py"),
    "learners_text.md": Source((RAW, *_aggregate(SUMMARY.file)), ("study", "learners"), "report/learners.py"),
    "stopping.md": Source((RAW, *_aggregate(STOPPING.file)), STUDY, "report/behaviour.py"),
    "stopping_text.md": Source((RAW, *_aggregate(STOPPING.file)), STUDY, "report/behaviour.py"),
    "balance.md": Source((RAW, *_aggregate("class_balance.json")), STUDY, "report/behaviour.py"),
    "recall.md": Source((RAW, *_aggregate(CLASS_RECALL.file)), STUDY, "report/behaviour.py"),
    "ordinal.md": Source((RAW, *_aggregate(ORDINAL.file)), STUDY, "report/behaviour.py"),
    "stability.md": Source((RAW, *_aggregate(SUMMARY.file)), STUDY, "report/behaviour.py"),
    "stability_text.md": Source((RAW, *_aggregate(SUMMARY.file)), STUDY, "report/behaviour.py"),
    "sweeps.md": Source((RAW, *_aggregate(SWEEPS.file)), ("sweeps",), "report/behaviour.py"),
    "sweeps_text.md": Source((RAW, *_aggregate(SWEEPS.file, "sweep_repeats.json")), ("sweeps",), "report/behaviour.py"),
    "capped.md": Source((RAW, *_aggregate(CAPPED.file)), ("cap_check", "al"), "report/cost.py"),
    "capped_text.md": Source((RAW, *_aggregate(CAPPED.file)), ("cap_check", "al"), "report/cost.py"),
    "power.md": Source((RAW, *_aggregate(SUMMARY.file)), STUDY, "report/power.py"),
    "power_text.md": Source((RAW, *_aggregate(SUMMARY.file)), STUDY, "report/power.py"),
    "learning_curves.svg": Source((RAW, *_aggregate(CURVES.file, SUMMARY.file)), STUDY, "report/figures.py"),
    "differences.svg": Source((RAW, *_aggregate(DIFFERENCES.file)), STUDY, "report/figures.py"),
    "learners.svg": Source((RAW, *_aggregate(SUMMARY.file)), ("study", "learners"), "report/figures.py"),
    "stopping_tradeoff.svg": Source((RAW, *_aggregate(STOPPING_TRADEOFF.file)), STUDY, "report/tradeoff.py"),
    "queried_images.svg": Source((RAW, "data/runs"), ("study",), "report/image_grid.py"),
    "cd_diagram.svg": Source((RAW, *_aggregate("friedman.json")), STUDY, "report/ranks.py"),
    "cd_learners.svg": Source(_aggregate("friedman.json"), STUDY, "report/ranks.py"),
    **{
        f"sweep_{setting}.svg": Source((RAW, *_aggregate(SWEEPS.file)), ("sweeps",), "report/figures.py")
        for setting in SWEEP_SETTINGS
    },
    # Measurements (paper/measured).
    "timing.md": Source((RAW, "data/timings"), ("study", "learners"), "report/learners.py"),
    "speedup.md": Source(("data/timings",), ("study", "learners"), "report/learners.py"),
    "update_modes.svg": Source((RAW, "data/timings", *_aggregate(SUMMARY.file)), ("learners",), "report/figures.py"),
    "strategy_time.md": Source((RAW, "data/timings"), ("study",), "report/cost.py"),
    "environment.md": Source(("data/timings",), (), "report/setup.py"),
    "runtime.md": Source(("data/timings",), (), "report/setup.py"),
}


PARAMS = "params.yaml"
# Where each value quoted in the prose (``_variables.yml``'s top-level keys) comes from.
VARIABLE_SOURCES = {
    "al": f"{PARAMS} › al",
    "main_seeds": f"{PARAMS} › study › main_seeds, main_seeds_by_dataset, titles from data/raw/<dataset>.json",
    "bootstrap_resamples": f"{PARAMS} › evaluation › test_bootstrap › resamples",
    "across": f"{PARAMS} › evaluation › across_datasets",
    "target_percents": f"{PARAMS} › evaluation › target_fractions",
    "budget_shares": f"{PARAMS} › al › budget, over the pool sizes in data/raw/<dataset>.json",
    "class_scaling": f"{PARAMS} › al › scale_with_classes, over the class names in data/raw/<dataset>.json",
    "target_main": f"{PARAMS} › evaluation › target_fractions (the first study target)",
    "target_others": f"{PARAMS} › evaluation › target_fractions (the other study targets)",
    "primary_metric": f"{PARAMS} › evaluation › primary_metric",
    "n_datasets": f"{PARAMS} › study › datasets (counted)",
    "mid_aulc": f"{PARAMS} › evaluation › minimal_important_difference › aulc",
    "power_percent": "src/medal/report/power.py › DETECTION_POWER",
    "blas_kernel": "src/medal/blas.py › PINNED_KERNEL",
    "svm_folds": "src/medal/experiment/learners.py › CalibratedSVC().folds",
    "blas_processors": "src/medal/blas.py › REQUIRED_FLAGS",
    "dataset_list": f"{PARAMS} › study › datasets, titles from data/raw/<dataset>.json",
    "grid": "src/medal/report/image_grid.py (query grid settings), titles from data/raw/<dataset>.json",
    "image_limitation": "image sizes in data/raw/<dataset>.json",
    "n_strategies": f"{PARAMS} › study › strategies (counted)",
    "n_learners": f"{PARAMS} › study › learners (counted)",
    "main_learner": f"{PARAMS} › study › main_learner",
    "learner_strategies": f"{PARAMS} › study › learner_strategies",
    "n_learner_strategies": f"{PARAMS} › study › learner_strategies (counted)",
    "sweeps": f"{PARAMS} › sweeps, titles from data/raw/<dataset>.json",
    "mc_eer_candidates": f"{PARAMS} › strategies › mc_eer, over the class names in data/raw/<dataset>.json",
    "mc_eer_note": f"{PARAMS} › study › strategies, strategies › mc_eer, al; class names in data/raw/<dataset>.json",
    "epistemic_note": f"{PARAMS} › study › strategies; class names in data/raw/<dataset>.json",
    "strategies_left_out": f"{PARAMS} › study › strategies; class names in data/raw/<dataset>.json",
    "learner_datasets": f"{PARAMS} › study › learner_datasets, titles from data/raw/<dataset>.json",
    "scored_tests": f"{PARAMS} › evaluation › max_test_images, test counts in data/raw/<dataset>.json",
    "qbc_members": f"{PARAMS} › strategies › qbc_vote_entropy › n_members",
    "pool_cap": f"{PARAMS} › al › max_candidates, over the pool sizes in data/raw/<dataset>.json",
    "dal_training": f"{PARAMS} › strategies › dal › unlabelled_per_labelled",
    "n_runs": f"{PARAMS} › study, al › seeds, sweeps, cap_check (runs counted)",
    "smallest_test_class": "test-set class counts in data/raw/<dataset>.json",
    "findings": "data/aggregate › summary.csv, targets.csv, friedman.json, across.json (report/conclusion.py)",
    "supp": "the order of figures and tables in paper/supplement.qmd",
}


def tracked_path(path: str) -> str:
    """The :data:`TRACKED` output that holds ``path`` (itself, or the folder it lies in)."""
    for tracked in TRACKED:
        if path == tracked or path.startswith(tracked + "/"):
            return tracked
    raise KeyError(f"{path} lies in no pipeline output the report stage reads")


def dvc_md5(path: Path) -> str:
    """The checksum ``dvc.lock`` records for ``path``: a file's md5, or for a folder the md5 of DVC's listing of its
    files (relative path and md5 of each, sorted, as JSON) followed by ``.dir``."""
    if path.is_file():
        return md5_file(path)
    listing = sorted(
        (
            {"md5": md5_file(file), "relpath": file.relative_to(path).as_posix()}
            for file in path.rglob("*")
            if file.is_file()
        ),
        key=lambda entry: entry["relpath"],
    )
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode("utf-8")).hexdigest() + ".dir"


def provenance_record(root: Path) -> dict[str, Any]:
    """``files``: per generated file, its inputs with their checksums, the ``params.yaml`` sections, the module and
    the command; ``variables``: the source of each quoted value. Paths are read below ``root``, the project root."""
    checksums = {tracked: dvc_md5(root / tracked) for tracked in TRACKED if (root / tracked).exists()}
    files = {}
    for name, source in SOURCES.items():
        inputs = []
        for path in source.inputs:
            tracked = tracked_path(path)
            entry = {"path": path, "output": tracked, "stage": TRACKED[tracked], "md5": checksums.get(tracked)}
            if path != tracked and (root / path).is_file():
                entry["file_md5"] = md5_file(root / path)
            inputs.append(entry)
        files[name] = {
            "stage": STAGE,
            "inputs": inputs,
            "input_texts": [input_text(entry) for entry in inputs],
            "params": list(source.params),
            "module": f"src/medal/{source.module}",
            "command": COMMAND,
        }
    return {"files": files, "variables": VARIABLE_SOURCES}


def input_text(entry: dict[str, Any]) -> str:
    """'data/aggregate/summary.csv (1a2b3c4d; in data/aggregate 5e6f7a8b.dir, stage aggregate)'."""
    own = f"{entry['file_md5'][:SHORT_MD5]}; in {entry['output']} " if "file_md5" in entry else ""
    md5 = entry["md5"] or "missing"
    where = f"stage {entry['stage']}" if entry["stage"] else "in git"
    return f"{entry['path']} ({own}{md5[:SHORT_MD5]}{'.dir' if md5.endswith('.dir') else ''}, {where})"
