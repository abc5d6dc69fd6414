"""The submission bundle: every file with its SHA-256, deterministic, and a clear error when the paper is not built."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from medal.errors import UserError
from medal.reproduce.bundle import ABOUT, BUNDLED, MANIFEST, make_bundle


def _project(root):
    for entry in BUNDLED:
        path = root / entry
        if "." in path.name:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"content of {entry}\n")
        else:  # a folder of generated parts
            path.mkdir(parents=True, exist_ok=True)
            (path / "part.md").write_text(f"part of {entry}\n")


def test_the_bundle_holds_every_file_with_its_checksum_and_is_deterministic(tmp_path):
    root = tmp_path / "project"
    _project(root)
    lines = make_bundle(root, tmp_path / "a.zip")
    make_bundle(root, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        names = archive.namelist()
        assert "paper/_output/paper.pdf" in names and "paper/generated/part.md" in names and ABOUT in names
        manifest = archive.read(MANIFEST).decode().splitlines()
        assert manifest == lines
        for line in manifest:  # sha256sum -c would accept every line
            digest, name = line.split("  ", 1)
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest
        assert "commit: unknown (not a git checkout)" in archive.read(ABOUT).decode()


def test_a_missing_paper_is_named_and_nothing_is_written(tmp_path):
    root = tmp_path / "project"
    _project(root)
    (root / "paper" / "_output" / "paper.pdf").unlink()
    with pytest.raises(UserError, match=r"paper/_output/paper.pdf missing; build the paper first \(dvc repro"):
        make_bundle(root, tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()
