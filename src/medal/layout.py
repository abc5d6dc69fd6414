"""Where the pipeline's files live, relative to the project root: the one place the command line, the
reproduction check and the submission bundle take these paths from (``dvc.yaml`` repeats them, and
``tests/test_layout.py`` checks that every output it declares lies below one of these)."""

from __future__ import annotations

from pathlib import Path

from medal.design import run_folder, sweep_folder

RAW = Path("data/raw")  # canonical datasets and their provenance
PREPARED = Path("data/prepared")  # features fitted on the pool
REFERENCE = Path("data/reference")  # learners trained on the whole pool
SELECTION = Path("data/selection")  # cross-validation on the pool
PUBLISHED = Path("data/published/medmnist_v2.yaml")  # published test results the whole-pool learners are set beside
RUNS = Path("data/runs")  # one file per active-learning run of the two main experiments
SWEEPS = Path("data/sweeps")  # one file per run of the sweeps
CAPPED = Path("data/capped")  # one file per run of the candidate cap's check, laid out as RUNS
TIMINGS = Path("data/timings")  # wall-clock times of the runs and stages
PARTIAL = Path("data/partial")  # runs finished by a stage that has not completed yet
AGGREGATE = Path("data/aggregate")
METRICS = Path("data/metrics.json")  # headline numbers for `dvc metrics` and `dvc exp show`
CONCLUSIONS = Path("data/conclusions.json")  # what the paper concludes, compared by `medal verify` across platforms
PLATFORM = Path("data/platform.json")  # the BLAS kernels and library versions the runs were computed with
PAPER = Path("paper")
GENERATED = PAPER / "generated"  # tables, texts and figures computed from results
MEASURED = PAPER / "measured"  # tables, texts and figures that show wall-clock measurements
PAPER_OUT = PAPER / "_output"  # the rendered PDF and HTML

# Outputs that record or show wall-clock time: expected to differ on every rebuild.
WALL_CLOCK = (TIMINGS, MEASURED, PAPER_OUT)
# Outputs that hold one file per run.
RUN_FILES = (RUNS, SWEEPS, CAPPED)


def al_paths(dataset: str, strategy: str) -> tuple[Path, Path, Path]:
    """Results, scratch and timings folders of the ``al`` stage of one (dataset, strategy)."""
    where = run_folder(dataset, strategy)
    return RUNS / where, PARTIAL / "runs" / where, TIMINGS / where


def al_stage_paths(dataset: str) -> tuple[Path, Path]:
    """Results and timings folders of the ``al`` stage of one dataset (one folder per strategy below each)."""
    return RUNS / dataset, TIMINGS / dataset


def capped_paths(dataset: str, strategy: str) -> tuple[Path, Path, Path]:
    """Results, scratch and timings folders of the ``capped`` stage of one strategy on ``cap_check.dataset``."""
    where = run_folder(dataset, strategy)
    return CAPPED / where, PARTIAL / "capped" / where, TIMINGS / "capped" / where


def sweep_paths(dataset: str, setting: str, strategy: str) -> tuple[Path, Path, Path]:
    """Results, scratch and timings folders of the ``sweep`` stage of one (dataset, setting, strategy)."""
    where = sweep_folder(dataset, setting, strategy)
    return SWEEPS / where, PARTIAL / "sweeps" / where, TIMINGS / "sweeps" / where


def capped_stage_paths(dataset: str) -> tuple[Path, Path]:
    """Results and timings folders of the ``capped`` stage, on ``cap_check.dataset``."""
    return CAPPED / dataset, TIMINGS / "capped" / dataset


def sweep_stage_paths(dataset: str, setting: str) -> tuple[Path, Path]:
    """Results and timings folders of the ``sweep`` stage of one (dataset, setting)."""
    return SWEEPS / dataset / setting, TIMINGS / "sweeps" / dataset / setting


# Where DVC runs a temporary or queued experiment: a copy of the project at <project>/.dvc/tmp/exps/<name>/...
EXPERIMENT_WORKSPACES = (".dvc", "tmp", "exps")


def user_root(workspace: Path) -> Path:
    """The folder the relative paths a user wrote in params.yaml (mirror folders, a data file) start from: the
    project, also when DVC runs the stage in an experiment's copy of it (``dvc exp run --temp``, ``--queue``)."""
    parts = workspace.resolve().parts
    width = len(EXPERIMENT_WORKSPACES)
    for index in range(len(parts) - width + 1):
        if parts[index : index + width] == EXPERIMENT_WORKSPACES:
            return Path(*parts[:index])
    return workspace
