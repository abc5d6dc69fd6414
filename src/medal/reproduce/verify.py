"""A reviewer's reproduction check: data checksums against the pins, a forced rebuild (of everything, of
named stages, or of a seeded random sample of the experiment stages and everything downstream of the
runs), and which of the rebuilt outputs came out different from the ones recorded in ``dvc.lock``.

"Reproduced" has two levels. On the numerical platform that built ``dvc.lock`` (same BLAS kernels
and library versions, recorded in ``data/platform.json``) every result must be byte-identical. On
another platform, results cannot be: the conclusions must hold instead (:mod:`medal.analysis.conclusions`).
A partial check compares only what it rebuilt, and first checks the content of every other output
(e.g. pulled from a DVC remote, which does not check what it downloads) against ``dvc.lock``.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from medal.analysis.conclusions import compare_conclusions, conclusion_report
from medal.design import RECOMPUTE_ENV
from medal.errors import UserError
from medal.fileio import md5_file, read_json
from medal.layout import RUN_FILES, WALL_CLOCK
from medal.reproduce import dvc
from medal.reproduce.environment import numerical_platform
from medal.study import Study

# Outputs that hold wall-clock measurements, or show them: expected to differ on every rebuild.
MEASURED_PREFIXES = tuple(path.as_posix() for path in WALL_CLOCK)


# Stages that run experiments, which a sampled check draws from; and the stages downstream of the runs, which it
# always rebuilds from them.
EXPERIMENT_STAGES = ("al", "sweep", "reference")
DOWNSTREAM_STAGES = ("aggregate", "report", "paper")
# Outputs that hold one file per active-learning run.
RUN_PREFIXES = tuple(f"{path.as_posix()}/" for path in RUN_FILES)


def locked_stages(lock: Path) -> dict[str, list[dict[str, Any]]]:
    """Every stage in a ``dvc.lock`` with its recorded outputs (``path``, ``md5``; ``nfiles`` for folders)."""
    if not lock.is_file():
        raise UserError(f"{lock}: not found; run from the project root of a built project (dvc repro writes it)")
    stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
    return {name: stage.get("outs", []) for name, stage in stages.items()}


def current_stages(lock: Path) -> dict[str, list[dict[str, Any]]]:
    """The stages of ``dvc.lock`` that the current pipeline still defines (all of them where dvc cannot tell)."""
    current = dvc.stage_names()
    return {name: outs for name, outs in locked_stages(lock).items() if current is None or name in current}


def stage_outputs(stages: dict[str, list[dict[str, Any]]], names: list[str] | None = None) -> dict[str, str]:
    """Every output path of ``stages`` (as :func:`locked_stages` reads them; only the ``names`` ones if given) and its
    recorded md5 (``.dir`` hashes for folders)."""
    return {out["path"]: out["md5"] for name, outs in stages.items() if names is None or name in names for out in outs}


def content_md5(path: Path) -> str:
    """The md5 DVC records for an output, computed from its content: the file's md5, or for a folder
    ``<md5>.dir``, the md5 of DVC's listing of its files (sorted by relative path, as ``dvc_data`` writes it)."""
    if path.is_file():
        return md5_file(path)
    files = sorted((f.relative_to(path).as_posix(), f) for f in path.rglob("*") if f.is_file())
    listing = [{"md5": md5_file(f), "relpath": relpath} for relpath, f in files]
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"


def content_problems(locked: dict[str, str], root: Path = Path(".")) -> list[str]:
    """Outputs whose content in the workspace is missing or differs from ``dvc.lock``: DVC trusts the names of the
    objects it pulls and checks out, so only hashing the content catches a changed or tampered copy."""
    problems = []
    for path, md5 in sorted(locked.items()):
        if not (root / path).exists():
            problems.append(f"{path}: missing; run `dvc pull` first")
        elif content_md5(root / path) != md5:
            problems.append(f"{path}: its content differs from dvc.lock (changed or tampered)")
    return problems


def sample_stages(stages: list[str], size: float, seed: int) -> list[str]:
    """A seeded random sample of the experiment stages among ``stages``: ``size`` of them when it is a whole number
    of at least 1, else that fraction (rounded up); in dvc.lock order."""
    experiments = _in_groups(stages, EXPERIMENT_STAGES)
    if not size > 0:
        raise UserError(f"--sample must be a fraction in (0, 1) or a number of stages, got {size:g}")
    count = int(size) if size >= 1 else math.ceil(size * len(experiments))
    chosen = set(random.Random(seed).sample(experiments, min(count, len(experiments))))
    return [s for s in experiments if s in chosen]


def _in_groups(stages: Iterable[str], groups: Collection[str]) -> list[str]:
    """The stages among ``stages`` whose dvc.yaml entry (``al`` of ``al@wdbc``) is in ``groups``, in the order
    of ``groups`` (the pipeline's: a stage renamed or added late sits at the end of dvc.lock), then as listed."""
    order = {group: index for index, group in enumerate(groups)}
    chosen = [stage for stage in stages if dvc.stage_group(stage) in groups]
    return sorted(chosen, key=lambda stage: order[dvc.stage_group(stage)])


