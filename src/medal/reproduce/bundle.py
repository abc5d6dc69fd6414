"""A submission or archive bundle: the rendered paper, its sources and generated parts, and what pins the study
(dvc.lock, params.yaml, the dependency lock file, the numerical platform), with a SHA-256 manifest.

The archive is deterministic: the same files give the same bytes (sorted entries, fixed timestamps), so its own
checksum identifies the submission.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

from medal.errors import UserError
from medal.fileio import write_bytes_atomic
from medal.layout import CONCLUSIONS, GENERATED, MEASURED, METRICS, PAPER, PAPER_OUT, PLATFORM
from medal.report.paper import SOURCE, SUPPLEMENT, VARIABLES, outputs_of

# What a reader needs to read the paper and a reviewer to check it, relative to the project root. Folders are
# taken whole; every entry must exist.
BUNDLED = (
    *((PAPER_OUT / name).as_posix() for source in (SOURCE, SUPPLEMENT) for name in outputs_of(source)),
    (PAPER / SOURCE).as_posix(),
    (PAPER / SUPPLEMENT).as_posix(),
    (PAPER / "_quarto.yml").as_posix(),
    (PAPER / "references.bib").as_posix(),
    (PAPER / "crossref.lua").as_posix(),
    (PAPER / VARIABLES).as_posix(),
    GENERATED.as_posix(),
    MEASURED.as_posix(),
    "dvc.yaml",
    "dvc.lock",
    "params.yaml",
    ".ci/requirements.lock",
    "pyproject.toml",
    "README.md",
    PLATFORM.as_posix(),
    METRICS.as_posix(),
    CONCLUSIONS.as_posix(),
)
MANIFEST = "MANIFEST.sha256"
ABOUT = "BUNDLE.txt"
# Zip entries carry no real time, so equal content gives an equal archive.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def bundled_files(root: Path) -> list[Path]:
    """Every file the bundle holds, relative to ``root``, sorted; a missing entry is an error naming how to make it."""
    files = []
    for entry in BUNDLED:
        path = root / entry
        if not path.exists():
            raise UserError(f"{entry} missing; build the paper first (dvc repro, or dvc pull from the study's remote)")
        files += (
            [p.relative_to(root) for p in sorted(path.rglob("*")) if p.is_file()] if path.is_dir() else [Path(entry)]
        )
    return sorted(files, key=lambda p: p.as_posix())


def commit_line(root: Path) -> str:
    """The git commit the bundle was made from, marked when the tree has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "commit: unknown (not a git checkout)"
    return f"commit: {commit}" + (" (with uncommitted changes)" if dirty.strip() else "")


def make_bundle(root: Path, out: Path) -> list[str]:
    """Write the bundle to ``out`` (a .zip, atomically) and return its manifest: ``sha256  path`` for every file,
    as ``sha256sum -c`` reads it. ``BUNDLE.txt`` names the commit and how to check the bundle."""
    files = {f.as_posix(): (root / f).read_bytes() for f in bundled_files(root)}
    about = (
        f"A bundle of the study's paper and of what pins it, {commit_line(root)}.\n"
        f"Check it with: sha256sum -c {MANIFEST}\n"
        "Rebuild it from the repository at that commit with: bash .ci/setup && dvc repro (README.md).\n"
    )
    files = {ABOUT: about.encode(), **files}
    lines = [f"{hashlib.sha256(data).hexdigest()}  {name}" for name, data in files.items()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in [*files.items(), (MANIFEST, ("\n".join(lines) + "\n").encode())]:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    write_bytes_atomic(out, buffer.getvalue())
    return lines
