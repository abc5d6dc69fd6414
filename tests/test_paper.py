import os
import shutil

import pytest
from pypdf import PdfReader

from medal.errors import UserError
from medal.report.paper import expand_shortcodes, render

from conftest import ROOT

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50">'
    '<rect width="100" height="50" fill="#0072B2"/></svg>'
)


def test_var_and_include_shortcodes(tmp_path):
    (tmp_path / "part.md").write_text("seeds: {{< var al.seeds >}}")
    text = expand_shortcodes(
        "A {{< var al.budget >}}. {{< include part.md >}}", {"al": {"seeds": 3, "budget": 9}}, tmp_path
    )
    assert text == "A 9. seeds: 3"


@pytest.mark.parametrize(
    "source, message",
    [
        ("{{< var al.nope >}}", "{{< var al.nope >}} is not in _variables.yml"),
        ("{{< include missing.md >}}", "included file .*missing.md not found"),
        ("{{< video x.mp4 >}}", "shortcode 'video' is not supported without Quarto"),
    ],
)
def test_bad_shortcodes_are_named(tmp_path, source, message):
    with pytest.raises(UserError, match=message):
        expand_shortcodes(source, {"al": {}}, tmp_path)


def _mini_paper(tmp_path, body):
    for name in ("crossref.lua", "references.bib"):
        shutil.copy(ROOT / "paper" / name, tmp_path / name)
    (tmp_path / "fig.svg").write_text(SVG)
    (tmp_path / "_variables.yml").write_text("n: 7\n")
    (tmp_path / "paper.qmd").write_text(body)


BODY = """---
title: Mini
section-numbering: "1.1"
---
# Intro {#sec-intro}

There are {{< var n >}} things; see @fig-box, @tbl-t and @sec-intro [@settles2009survey].

![A box.](fig.svg){#fig-box}

| a | b |
|:--|--:|
| 1 | 2 |

: A table. {#tbl-t}

# References {#sec-references .unnumbered}

::: {#refs}
:::
"""


def test_pandoc_path_renders_numbered_cross_references_and_citations(tmp_path):
    _mini_paper(tmp_path, BODY)
    pdf, html = render(tmp_path, tmp_path / "out", renderer="pandoc")
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "There are 7 things; see Figure 1, Table 1 and Section 1" in " ".join(text.split())
    assert "Settles" in text and "References" in text
    # Citations as in the HTML (citeproc, author-date), and the references where the refs div stands.
    assert "(Settles 2009)" in " ".join(text.split())
    page = html.read_text()
    assert 'href="#fig-box">Figure 1</a>' in page and 'href="#tbl-t">Table 1</a>' in page
    assert "Figure 1:" in page and "data:image/svg+xml" in page
    assert "Active Learning Literature Survey" in page


def test_unresolved_cross_reference_fails_the_render(tmp_path):
    _mini_paper(tmp_path, BODY.replace("@tbl-t", "@tbl-missing"))
    with pytest.raises(UserError, match="unresolved cross-reference @tbl-missing"):
        render(tmp_path, tmp_path / "out", renderer="pandoc")
    assert not (tmp_path / "out").exists()


def test_unknown_citation_fails_the_render(tmp_path):
    _mini_paper(tmp_path, BODY.replace("settles2009survey", "nobody2099"))
    with pytest.raises(UserError, match="nobody2099"):
        render(tmp_path, tmp_path / "out", renderer="pandoc")


def test_quarto_requested_but_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(UserError, match="renderer quarto requested but quarto is not on PATH"):
        render(tmp_path, tmp_path / "out", renderer="quarto")


def test_quarto_path_renders_both_formats_with_quarto(tmp_path, monkeypatch):
    """With quarto on PATH, 'auto' hands the sources to `quarto render` once per format (a stub stands in for
    Quarto)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    stub = bin_dir / "quarto"
    stub.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {calls}\n'
        'mkdir -p _output && case "$4" in html) echo "<html></html>" > _output/paper.html;; '
        'typst) echo "%PDF" > _output/paper.pdf;; esac\n'
    )
    stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    paper = tmp_path / "paper"
    paper.mkdir()
    outputs = render(paper, paper / "_output", renderer="auto")
    assert calls.read_text().splitlines() == ["render paper.qmd --to html", "render paper.qmd --to typst"]
    assert [p.name for p in outputs] == ["paper.pdf", "paper.html"] and all(p.is_file() for p in outputs)


def test_pandoc_path_puts_the_references_where_the_manuscript_does(tmp_path):
    """An appendix after the references stays after them in the PDF, and the references keep their heading."""
    _mini_paper(tmp_path, BODY + "\n# Appendix {.unnumbered}\n\nSupplementary material.\n")
    pdf, _ = render(tmp_path, tmp_path / "out", renderer="pandoc")
    text = " ".join("".join(page.extract_text() for page in PdfReader(pdf).pages).split())
    assert text.index("References") < text.index("Settles, Burr") < text.index("Appendix")


def test_supplement_labels_number_its_figures_and_tables_per_kind_in_order(tmp_path):
    from medal.report.paper import supplement_labels

    generated = tmp_path / "staging"
    generated.mkdir()
    (generated / "power.md").write_text("| a |\n|---|\n| 1 |\n\n: Tests {#tbl-power}\n")
    (generated / "two.md").write_text(": First {#tbl-a}\n\n: Second {#tbl-b}\n")
    source = tmp_path / "supplement.qmd"
    source.write_text(
        "# S\n\n{{< include generated/power.md >}}\n\n![Curves](generated/c.svg){#fig-curves}\n\n"
        "{{< include generated/two.md >}}\n\n# Section {#sec-s}\n"
    )
    labels = supplement_labels(source, {"generated": generated})
    assert labels == {"tbl-power": "Table S1", "fig-curves": "Figure S1", "tbl-a": "Table S2", "tbl-b": "Table S3"}
    assert supplement_labels(tmp_path / "none.qmd", {}) == {}
    (generated / "two.md").unlink()
    with pytest.raises(UserError, match="includes generated/two.md, which the report stage did not write"):
        supplement_labels(source, {"generated": generated})