def run_coverage(stages: dict[str, list[dict[str, Any]]], chosen: list[str]) -> tuple[int, int]:
    """Run files in the outputs of the ``chosen`` stages, and in all stages (from the ``nfiles`` of dvc.lock)."""

    def runs(names: list[str]) -> int:
        return sum(
            out.get("nfiles", 0) for name in names for out in stages[name] if out["path"].startswith(RUN_PREFIXES)
        )

    return runs(chosen), runs(list(stages))


def is_measured(path: str) -> bool:
    """Whether an output records wall-clock time (or renders it), so that it may differ between rebuilds."""
    return path.startswith(MEASURED_PREFIXES)


def check_data(study: Study, locked: dict[str, str], raw_dir: Path) -> list[str]:
    """Problems found comparing each dataset's canonical file with its pin in ``params.yaml`` and in ``dvc.lock``
    (``locked``)."""
    problems = []
    for name in study.datasets:
        path = raw_dir / f"{name}.npz"
        if not path.is_file():
            problems.append(f"{path}: missing after the rebuild; run dvc repro and read its errors")
            continue
        got = md5_file(path)
        variant = read_json(raw_dir / f"{name}.json")["variant"]
        pinned = (study.sources[name].get("canonical_md5") or {}).get(variant)  # optional for image folders
        for source, expected in (
            (f"params.yaml datasets.{name}.canonical_md5.{variant}", pinned),
            ("dvc.lock", locked.get(path.as_posix())),
        ):
            if expected is not None and expected != got:
                problems.append(f"{path}: md5 {got}, but {source} pins {expected}")
    return problems


@dataclass
class Comparison:
    """Outputs of a rebuild against the recorded ones, by path."""

    identical: list[str]
    measured: list[str]
    differing: list[str]
    missing: list[str]

    @property
    def reproduced(self) -> bool:
        """True when every result, table and figure came out as recorded."""
        return not self.differing and not self.missing


def compare(before: dict[str, str], after: dict[str, str]) -> Comparison:
    """Sort the recorded outputs into identical, measurement (allowed to differ), differing and missing after the
    rebuild."""
    result = Comparison([], [], [], [])
    for path, md5 in sorted(before.items()):
        if path not in after:
            result.missing.append(path)
        elif after[path] == md5:
            result.identical.append(path)
        elif is_measured(path):
            result.measured.append(path)
        else:
            result.differing.append(path)
    return result


def rebuild(targets: list[str]) -> None:
    """``dvc repro -f`` of the whole pipeline, or of the given stages only (``-s``), every run recomputed (not
    published again from the earlier build, :data:`~medal.design.RECOMPUTE_ENV`)."""
    dvc.repro(
        "-f",
        *(["-s", *targets] if targets else []),
        failure="the rebuild failed (see dvc's output above); nothing was compared",
        environment={RECOMPUTE_ENV: "1"},
    )


def report(comparison: Comparison, bitwise: bool = True, untrusted: bool = False) -> str:
    """A short human-readable report of a comparison; with ``bitwise`` False (another platform), the
    differences are listed for information and no verdict is given. ``untrusted``: a copy of a rebuilt output
    differed from dvc.lock before the rebuild, which fails the check whatever the rebuild gives."""
    lines = [
        f"{len(comparison.identical)} outputs identical to dvc.lock",
        f"{len(comparison.measured)} wall-clock outputs differ, as expected: "
        f"{', '.join(comparison.measured) or 'none'}",
    ]
    if not bitwise:
        lines.append(
            f"{len(comparison.differing)} result outputs differ in their bits, as expected on another platform"
        )
        return "\n".join(lines)
    for label, paths in (("DIFFER", comparison.differing), ("MISSING after the rebuild", comparison.missing)):
        lines += [f"{label}: {path}" for path in paths]
    lines.append("reproduced" if comparison.reproduced and not untrusted else "NOT reproduced")
    return "\n".join(lines)


def _read_if_present(path: Path) -> Any:
    return read_json(path) if path.is_file() else None


