"""Provenance: the checksums match DVC's, every part of the manuscript and every quoted value has a declared
source that exists, and the HTML shows them."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from medal.report.paper import CAPTION_ID, INCLUDE, SHORTCODE, Sources, expand_shortcodes, provenance_table
from medal.report.provenance import SOURCES, TRACKED, VARIABLE_SOURCES, dvc_md5, provenance_record, tracked_path

from conftest import ROOT


def _dvc_hash(path) -> str:
    """What DVC itself computes for a file or folder (dvc-data's build, as `dvc add` and `dvc repro` use)."""
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem

    fs = LocalFileSystem()
    with tempfile.TemporaryDirectory() as odb_dir:
        _, _, obj = build(HashFileDB(fs, odb_dir), str(path), fs, "md5")
    return obj.hash_info.value


@settings(max_examples=15, deadline=None)
@given(
    st.dictionaries(
        st.lists(st.sampled_from(["a", "b", "sub", "x.csv", "é"]), min_size=1, max_size=3).map("/".join),
        st.binary(max_size=40),
        min_size=1,
        max_size=6,
    )
)
def test_a_folders_checksum_is_dvcs(files):
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "out"
        for relpath, content in sorted(files.items()):
            path = folder / relpath
            if any(parent.is_file() for parent in path.parents) or path.is_dir():
                continue  # a name used both as a file and as a folder
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        assert dvc_md5(folder) == _dvc_hash(folder)
        first = next(p for p in folder.rglob("*") if p.is_file())
        assert dvc_md5(first) == _dvc_hash(first)


def _stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def test_each_input_is_a_report_dependency_written_by_the_stage_named():
    stages = _stages()
    assert set(TRACKED) <= set(stages["report"]["deps"])
    for path, stage in TRACKED.items():
        if stage is None:  # kept in git, written by no stage
            assert not any(path in (s.get("do", s).get("outs") or []) for s in stages.values())
            continue
        declared = stages[stage].get("do", stages[stage])["outs"]
        outs = [out if isinstance(out, str) else next(iter(out)) for out in declared]
        assert any(out.split("$")[0].rstrip("/").startswith(path) for out in outs), (path, stage, outs)


def _manuscript_parts() -> set[str]:
    """The generated files the paper and the supplement include or show."""
    text = "".join((ROOT / "paper" / name).read_text() for name in ("paper.qmd", "supplement.qmd"))
    included = {argument.split("/")[-1] for argument in INCLUDE.findall(text)}
    figures = set(re.findall(r"\]\((?:generated|measured)/([\w.-]+)\)", text))
    return included | figures


def test_every_generated_part_of_the_manuscript_has_a_declared_source_that_exists():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert _manuscript_parts() <= set(SOURCES), sorted(_manuscript_parts() - set(SOURCES))
    for name, source in SOURCES.items():
        for path in source.inputs:
            tracked_path(path)  # raises for a path outside the report stage's inputs
        assert set(source.params) <= set(params), (name, source.params)
        assert (ROOT / "src" / "medal" / source.module).is_file(), (name, source.module)


def test_every_quoted_value_has_a_declared_source():
    text = "".join((ROOT / "paper" / name).read_text() for name in ("paper.qmd", "supplement.qmd"))
    quoted = {argument.split(".")[0] for kind, argument in SHORTCODE.findall(text) if kind == "var"}
    assert quoted and quoted <= set(VARIABLE_SOURCES), sorted(quoted - set(VARIABLE_SOURCES))


def _record(tmp_path):
    (tmp_path / "data" / "aggregate").mkdir(parents=True)
    (tmp_path / "data" / "aggregate" / "summary.csv").write_text("a,b\n1,2\n")
    (tmp_path / "data" / "raw").mkdir()
    (tmp_path / "data" / "raw" / "x.json").write_text("{}")
    return provenance_record(tmp_path)


def test_the_record_names_stage_inputs_checksums_params_module_and_command(tmp_path):
    entry = _record(tmp_path)["files"]["aulc.md"]
    summary = next(i for i in entry["inputs"] if i["path"] == "data/aggregate/summary.csv")
    assert summary["stage"] == "aggregate" and summary["md5"] == _dvc_hash(tmp_path / "data" / "aggregate")
    assert summary["file_md5"] == _dvc_hash(tmp_path / "data" / "aggregate" / "summary.csv")
    assert entry["stage"] == "report" and entry["module"] == "src/medal/report/savings.py"
    assert entry["params"] == ["study", "evaluation"] and entry["command"].startswith("medal verify report")
    assert entry["input_texts"][1].startswith(f"data/aggregate/summary.csv ({summary['file_md5'][:8]}; in data/")


def test_the_html_text_carries_a_note_under_each_table_and_figure_and_a_source_on_each_value(tmp_path):
    record = _record(tmp_path)
    (tmp_path / "generated").mkdir()
    two_tables = "| a |\n|--|\n| 1 |\n\n: AULC {#tbl-aulc}\n\n| b |\n|--|\n| 2 |\n\n: More {#tbl-more}\n"
    (tmp_path / "generated" / "aulc.md").write_text(two_tables)
    (tmp_path / "generated" / "results.md").write_text("Entropy led on one set.\n")
    (tmp_path / "generated" / "power_text.md").write_text("First paragraph.\n\nSecond paragraph.\n")
    source = (
        "Budget {{< var al.budget >}} labels.\n\n{{< include generated/aulc.md >}}\n\n"
        "{{< include generated/results.md >}}\n"
        "{{< include generated/power_text.md >}}\n\n"
        "![Curves.](generated/differences.svg){#fig-differences}\n"
    )
    html = expand_shortcodes(source, {"al": {"budget": 250}}, tmp_path, sources=Sources(record))
    assert '[250]{.generated title="params.yaml › al › budget"}' in html
    assert re.search(r"\{#tbl-aulc\}\n\n```\{=html\}\n<details class=\"provenance\">.*savings\.py", html)
    assert re.search(r"\{#tbl-more\}\n\n```\{=html\}\n<details class=\"provenance\">", html)  # every table
    assert '[Entropy led on one set.]{.generated title="generated by src/medal/report/savings.py from data/raw;' in html
    assert re.search(r"\{#fig-differences\}\n\n```\{=html\}\n<details class=\"provenance\">", html)
    # Paragraphs of their own sit in a block that starts after a blank line, even right under a paragraph.
    assert '\n\n::: {.generated title="generated by src/medal/report/power.py' in html
    # The PDF's text is untouched.
    plain = expand_shortcodes(source, {"al": {"budget": 250}}, tmp_path)
    assert "provenance" not in plain and "{.generated" not in plain and "Budget 250 labels." in plain


def test_the_supplement_table_names_each_part_as_the_documents_number_it(tmp_path):
    record = _record(tmp_path)
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "aulc.md").write_text("| a |\n|--|\n| 1 |\n\n: AULC {#tbl-aulc}\n")
    (tmp_path / "paper.qmd").write_text(
        "![D.](generated/differences.svg){#fig-differences}\n\n{{< include generated/aulc.md >}}\n"
    )
    (tmp_path / "supplement.qmd").write_text("![C.](generated/learning_curves.svg){#fig-curves}\n")
    table = provenance_table(tmp_path, record)
    rows = [line for line in table.splitlines() if line.startswith("| ") and "Shown as" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| Figure 1", "| Table 1", "| Figure S1"]
    assert "`differences.svg`" in rows[0] and "data/aggregate/differences.csv" in rows[0]
    assert CAPTION_ID.search(table).group(1) == "tbl-provenance"
