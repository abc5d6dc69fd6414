"""A reviewer's reproduction check: data checksums against the pins, a forced rebuild, and which
outputs came out different from the ones recorded in ``dvc.lock``.

"Reproduced" has two levels. On the numerical platform that built ``dvc.lock`` (same BLAS kernels
and library versions, recorded in ``data/platform.json``) every result must be byte-identical. On
another platform, results cannot be: the conclusions must hold instead (:mod:`medal.conclusions`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from medal.conclusions import compare_conclusions, conclusion_report
from medal.environment import numerical_platform
from medal.errors import UserError
from medal.fileio import md5_file, read_json

# Outputs that hold wall-clock measurements, or show them: expected to differ on every rebuild.
MEASURED_PREFIXES = ("data/timings/", "paper/measured", "paper/_output/")


def locked_outputs(lock: Path) -> dict[str, str]:
    """Every output path in a ``dvc.lock`` and its recorded md5 (``.dir`` hashes for folders)."""
    if not lock.is_file():
        raise UserError(f"{lock}: not found; run from the project root of a built project (dvc repro writes it)")
    stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
    return {out["path"]: out["md5"] for stage in stages.values() for out in stage.get("outs", [])}


def is_measured(path: str) -> bool:
    """Whether an output records wall-clock time (or renders it), so that it may differ between rebuilds."""
    return path.startswith(MEASURED_PREFIXES)


def check_data(params: dict[str, Any], locked: dict[str, str], raw_dir: Path) -> list[str]:
    """Problems found comparing each dataset's canonical file with its pin in ``params.yaml`` and in ``dvc.lock``
    (``locked``)."""
    problems = []
    for name in params["study"]["datasets"]:
        path = raw_dir / f"{name}.npz"
        if not path.is_file():
            problems.append(f"{path}: missing after the rebuild; run dvc repro and read its errors")
            continue
        got = md5_file(path)
        variant = read_json(raw_dir / f"{name}.json")["variant"]
        pinned = params["datasets"][name]["canonical_md5"].get(variant)
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
    """``dvc repro -f`` of the whole pipeline, or of the given stages only (``-s``)."""
    dvc = shutil.which("dvc")
    if dvc is None:
        raise UserError("dvc not found on PATH; activate the environment (source .venv/bin/activate)")
    command = [dvc, "repro", "-f", *(["-s", *targets] if targets else [])]
    print("$ " + " ".join(["dvc", *command[1:]]), file=sys.stderr, flush=True)
    if subprocess.run(command).returncode != 0:
        raise UserError("the rebuild failed (see dvc's output above); nothing was compared")


def report(comparison: Comparison, bitwise: bool = True) -> str:
    """A short human-readable report of a comparison; with ``bitwise`` False (another platform), the
    differences are listed for information and no verdict is given."""
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
    lines.append("reproduced" if comparison.reproduced else "NOT reproduced")
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


def verify(
    params: dict[str, Any], lock: Path, raw_dir: Path, targets: list[str], platform_path: Path, conclusions_path: Path
) -> bool:
    """Rebuild with ``dvc repro -f``, check the data against the pins, compare every output with the
    ``lock`` as it was before the rebuild, and print a report; True when the study reproduced:
    bit for bit on the committed build's platform, its conclusions on another one."""
    before = locked_outputs(lock)
    recorded = _read_if_present(platform_path)
    committed_conclusions = _read_if_present(conclusions_path)
    current = numerical_platform()
    bitwise = same_platform(recorded, current)
    if not bitwise and committed_conclusions is None:
        raise UserError(
            f"{conclusions_path}: not found, so the conclusions of the committed build are unknown; "
            "check out a commit that has it (git checkout -- data/conclusions.json)"
        )
    rebuild(targets)
    problems = check_data(params, before, raw_dir)
    for problem in problems:
        print(f"data: {problem}")
    if not problems:
        print(f"data: {len(params['study']['datasets'])} datasets match their pinned checksums")
    comparison = compare(before, locked_outputs(lock))
    if bitwise:
        print(f"platform: {describe_platform(current)}, as in the committed build: results must be byte-identical")
        print(report(comparison))
        return comparison.reproduced and not problems
    print(
        f"platform: the committed build ran on {' | '.join(describe_platform(p) for p in recorded['platforms'])}, "
        f"this rebuild on {describe_platform(current)}: results cannot be byte-identical, so the conclusions are "
        "compared"
    )
    print(report(comparison, bitwise=False))
    conclusions = compare_conclusions(committed_conclusions, read_json(conclusions_path))
    print(conclusion_report(conclusions))
    return conclusions.hold and not problems
