"""Command line: one subcommand per pipeline stage; ``dvc.yaml`` calls these and nothing else."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

from medal.config import DEFAULT_PARAMS, load_params
from medal.errors import UserError
from medal.fileio import joblib_scratch
from medal.layout import (
    AGGREGATE,
    CAPPED,
    CONCLUSIONS,
    GENERATED,
    MEASURED,
    METRICS,
    PAPER,
    PAPER_OUT,
    PARTIAL,
    PLATFORM,
    PREPARED,
    PUBLISHED,
    RAW,
    REFERENCE,
    RUNS,
    SELECTION,
    SWEEPS,
    TIMINGS,
)
from medal.study import Study, plain


def _check_dataset(study: Study, name: str) -> None:
    if name not in study.sources:
        raise UserError(f"unknown dataset '{name}'; valid: {', '.join(sorted(study.sources))}")


def cmd_fetch(study: Study, args: argparse.Namespace) -> None:
    from medal.data.sources import fetch

    _check_dataset(study, args.dataset)
    provenance = fetch(args.dataset, plain(study.sources[args.dataset]), study.mirror_dirs, RAW)
    print(f"{args.dataset}: {provenance['variant']} copy, canonical md5 {provenance['canonical_md5']}")


def cmd_export_images(study: Study, args: argparse.Namespace) -> None:
    from medal.data.images import write_folder
    from medal.fileio import load_npz, read_json

    _check_dataset(study, args.dataset)
    raw = RAW / f"{args.dataset}.npz"
    if not raw.is_file():
        raise UserError(f"{raw}: not found; run dvc repro (or medal fetch {args.dataset}) first")
    names = read_json(RAW / f"{args.dataset}.json")["class_names"]
    count = write_folder(load_npz(raw), names, args.folder)
    print(f"wrote {count} PNG images of {args.dataset} to {args.folder}/train and {args.folder}/test")


def cmd_prepare(study: Study, args: argparse.Namespace) -> None:
    from medal.data.prepare import prepare
    from medal.fileio import load_npz, write_npz_atomic

    _check_dataset(study, args.dataset)
    if args.dataset not in study.feature_specs:
        raise UserError(f"params.yaml: prepare.{args.dataset} is missing; add its feature settings")
    raw = load_npz(RAW / f"{args.dataset}.npz")
    prepared = prepare(raw, study.feature_spec(args.dataset), max_test_images=study.max_test_images)
    write_npz_atomic(PREPARED / f"{args.dataset}.npz", prepared)
    scored = (
        f" ({len(prepared['y_test'])} of {len(raw['y_test'])} scored)"
        if len(prepared["y_test"]) < len(raw["y_test"])
        else ""
    )
    print(f"{args.dataset}: pool {prepared['X_pool'].shape}, test {prepared['X_test'].shape}{scored}")


def cmd_select(study: Study, args: argparse.Namespace) -> None:
    from medal.experiment.selection import choose, cross_validate
    from medal.fileio import load_npz, write_json_atomic

    select = plain(study.selection)
    if args.dataset not in select["datasets"]:
        raise UserError(f"dataset '{args.dataset}' is not in select.datasets; valid: {', '.join(select['datasets'])}")
    learner = select["learner"]
    rows = cross_validate(
        load_npz(RAW / f"{args.dataset}.npz"),
        study.feature_spec(args.dataset),
        learner,
        study.learner_spec(learner, args.dataset),
        select["grid"],
        select["folds"],
        select["random_state"],
        where=f"select.grid (for {args.dataset})",
        n_jobs=study.n_jobs,
        max_pool=select["max_pool"],
    )
    result = {"dataset": args.dataset, "learner": learner, "folds": select["folds"], "rows": rows}
    write_json_atomic(SELECTION / f"{args.dataset}.json", result)
    best = choose({args.dataset: rows}, study.primary_metric)[args.dataset]
    print(f"{args.dataset}: best by {select['folds']}-fold cross-validation on the pool: {best}")


def cmd_reference(study: Study, args: argparse.Namespace) -> None:
    from medal.experiment.reference import run_reference

    _check_dataset(study, args.dataset)
    run_reference(
        study,
        args.dataset,
        RAW / f"{args.dataset}.npz",
        PREPARED / f"{args.dataset}.npz",
        REFERENCE / f"{args.dataset}.json",
    )


def cmd_al(study: Study, args: argparse.Namespace) -> None:
    from medal.experiment.runner import al_stage, run_stage

    _check_dataset(study, args.dataset)
    run_stage(study, al_stage(study, args.dataset))


def cmd_capped(study: Study, args: argparse.Namespace) -> None:
    from medal.experiment.capped import capped_stage
    from medal.experiment.runner import run_stage

    run_stage(study, capped_stage(study))


def cmd_sweep(study: Study, args: argparse.Namespace) -> None:
    from medal.design import SWEEP_SETTINGS
    from medal.experiment.runner import run_stage, sweep_stage

    sweeps = study.sweeps
    if args.dataset not in sweeps["datasets"]:
        raise UserError(f"dataset '{args.dataset}' is not in sweeps.datasets; valid: {', '.join(sweeps['datasets'])}")
    if args.setting not in SWEEP_SETTINGS:
        raise UserError(f"unknown sweep setting '{args.setting}'; valid: {', '.join(SWEEP_SETTINGS)}")
    run_stage(study, sweep_stage(study, args.dataset, args.setting))


def cmd_submit(study: Study, args: argparse.Namespace) -> None:
    from medal.experiment.study import submit

    submit(study, force=args.force, then_repro=not args.no_repro)


def cmd_cluster_env(study: Study | None, args: argparse.Namespace) -> None:
    from medal.experiment.cluster import shell_exports

    print(shell_exports())


def cmd_aggregate(study: Study, args: argparse.Namespace) -> None:
    from medal.analysis.aggregate import aggregate

    aggregate(study, RUNS, SWEEPS, CAPPED, REFERENCE, PREPARED, RAW, AGGREGATE, METRICS, CONCLUSIONS)


def cmd_report(study: Study, args: argparse.Namespace) -> None:
    from medal.fileio import staged_folder
    from medal.report.build import ModelInputs, build_all

    # Written into new folders that replace the old ones only once everything is there: a failed or killed
    # stage leaves the previous manuscript parts whole, never half of them beside the previous PDF.
    with staged_folder(GENERATED) as generated, staged_folder(MEASURED) as measured:
        build_all(
            study,
            ModelInputs(SELECTION, REFERENCE, PUBLISHED),
            RAW,
            RUNS,
            AGGREGATE,
            TIMINGS,
            generated,
            measured,
            PAPER / "_variables.yml",
            PLATFORM,
        )


def cmd_paper(study: Study, args: argparse.Namespace) -> None:
    from medal.report.paper import render

    for path in render(PAPER, PAPER_OUT, renderer=args.renderer or study.renderer):
        print(f"wrote {path}")


def cmd_verify(study: Study, args: argparse.Namespace) -> None:
    from medal.reproduce.verify import verify

    if not verify(study, Path("dvc.lock"), RAW, args.targets, PLATFORM, CONCLUSIONS, args.sample, args.seed):
        raise SystemExit(1)


def cmd_bundle(study: Study, args: argparse.Namespace) -> None:
    from medal.reproduce.bundle import make_bundle

    lines = make_bundle(Path("."), args.output)
    print(f"{args.output}: {len(lines)} files with their SHA-256 in the archive's MANIFEST.sha256")


def _add_study_commands(add) -> None:
    """The commands around the stages: running every stale run at once, and exporting a dataset as images."""
    submit = add(
        "submit",
        cmd_submit,
        "run the study with the runs of every stale experiment stage in flight at once (on the Dask cluster of "
        "MEDAL_DASK_SCHEDULER / compute.dask_scheduler, else compute.n_jobs local processes), then dvc repro, whose "
        "stages publish the runs; with some worker on another machine, select and reference run here meanwhile (on "
        "one core the workers on this machine leave free)",
    )
    submit.add_argument("--force", action="store_true", help="rerun every stage, each once (as dvc repro -f)")
    submit.add_argument(
        "--no-repro", action="store_true", help="only compute and keep the runs (no other stage); dvc repro later"
    )
    add(
        "cluster-env",
        cmd_cluster_env,
        "print the environment every process of a Dask cluster for the study should start with (the study's BLAS "
        'kernels, Dask\'s bookkeeping slowed down for long CPU-bound tasks): eval "$(medal cluster-env)"',
        needs_params=False,  # also on a worker machine without the project
    )
    export = add(
        "export-images",
        cmd_export_images,
        "write a fetched dataset's images as PNG files in a class-per-folder layout (to try the study on an image "
        "folder: README, 'Run the study on your images')",
    )
    export.add_argument("dataset")
    export.add_argument("folder", type=Path, help="a new folder, e.g. data/sources/breastmnist_png")


def _add_reviewer_commands(add) -> None:
    """The commands that check and package a built study: verify and bundle."""
    verify = add(
        "verify",
        cmd_verify,
        "reproduce the study: rebuild with 'dvc repro -f', check the data checksums against the pins, and "
        "report which outputs differ from dvc.lock; on the committed build's BLAS platform exit 1 if any result, "
        "table or figure differs, on another platform if any conclusion changed (a number leaving its committed "
        "confidence interval, a significance decision, the sign of a saving)",
    )
    verify.add_argument("targets", nargs="*", help="rebuild only these stages (dvc repro -f -s), e.g. al@wdbc")
    verify.add_argument(
        "--sample",
        type=float,
        metavar="N",
        help="rebuild a random sample of the experiment stages (N of them, or that fraction when N < 1) and the "
        "stages downstream of the runs, after checking every other output's content against dvc.lock (e.g. after "
        "dvc pull)",
    )
    verify.add_argument("--seed", type=int, help="seed of --sample's draw (printed when not given), to repeat a check")
    bundle = add(
        "bundle",
        cmd_bundle,
        "one archive for a submission: the PDF and HTML, the manuscript sources and generated parts, dvc.lock, "
        "params.yaml, the dependency lock file and the platform record, with a SHA-256 manifest",
    )
    bundle.add_argument("--output", type=Path, default=Path("medal-bundle.zip"), help="archive path (.zip)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medal",
        description="Pool-based active learning on medical images: the stages of the DVC pipeline.",
    )
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS, help="parameters file (default: params.yaml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func, help_text: str, needs_params: bool = True) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(func=func, needs_params=needs_params)
        return command

    add("fetch", cmd_fetch, "find or download a dataset, verify its checksum, write its canonical file").add_argument(
        "dataset"
    )
    add("prepare", cmd_prepare, "compute pool and test features for a dataset").add_argument("dataset")
    add(
        "select", cmd_select, "cross-validate feature settings and learner parameters on a dataset's pool (select.grid)"
    ).add_argument("dataset")
    add("reference", cmd_reference, "score each learner trained on the whole pool").add_argument("dataset")
    al = add(
        "al",
        cmd_al,
        "run every strategy's (learner, seed) runs on one dataset, all in flight at once (compute.n_jobs); runs an "
        "earlier build published with the same fingerprint are published again, not recomputed",
    )
    al.add_argument("dataset")
    sweep = add(
        "sweep", cmd_sweep, "run every value of one protocol setting with each of sweeps.strategies on a dataset"
    )
    sweep.add_argument("dataset")
    sweep.add_argument("setting", help="batch_size, initial_labels, label_noise, representation or class_weight")
    add(
        "capped",
        cmd_capped,
        "run every strategy's seeds with the main learner on cap_check.dataset, each query shown at most "
        "cap_check.max_candidates unlabelled images (the check of the candidate cap)",
    )
    _add_study_commands(add)
    add("aggregate", cmd_aggregate, "learning curves with CIs, AULC and labels-to-target summaries")
    add("report", cmd_report, "the manuscript's parts: figures, tables, prose, variables and provenance")
    paper = add("paper", cmd_paper, "render the manuscript to PDF and HTML")
    paper.add_argument("--renderer", choices=["auto", "quarto", "pandoc"], help="override paper.renderer")
    _add_reviewer_commands(add)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``medal`` command."""
    args = build_parser().parse_args(argv)
    try:
        study = Study.from_params(load_params(args.params)) if args.needs_params else None
        with joblib_scratch(PARTIAL / "joblib") if args.needs_params else nullcontext():
            args.func(study, args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
