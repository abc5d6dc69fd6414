"""The report stage's assembly (report/build.py): which file each part goes to, and what it may depend on.

Every table, sentence and figure function is replaced by a stub that writes its own name and whether it was handed
the wall-clock timings; the functions themselves are tested in their own modules. What is tested here is the
wiring: the manuscript includes only files the stage writes, and nothing in the results folder sees a timing.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import yaml

import medal.report.build as build
from medal.report.build import ModelInputs, build_all
from medal.report.paper import PROVENANCE, SUPPLEMENT
from medal.study import Study

from conftest import ROOT

TIMINGS = {"the": "wall-clock timings"}  # what the stubbed mean_timings returns, recognised by identity
TIMED = "+timings"
INPUTS = {"read_json": {"strategies": {}, "learners": {}}, "variables": {"quoted": "value"}, "supplement_labels": {}}
NOT_STUBBED = {"write_text_atomic", "write_json_atomic", "dataclass", "main_target", "study_targets", "Path"}


def _stub(name: str):
    """A stand-in for a function ``build`` imports: a figure writes its ``.svg`` path, a text returns its name."""

    def stub(*args, **kwargs):
        values = [*args, *kwargs.values()]
        mark = name + (TIMED if any(v is TIMINGS for v in values) else "") + "\n"
        if name == "mean_timings":
            return TIMINGS
        if name in INPUTS:
            return INPUTS[name]
        svg = [v for v in values if isinstance(v, Path) and v.suffix == ".svg"]
        if svg:
            svg[0].parent.mkdir(parents=True, exist_ok=True)
            svg[0].write_text(mark, encoding="utf-8")
            return None
        return mark

    return stub


class _Table:
    def read(self, folder: Path) -> str:
        return "table rows"


@pytest.fixture
def built(tmp_path, params, monkeypatch):
    """Run ``build_all`` on the project's study with every imported part stubbed; the folders it wrote to."""
    for name, value in vars(build).items():
        if name in NOT_STUBBED or name.startswith("_"):
            continue
        if inspect.isfunction(value) and value.__module__ != build.__name__:
            monkeypatch.setattr(build, name, _stub(name))
        elif hasattr(value, "read") and not inspect.ismodule(value):
            monkeypatch.setattr(build, name, _Table())
    paper = tmp_path / "paper"
    paper.mkdir()
    out, measured = paper / "generated", paper / "measured"
    build_all(
        Study.from_params(params),
        ModelInputs(tmp_path / "selection", tmp_path / "reference", ROOT / "data" / "published" / "medmnist_v2.yaml"),
        tmp_path / "raw",
        tmp_path / "runs",
        tmp_path / "aggregate",
        tmp_path / "timings",
        out,
        measured,
        paper / "_variables.yml",
        tmp_path / "platform.json",
    )
    return paper


def _referenced(folder: str) -> set[str]:
    """The files of ``folder`` that the manuscript and its supplement include or show."""
    text = "".join((ROOT / "paper" / name).read_text(encoding="utf-8") for name in ("paper.qmd", SUPPLEMENT))
    return set(re.findall(rf"\b{folder}/([\w.-]+\.(?:md|svg))", text))


@pytest.mark.parametrize("folder", ["generated", "measured"])
def test_the_manuscript_includes_exactly_the_files_the_stage_writes(built, folder):
    written = {p.name for p in (built / folder).iterdir()} - {Path(PROVENANCE).name}
    assert _referenced(folder), f"the manuscript refers to nothing in {folder}/: the pattern is wrong"
    assert _referenced(folder) - written == set(), "included but never written"
    assert written - _referenced(folder) == set(), "written but never included"


def test_no_result_file_depends_on_the_timings_and_every_measured_one_may(built):
    results = {p.name: p.read_text(encoding="utf-8") for p in (built / "generated").iterdir()}
    assert results and not [name for name, text in results.items() if TIMED in text]
    # The check can fail: the timing table and the update-modes figure are handed the timings.
    measured = built / "measured"
    assert TIMED in (measured / "timing.md").read_text(encoding="utf-8")
    assert TIMED in (measured / "update_modes.svg").read_text(encoding="utf-8")


def test_the_variables_file_holds_the_quoted_values_the_findings_and_the_supplement_labels(built):
    quoted = yaml.safe_load((built / "_variables.yml").read_text(encoding="utf-8"))
    assert quoted == {"quoted": "value", "findings": "conclusion_text", "supp": {}}
    assert (built / "measured" / Path(PROVENANCE).name).exists()