def same_platform(recorded: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    """Whether this machine computes on the platform recorded for the committed build (``data/platform.json``).

    Without a record (a build from before platforms were recorded) the check stays bitwise.
    """
    return recorded is None or recorded["platforms"] == [current]


def describe_platform(platform: dict[str, Any]) -> str:
    """One line: architecture and BLAS kernels."""
    return f"{platform['architecture']}, {'; '.join(platform['blas'])}"


def _rebuilt_stages(stages: list[str], targets: list[str]) -> list[str]:
    """The stages of ``dvc.lock`` that ``targets`` (stage names or dvc.yaml entries such as ``al``) rebuild."""
    chosen = [s for s in stages if s in targets or dvc.stage_group(s) in targets]
    unknown = [t for t in targets if t not in stages and t not in {dvc.stage_group(s) for s in stages}]
    if unknown:
        raise UserError(f"unknown stage {unknown[0]!r}; `dvc stage list` names them (e.g. al@wdbc)")
    return chosen


def _sampled_targets(stages: dict[str, list[dict[str, Any]]], size: float, seed: int) -> list[str]:
    """The stages of a sampled check, with a line saying what it covers and how to repeat it."""
    chosen = sample_stages(list(stages), size, seed)
    experiments = _in_groups(stages, EXPERIMENT_STAGES)
    sampled_runs, all_runs = run_coverage(stages, chosen)
    downstream = _in_groups(stages, DOWNSTREAM_STAGES)
    print(
        f"sample (seed {seed}; repeat with --sample {size:g} --seed {seed}): {len(chosen)} of {len(experiments)} "
        f"experiment stages, {sampled_runs} of {all_runs} runs ({100 * sampled_runs / max(all_runs, 1):.0f} %): "
        f"{', '.join(chosen)}; then {', '.join(downstream)} from all runs"
    )
    return chosen + downstream


def _check_copies(locked: dict[str, str], rebuilt: dict[str, str], n_kept_stages: int) -> list[str] | None:
    """Before a partial rebuild: the content of every output it will not rebuild must match dvc.lock (None, after
    printing why, when one does not: the check cannot rely on it); returns the problems of the rebuilt outputs'
    present copies, which fail the check whatever the rebuild gives."""
    kept = {path: md5 for path, md5 in locked.items() if path not in rebuilt}
    problems = content_problems(kept)
    for problem in problems:
        print(f"not rebuilt: {problem}")
    if problems:
        print("NOT reproduced: outputs the check relies on differ from dvc.lock; nothing was rebuilt")
        return None
    print(
        f"not rebuilt: {len(kept)} outputs of {n_kept_stages} stages, not checked by recomputing; "
        "their content matches dvc.lock"
    )
    untrusted = content_problems({path: md5 for path, md5 in rebuilt.items() if Path(path).exists()})
    for problem in untrusted:
        print(f"before the rebuild: {problem}")
    return untrusted


def _data_problems(study: Study, committed: dict[str, str], raw_dir: Path) -> list[str]:
    problems = check_data(study, committed, raw_dir)
    for problem in problems:
        print(f"data: {problem}")
    if not problems:
        print(f"data: {len(study.datasets)} datasets match their pinned checksums")
    return problems


def _targets(
    stages: dict[str, list[dict[str, Any]]], targets: list[str], sample: float | None, seed: int | None
) -> list[str]:
    """The stages to rebuild: those given, a seeded ``sample`` of the experiment stages, or none (everything)."""
    if seed is not None and sample is None:
        raise UserError("--seed sets the draw of --sample; add --sample")
    if sample is None:
        return targets
    if targets:
        raise UserError("give stages to rebuild or --sample, not both")
    return _sampled_targets(stages, sample, random.SystemRandom().randrange(2**31) if seed is None else seed)


def verify(
    study: Study,
    lock: Path,
    raw_dir: Path,
    targets: list[str],
    platform_path: Path,
    conclusions_path: Path,
    sample: float | None = None,
    seed: int | None = None,
) -> bool:
    """Rebuild with ``dvc repro -f`` (everything, the ``targets``, or a seeded ``sample`` of the experiment stages
    and what follows the runs), check the data pins, compare each rebuilt output with the ``lock`` as it was, and
    print a report; True when the study reproduced: bit for bit on the committed build's platform, its conclusions
    on another one (module docstring)."""
    stages = current_stages(lock)
    targets = _targets(stages, targets, sample, seed)
    rebuilt = _rebuilt_stages(list(stages), targets) if targets else list(stages)
    committed = stage_outputs(stages)  # as dvc.lock recorded them before the rebuild
    before = stage_outputs(stages, rebuilt)
    untrusted = _check_copies(committed, before, len(stages) - len(rebuilt)) if targets else []
    if untrusted is None:
        return False
    recorded, committed_conclusions = _read_if_present(platform_path), _read_if_present(conclusions_path)
    bitwise = same_platform(recorded, current := numerical_platform())
    if not bitwise and committed_conclusions is None:
        raise UserError(
            f"{conclusions_path}: not found, so the conclusions of the committed build are unknown; "
            "check out a commit that has it (git checkout -- data/conclusions.json)"
        )
    rebuild(targets)
    problems = _data_problems(study, committed, raw_dir) + untrusted
    comparison = compare(before, stage_outputs(locked_stages(lock), rebuilt))
    scope = f"of the {len(rebuilt)} rebuilt stages' outputs, " if targets else ""
    if bitwise:
        print(f"platform: {describe_platform(current)}, as in the committed build: results must be byte-identical")
        print(scope + report(comparison, untrusted=bool(untrusted)))
        return comparison.reproduced and not problems
    print(
        f"platform: the committed build ran on {' | '.join(describe_platform(p) for p in recorded['platforms'])}, "
        f"this rebuild on {describe_platform(current)}: results cannot be byte-identical, so the conclusions are "
        "compared"
    )
    print(scope + report(comparison, bitwise=False))
    conclusions = compare_conclusions(committed_conclusions, read_json(conclusions_path))
    print(conclusion_report(conclusions))
    return conclusions.hold and not problems
