"""The report stage: every figure, table, sentence and variable the manuscript includes, from DVC outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from medal.analysis.summaries import main_target, study_targets
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
from medal.design import STAGE_TIMING_FILE, SWEEP_SETTINGS
from medal.fileio import read_json, write_json_atomic, write_text_atomic
from medal.report.behaviour import (
    class_balance_table,
    class_recall_table,
    ordinal_table,
    stability_table,
    stability_text,
    stopping_table,
    stopping_text,
    sweep_summary,
    sweep_table,
)
from medal.report.benchmark import (
    benchmark_table,
    benchmark_text,
    representations_table,
    selection_table,
    selection_text,
)
from medal.report.conclusion import (
    conclusion_text,
    learner_answers_table,
    metric_answers_table,
    metric_answers_text,
    target_answers_text,
)
from medal.report.cost import capped_table, capped_text, parallel_text, strategy_seconds, strategy_time_table
from medal.report.figures import (
    differences_figure,
    learners_figure,
    learning_curves_figure,
    sweep_figure,
    update_modes_figure,
)
from medal.report.image_grid import queried_images_figure
from medal.report.learners import learners_table, learners_text, mean_timings, speedup_text, timing_table
from medal.report.paper import PROVENANCE, SUPPLEMENT, supplement_labels
from medal.report.power import power_table, power_text
from medal.report.provenance import provenance_record
from medal.report.ranks import critical_difference_figure
from medal.report.savings import (
    across_table,
    across_text,
    aulc_table,
    friedman_text,
    labels_table,
    results_text,
)
from medal.report.setup import (
    classes_table,
    data_description,
    datasets_table,
    environment_table,
    parameters_table,
    provenance_text,
    runtime_text,
)
from medal.report.text import STRATEGY_LABELS, supplement_ref
from medal.report.tradeoff import stopping_tradeoff_figure
from medal.report.validity import class_weight_table, flags_text, prior_shift_text
from medal.report.variables import variables
from medal.reproduce.environment import build_platforms, build_versions, stage_records
from medal.study import Study


@dataclass(frozen=True)
class ModelInputs:
    """Where the model-selection results, the whole-pool reference scores and the published results are."""

    selection_dir: Path
    reference_dir: Path
    published: Path


def model_texts(study: Study, provenance: dict[str, dict[str, Any]], inputs: ModelInputs) -> dict[str, str]:
    """The model-selection and benchmark tables and sentences, by file name."""
    references = {d: read_json(inputs.reference_dir / f"{d}.json") for d in study.datasets}
    selection = {d: read_json(inputs.selection_dir / f"{d}.json") for d in study.selection["datasets"]}
    published = yaml.safe_load(inputs.published.read_text(encoding="utf-8"))
    return {
        "selection.md": selection_table(study, provenance, selection),
        "selection_text.md": selection_text(study, provenance, selection),
        "benchmark.md": benchmark_table(study, provenance, references, published),
        "benchmark_text.md": benchmark_text(study, provenance, references, published),
        "representations.md": representations_table(study, provenance, references),
    }


def section_texts(
    study: Study, shown: Study, provenance: dict[str, dict[str, Any]], aggregate_dir: Path
) -> dict[str, str]:
    """The generated tables and sentences of every section that the results determine, by file name.

    Tables of the main learner's strategies take ``shown`` (:meth:`Study.shown`): strategies that queried the
    very same images appear once."""
    return data_texts(study, provenance, aggregate_dir) | result_texts(study, shown, provenance, aggregate_dir)


def data_texts(study: Study, provenance: dict[str, dict[str, Any]], aggregate_dir: Path) -> dict[str, str]:
    """The tables and sentences that describe the datasets, by file name."""
    return {
        "datasets.md": datasets_table(study, provenance),
        "classes.md": classes_table(study, provenance),
        "prior_shift.md": prior_shift_text(study, provenance),
        "class_weight.md": class_weight_table(study, provenance, CLASS_WEIGHT.read(aggregate_dir)),
        "flags.md": flags_text(study, provenance, read_json(aggregate_dir / "flags.json")),
        "data_description.md": data_description(study, provenance),
        "data_provenance.md": provenance_text(study, provenance),
    }


def result_texts(
    study: Study, shown: Study, provenance: dict[str, dict[str, Any]], aggregate_dir: Path
) -> dict[str, str]:
    """The tables and sentences of the results, by file name."""
    summary = SUMMARY.read(aggregate_dir)
    targets = TARGETS.read(aggregate_dir)
    stopping = STOPPING.read(aggregate_dir)
    friedman = read_json(aggregate_dir / "friedman.json")
    across = read_json(aggregate_dir / "across.json")
    metric_rows = METRIC_COMPARISONS.read(aggregate_dir)
    capped = CAPPED.read(aggregate_dir)
    main = main_target(study.evaluation)
    return {
        "aulc.md": aulc_table(shown, provenance, summary),
        "results.md": results_text(shown, provenance, summary, read_json(aggregate_dir / "identical.json")),
        "across.md": across_table(shown, provenance, across),
        "across_text.md": across_text(shown, provenance, across),
        "conclusion.md": conclusion_text(shown, provenance, summary, friedman["strategies"], targets, True, across),
        "friedman.md": friedman_text(friedman["strategies"], STRATEGY_LABELS, "@fig-cd", provenance),
        "learners.md": learners_table(study, provenance, summary),
        "learners_text.md": learners_text(study, provenance, summary),
        "parameters.md": parameters_table(study),
        "labels.md": labels_table(shown, provenance, targets, main),
        "labels_targets.md": "\n".join(
            labels_table(shown, provenance, targets, t) for t in study_targets(study.evaluation) if t != main
        ),
        "stopping.md": stopping_table(shown, provenance, stopping),
        "stopping_text.md": stopping_text(shown, stopping),
        "balance.md": class_balance_table(shown, provenance, read_json(aggregate_dir / "class_balance.json")),
        "recall.md": class_recall_table(shown, provenance, CLASS_RECALL.read(aggregate_dir)),
        "ordinal.md": ordinal_table(shown, provenance, ORDINAL.read(aggregate_dir)),
        "stability.md": stability_table(shown, provenance, summary),
        "stability_text.md": stability_text(shown, summary),
        "friedman_learners.md": friedman_text(
            friedman["learners"], STRATEGY_LABELS, supplement_ref("fig-cd-learners"), provenance
        ),
        "power.md": power_table(shown, provenance, summary),
        "power_text.md": power_text(shown, provenance, summary),
        "answers.md": learner_answers_table(study, provenance, summary),
        "metrics.md": metric_answers_table(shown, provenance, metric_rows),
        "metrics_text.md": metric_answers_text(shown, provenance, metric_rows),
        "answers_targets.md": target_answers_text(shown, provenance, targets),
        "capped.md": capped_table(study, provenance, capped),
        "capped_text.md": capped_text(study, provenance, capped),
    }


def write_measured(
    study: Study,
    provenance: dict[str, dict[str, Any]],
    timings: dict,
    timings_dir: Path,
    measured_dir: Path,
    platform_path: Path,
) -> None:
    """What shows wall-clock time or the machine: timing table, speed-ups, environment, run time, platform."""
    stages = stage_records(timings_dir, STAGE_TIMING_FILE)
    measured = {
        "timing.md": timing_table(study, provenance, timings),
        "strategy_time.md": strategy_time_table(study, provenance, strategy_seconds(study, timings_dir)),
        "speedup.md": speedup_text(study, timings),
        "environment.md": environment_table(stages, build_versions()),
        "runtime.md": " ".join(filter(None, [runtime_text(stages).strip(), parallel_text(timings_dir)])) + "\n",
    }
    for name, text in measured.items():
        write_text_atomic(measured_dir / name, text)
    write_json_atomic(platform_path, build_platforms(stages))


def write_figures(
    study: Study,
    shown: Study,
    provenance: dict[str, dict[str, Any]],
    input_dirs: tuple[Path, Path, Path],
    timings: dict,
    out_dir: Path,
    measured_dir: Path,
) -> None:
    """Draw every figure: from the results to ``out_dir``, the one that shows timings to ``measured_dir``.
    ``input_dirs``: the aggregate, raw-data and runs directories."""
    aggregate_dir, raw_dir, runs_dir = input_dirs
    summary = SUMMARY.read(aggregate_dir)
    friedman = read_json(aggregate_dir / "friedman.json")
    sweeps = SWEEPS.read(aggregate_dir)
    learning_curves_figure(shown, provenance, CURVES.read(aggregate_dir), summary, out_dir / "learning_curves.svg")
    differences_figure(shown, provenance, DIFFERENCES.read(aggregate_dir), out_dir / "differences.svg")
    stopping_tradeoff_figure(
        study, provenance, STOPPING_TRADEOFF.read(aggregate_dir), out_dir / "stopping_tradeoff.svg"
    )
    learners_figure(study, provenance, summary, out_dir / "learners.svg")
    update_modes_figure(study, provenance, summary, timings, measured_dir / "update_modes.svg")
    queried_images_figure(shown, provenance, raw_dir, runs_dir, out_dir / "queried_images.svg")
    critical_difference_figure(shown, friedman["strategies"], out_dir / "cd_diagram.svg", provenance)
    critical_difference_figure(study, friedman["learners"], out_dir / "cd_learners.svg")
    for setting in SWEEP_SETTINGS:
        sweep_figure(study, provenance, sweeps, setting, out_dir / f"sweep_{setting}.svg")


def build_all(
    study: Study,
    model_inputs: ModelInputs,
    raw_dir: Path,
    runs_dir: Path,
    aggregate_dir: Path,
    timings_dir: Path,
    out_dir: Path,
    measured_dir: Path,
    variables_path: Path,
    platform_path: Path,
) -> None:
    """Write every generated artefact the manuscript includes: figures, tables, sentences and variables,
    and the record of the numerical platform the runs were computed on (``platform_path``).

    What the results determine goes to ``out_dir``; what shows wall-clock measurements or the machine
    (timings, speed-ups, hardware, versions, run time) goes to ``measured_dir``, so that a rebuild
    can be checked for byte-identical results while the measurements differ.
    """
    provenance = {d: read_json(raw_dir / f"{d}.json") for d in study.datasets}
    summary = SUMMARY.read(aggregate_dir)
    timings = mean_timings(study, timings_dir)
    sweeps = SWEEPS.read(aggregate_dir)
    friedman = read_json(aggregate_dir / "friedman.json")
    shown = study.shown(friedman["strategies"].get("merged", {}))
    write_figures(study, shown, provenance, (aggregate_dir, raw_dir, runs_dir), timings, out_dir, measured_dir)
    texts = section_texts(study, shown, provenance, aggregate_dir) | model_texts(study, provenance, model_inputs)
    texts["sweeps.md"] = sweep_table(study, provenance, sweeps)
    texts["sweeps_text.md"] = sweep_summary(study, provenance, sweeps, read_json(aggregate_dir / "sweep_repeats.json"))
    for name, text in texts.items():
        write_text_atomic(out_dir / name, text)
    write_measured(study, provenance, timings, timings_dir, measured_dir, platform_path)
    findings = conclusion_text(
        shown,
        provenance,
        summary,
        friedman["strategies"],
        TARGETS.read(aggregate_dir),
        cite=False,
        across=read_json(aggregate_dir / "across.json"),
    )
    # Where each figure, table and quoted value comes from, with the checksums of its inputs.
    write_json_atomic(measured_dir / Path(PROVENANCE).name, provenance_record(Path(".")))
    supplement = supplement_labels(variables_path.parent / SUPPLEMENT, {"generated": out_dir, "measured": measured_dir})
    quoted = variables(study, provenance) | {"findings": findings.strip(), "supp": supplement}
    write_text_atomic(variables_path, yaml.safe_dump(quoted, sort_keys=True))
