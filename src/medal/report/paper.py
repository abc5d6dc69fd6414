"""Render the manuscript: Quarto when installed, otherwise Pandoc (HTML) and Pandoc + Typst (PDF).

The Pandoc path supports the Quarto features the manuscript uses: ``{{< var >}}`` and
``{{< include >}}`` shortcodes (expanded here), ``@fig-``/``@tbl-``/``@sec-`` cross-references
(``crossref.lua``) and citations from ``references.bib``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from medal.errors import UserError
from medal.fileio import write_bytes_atomic, write_text_atomic

SOURCE = "paper.qmd"
# The supplement, rendered beside the paper when present; the paper names its figures and tables by the
# variables :func:`supplement_labels` writes ("Table S3"), since a reference cannot cross documents.
SUPPLEMENT = "supplement.qmd"
VARIABLES = "_variables.yml"
BIBLIOGRAPHY = "references.bib"
CROSSREF_FILTER = "crossref.lua"
SHORTCODE = re.compile(r"\{\{<\s*(\w+)\s+([^\s>]+)\s*>\}\}")
INCLUDE = re.compile(r"\{\{<\s*include\s+([^\s>]+)\s*>\}\}")
CAPTION_ID = re.compile(r"\{#((fig|tbl)-[\w-]+)\}")
KIND_NAMES = {"fig": "Figure", "tbl": "Table"}


def lookup(variables: dict[str, Any], dotted: str) -> Any:
    """The value of a dotted key such as ``al.seeds`` in the variables mapping."""
    value: Any = variables
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise UserError(
                f"paper: {{{{< var {dotted} >}}}} is not in {VARIABLES}; rerun `dvc repro figures` or fix the name"
            )
        value = value[part]
    return value


def expand_shortcodes(text: str, variables: dict[str, Any], base: Path, depth: int = 0) -> str:
    """Replace Quarto ``var`` and ``include`` shortcodes, as Quarto would."""
    if depth > 5:
        raise UserError("paper: includes nested more than 5 deep; look for an include cycle")

    def replace(match: re.Match) -> str:
        kind, argument = match.group(1), match.group(2)
        if kind == "var":
            return str(lookup(variables, argument))
        if kind == "include":
            path = base / argument
            if not path.is_file():
                raise UserError(f"paper: included file {path} not found; rerun `dvc repro figures`")
            return expand_shortcodes(path.read_text(encoding="utf-8"), variables, base, depth + 1)
        raise UserError(f"paper: shortcode '{kind}' is not supported without Quarto; use var or include")

    return SHORTCODE.sub(replace, text)


def outputs_of(source: str) -> tuple[str, str]:
    """The PDF and HTML a manuscript source renders to."""
    stem = Path(source).stem
    return f"{stem}.pdf", f"{stem}.html"


def supplement_labels(source: Path, folders: dict[str, Path]) -> dict[str, str]:
    """How the paper names each figure and table of the supplement (``{"tbl-power": "Table S3"}``): numbered per
    kind in the order the supplement shows them, as Typst and ``crossref.lua`` number them there; empty without a
    supplement. ``folders`` maps the first part of an include's path to the folder it is read from (the figures
    stage writes its parts into staging folders)."""
    if not source.is_file():
        return {}

    def included(match: re.Match) -> str:
        first, _, rest = match.group(1).partition("/")
        path = folders[first] / rest if first in folders else source.parent / match.group(1)
        if not path.is_file():
            raise UserError(f"paper: {source.name} includes {match.group(1)}, which the figures stage did not write")
        return path.read_text(encoding="utf-8")

    counters = dict.fromkeys(KIND_NAMES, 0)
    labels = {}
    for identifier, kind in CAPTION_ID.findall(INCLUDE.sub(included, source.read_text(encoding="utf-8"))):
        counters[kind] += 1
        labels[identifier] = f"{KIND_NAMES[kind]} S{counters[kind]}"
    return labels


def _pandoc() -> str:
    try:
        import pypandoc
    except ImportError:
        raise UserError(
            "paper: Pandoc not found; install the project (pip install -e .) or put quarto on PATH"
        ) from None
    return pypandoc.get_pandoc_path()


# Lines of a renderer's error output that say nothing about the cause, and prefixes to drop from the rest.
_NOISE = ("Failing because there were warnings", "Error running filter")
_PREFIX = re.compile(r"^(\[WARNING\]\s*|[\w./-]+\.lua:\d+:\s*)+")


def _run(command: list[str], cwd: Path, stdin: str | None = None) -> str:
    """Run a renderer; on failure raise a one-line :class:`UserError` with the cause it reported."""
    result = subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).split("stack traceback:")[0].splitlines()
        causes = [
            _PREFIX.sub("", line.strip()) for line in lines if line.strip() and not line.strip().startswith(_NOISE)
        ]
        raise UserError(f"paper: {Path(command[0]).name} failed: {'; '.join(causes[:2])}")
    return result.stdout


def _references_heading(typst_source: str) -> str:
    """Pandoc's Typst writer turns the heading of the references section into the title of Typst's bibliography,
    which citeproc leaves unused; make it a heading again."""
    return re.sub(r"^#set bibliography\(title: \[(.*)\]\)$", r"#heading(numbering: none)[\1]", typst_source, flags=re.M)


def _compile_typst(paper_dir: Path, typst_source: str) -> bytes:
    """The PDF of a Typst source, compiled by the ``typst`` package from a temporary file in ``paper_dir``."""
    import typst

    fd, typ_path = tempfile.mkstemp(dir=paper_dir, prefix=".paper-", suffix=".typ")
    os.close(fd)
    try:
        Path(typ_path).write_text(typst_source, encoding="utf-8")
        try:
            # Bundled fonts and a fixed timestamp: the PDF depends only on the sources.
            pdf = typst.compile(typ_path, root=str(paper_dir), ignore_system_fonts=True, timestamp=0)
        except Exception as exc:  # typst raises its own error types with the compiler's message
            detail = getattr(exc, "diagnostic", None) or str(exc)
            raise UserError(f"paper: typst failed: {' | '.join(detail.strip().splitlines()[:3])}") from None
    finally:
        Path(typ_path).unlink(missing_ok=True)
    return pdf


def render_pandoc(paper_dir: Path, out_dir: Path) -> list[Path]:
    """HTML with Pandoc and citeproc; PDF with Pandoc's Typst writer compiled by the ``typst`` package; the paper,
    and the supplement when there is one."""
    variables_path = paper_dir / VARIABLES
    if not variables_path.is_file():
        raise UserError(f"paper: {variables_path} not found; run `dvc repro figures` first")
    variables = yaml.safe_load(variables_path.read_text(encoding="utf-8"))
    outputs = []
    for source in _sources(paper_dir):
        outputs += _render_pandoc_source(paper_dir, out_dir, source, variables)
    return outputs


def _sources(paper_dir: Path) -> list[str]:
    return [SOURCE, *([SUPPLEMENT] if (paper_dir / SUPPLEMENT).is_file() else [])]


def _render_pandoc_source(paper_dir: Path, out_dir: Path, source: str, variables: dict[str, Any]) -> list[Path]:
    text = expand_shortcodes((paper_dir / source).read_text(encoding="utf-8"), variables, paper_dir)
    pandoc = _pandoc()
    common = [
        "--from=markdown",
        f"--lua-filter={CROSSREF_FILTER}",
        f"--bibliography={BIBLIOGRAPHY}",
        "--fail-if-warnings",
    ]
    html = _run(
        [
            pandoc,
            *common,
            "--to=html5",
            "--standalone",
            "--embed-resources",
            "--citeproc",
            "--number-sections",
            "--mathml",
            "--metadata=link-citations:true",
            "--resource-path=.",
        ],
        paper_dir,
        text,
    )
    # Citations through citeproc as in the HTML: the same style, and the references where the manuscript puts
    # them (the refs div, before the appendix), not at the end where Typst's own bibliography would go.
    typst_source = _references_heading(
        _run([pandoc, *common, "--citeproc", "--to=typst", "--standalone"], paper_dir, text)
    )
    pdf = _compile_typst(paper_dir, typst_source)
    outputs = [out_dir / name for name in outputs_of(source)]
    write_bytes_atomic(outputs[0], pdf)
    write_text_atomic(outputs[1], html)
    return outputs


def render_quarto(paper_dir: Path, out_dir: Path) -> list[Path]:
    """Render HTML and Typst-PDF of the paper (and the supplement) with the Quarto CLI, as ``_quarto.yml`` says."""
    outputs = []
    for source in _sources(paper_dir):
        for fmt in ("html", "typst"):
            _run(["quarto", "render", source, "--to", fmt], paper_dir)
        outputs += [out_dir / name for name in outputs_of(source)]
    missing = [str(path) for path in outputs if not path.is_file()]
    if missing:
        raise UserError(f"paper: Quarto did not write {', '.join(missing)}; check output-dir in _quarto.yml")
    return outputs


def render(paper_dir: Path, out_dir: Path, renderer: str = "auto") -> list[Path]:
    """Render the manuscript with the chosen renderer (``auto``, ``quarto`` or ``pandoc``)."""
    if renderer not in ("auto", "quarto", "pandoc"):
        raise UserError(f"params.yaml: paper.renderer '{renderer}' unknown; valid: auto, quarto, pandoc")
    if renderer == "quarto" or (renderer == "auto" and shutil.which("quarto")):
        if not shutil.which("quarto"):
            raise UserError(
                "paper: renderer quarto requested but quarto is not on PATH; install it or set paper.renderer: auto"
            )
        return render_quarto(paper_dir, out_dir)
    return render_pandoc(paper_dir, out_dir)
