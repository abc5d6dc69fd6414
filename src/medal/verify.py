"""A reviewer's reproduction check: data checksums against the pins, a forced rebuild, and which
outputs came out different from the ones recorded in ``dvc.lock``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

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
    """Problems found comparing each dataset's canonical file with its pin in ``params.yaml`` and in ``dvc.lock`` (``locked``)."""
    problems = []
    for name in params["study"]["datasets"]:
        path = raw_dir / f"{name}.npz"
        if not path.is_file():
            problems.append(f"{path}: missing after the rebuild; run dvc repro and read its errors")
            continue
        got = md5_file(path)
        variant = read_json(raw_dir / f"{name}.json")["variant"]
        pinned = params["datasets"][name]["canonical_md5"].get(variant)
        for source, expected in ((f"params.yaml datasets.{name}.canonical_md5.{variant}", pinned),
                                 ("dvc.lock", locked.get(path.as_posix()))):
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
    """Sort the recorded outputs into identical, measurement (allowed to differ), differing and missing after the rebuild."""
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


def report(comparison: Comparison) -> str:
    """A short human-readable report of a comparison."""
    lines = [
        f"{len(comparison.identical)} outputs identical to dvc.lock",
        f"{len(comparison.measured)} wall-clock outputs differ, as expected: {', '.join(comparison.measured) or 'none'}",
    ]
    for label, paths in (("DIFFER", comparison.differing), ("MISSING after the rebuild", comparison.missing)):
        lines += [f"{label}: {path}" for path in paths]
    lines.append("reproduced" if comparison.reproduced else "NOT reproduced")
    return "\n".join(lines)


def verify(params: dict[str, Any], lock: Path, raw_dir: Path, targets: list[str]) -> bool:
    """Rebuild with ``dvc repro -f``, check the data against the pins, compare every output with the
    ``lock`` as it was before the rebuild, and print a report; True when everything reproduced."""
    before = locked_outputs(lock)
    rebuild(targets)
    problems = check_data(params, before, raw_dir)
    for problem in problems:
        print(f"data: {problem}")
    if not problems:
        print(f"data: {len(params['study']['datasets'])} datasets match their pinned checksums")
    comparison = compare(before, locked_outputs(lock))
    print(report(comparison))
    return comparison.reproduced and not problems
