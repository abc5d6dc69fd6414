"""Render the manuscript: Quarto when installed, otherwise Pandoc (HTML) and Pandoc + Typst (PDF).

The Pandoc path supports the Quarto features the manuscript uses: ``{{< var >}}`` and
``{{< include >}}`` shortcodes (expanded here), ``@fig-``/``@tbl-``/``@sec-`` cross-references
(``crossref.lua``) and citations from ``references.bib``.
"""

from __future__ import annotations

import html
import json
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
# A table's caption line, which ends the table in Pandoc's Markdown.
TABLE_CAPTION = re.compile(r"^:\s.*\{#tbl-[\w-]+\}[ \t]*$", re.M)
# Markdown that opens a block (a list, a table, a heading, a fence), which a span cannot hold.
BLOCK_START = re.compile(r"^(\s*([-*+]|\d+[.)])\s|\||#|```|:::)", re.M)
# A figure drawn by the pipeline: the image of a generated file, with its identifier.
FIGURE_LINE = re.compile(r"^!\[.*\]\((?:generated|measured)/([\w.-]+)\)\{#fig-[\w-]+\}$", re.M)
# The provenance record the report stage writes (report/provenance.py), shown in the HTML, and where a source
# asks for it as a table (one row per figure and table of both documents, named as they number them).
PROVENANCE = "measured/provenance.json"
PROVENANCE_TABLE = "::: {#provenance-table}\n:::"


def lookup(variables: dict[str, Any], dotted: str) -> Any:
    """The value of a dotted key such as ``al.seeds`` in the variables mapping."""
    value: Any = variables
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise UserError(
                f"paper: {{{{< var {dotted} >}}}} is not in {VARIABLES}; rerun `dvc repro report` or fix the name"
            )
        value = value[part]
    return value


def expand_shortcodes(
    text: str, variables: dict[str, Any], base: Path, depth: int = 0, sources: Sources | None = None
) -> str:
    """Replace Quarto ``var`` and ``include`` shortcodes, as Quarto would. With ``sources`` (the HTML), each value
    and each generated passage carries its source as a tooltip, and each generated table its provenance note."""
    if depth > 5:
        raise UserError("paper: includes nested more than 5 deep; look for an include cycle")

    def replace(match: re.Match) -> str:
        kind, argument = match.group(1), match.group(2)
        if kind == "var":
            value = str(lookup(variables, argument))
            return sources.variable(argument, value) if sources else value
        if kind == "include":
            path = base / argument
            if not path.is_file():
                raise UserError(f"paper: included file {path} not found; rerun `dvc repro report`")
            content = expand_shortcodes(path.read_text(encoding="utf-8"), variables, base, depth + 1, sources)
            return sources.passage(path.name, content, _alone(match)) if sources else content
        raise UserError(f"paper: shortcode '{kind}' is not supported without Quarto; use var or include")

    expanded = SHORTCODE.sub(replace, text)
    return sources.figures(expanded) if sources and depth == 0 else expanded


def _alone(match: re.Match) -> bool:
    """Whether a shortcode is the only thing on its line (a block of its own, not words inside a paragraph)."""
    text = match.string
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    end = len(text) if end < 0 else end
    return not text[start : match.start()].strip() and not text[match.end() : end].strip()


class Sources:
    """The report stage's provenance record (``measured/provenance.json``), shown in the HTML: a tooltip naming the
    source of each quoted value and generated passage, and a note under each figure and table naming the stage,
    inputs with their checksums, ``params.yaml`` sections, module and command."""

    def __init__(self, record: dict[str, Any]):
        self.files = record["files"]
        self.values = record["variables"]

    def variable(self, dotted: str, value: str) -> str:
        top, _, rest = dotted.partition(".")
        source = self.values.get(top)
        if source is None:
            raise UserError(
                f"paper: {{{{< var {dotted} >}}}} has no recorded source; declare it in report/provenance.py"
            )
        if "\n\n" in value:  # a passage of several paragraphs cannot sit in a span
            return value
        where = f"{source} › {rest.replace('.', ' › ')}" if rest else source
        return f'[{value}]{{.generated title="{_attribute(where)}"}}'

    def passage(self, name: str, content: str, whole_line: bool) -> str:
        entry = self.files.get(name)
        if entry is None:
            return content
        if CAPTION_ID.search(content):  # tables: a note follows each one's caption
            return TABLE_CAPTION.sub(lambda m: f"{m.group(0)}\n\n{self.note(entry)}\n", content)
        title = _attribute(f"generated by {entry['module']} from " + "; ".join(i["path"] for i in entry["inputs"]))
        text = content.strip()
        if "\n\n" not in text and not BLOCK_START.search(text):  # words inside a paragraph, or one of their own
            return f'[{text}]{{.generated title="{title}"}}'
        if whole_line:  # paragraphs (or a list) of their own
            return f'\n\n::: {{.generated title="{title}"}}\n{text}\n:::\n\n'
        return content

    def figures(self, text: str) -> str:
        """``text`` with a provenance note after each figure drawn by the pipeline."""

        def noted(match: re.Match) -> str:
            entry = self.files.get(match.group(1))
            return f"{match.group(0)}\n\n{self.note(entry)}" if entry else match.group(0)

        return FIGURE_LINE.sub(noted, text)

    @staticmethod
    def note(entry: dict[str, Any]) -> str:
        inputs = "".join(f"<li><code>{html.escape(text)}</code></li>" for text in entry["input_texts"])
        return (
            "```{=html}\n"
            f'<details class="provenance"><summary>Provenance</summary><p>Written by stage <code>{entry["stage"]}'
            f"</code> (<code>{entry['module']}</code>) from:</p><ul>{inputs or '<li>params.yaml only</li>'}</ul>"
            f"<p>params.yaml: <code>{html.escape(', '.join(entry['params']) or 'none')}</code>. Rebuild and check: "
            f"<code>{html.escape(entry['command'])}</code></p></details>\n"
            "```"
        )


def _attribute(text: str) -> str:
    return html.escape(text, quote=True)


def outputs_of(source: str) -> tuple[str, str]:
    """The PDF and HTML a manuscript source renders to."""
    stem = Path(source).stem
    return f"{stem}.pdf", f"{stem}.html"


def numbered_parts(source: Path, folders: dict[str, Path], prefix: str = "") -> dict[str, tuple[str, str]]:
    """Each figure and table of a manuscript source, by identifier: how it is named (``("Table S3",
    "power.md")`` with ``prefix`` "S") and the generated file it comes from; numbered per kind in the order shown,
    as Typst and ``crossref.lua`` number them. ``folders`` maps the first part of an include's path to the folder
    it is read from (the report stage writes its parts into staging folders)."""

    def included(argument: str) -> str:
        first, _, rest = argument.partition("/")
        path = folders[first] / rest if first in folders else source.parent / argument
        if not path.is_file():
            raise UserError(f"paper: {source.name} includes {argument}, which the report stage did not write")
        return path.read_text(encoding="utf-8")

    found = []  # (identifier, kind, file) in the order shown
    for line in source.read_text(encoding="utf-8").splitlines():
        for argument in INCLUDE.findall(line):
            found += [(i, kind, Path(argument).name) for i, kind in CAPTION_ID.findall(included(argument))]
        figure = FIGURE_LINE.match(line)
        found += [(i, kind, figure.group(1) if figure else source.name) for i, kind in CAPTION_ID.findall(line)]
    counters = dict.fromkeys(KIND_NAMES, 0)
    parts = {}
    for identifier, kind, file in found:
        counters[kind] += 1
        parts[identifier] = (f"{KIND_NAMES[kind]} {prefix}{counters[kind]}", file)
    return parts


def supplement_labels(source: Path, folders: dict[str, Path]) -> dict[str, str]:
    """How the paper names each figure and table of the supplement (``{"tbl-power": "Table S3"}``), see
    :func:`numbered_parts`; empty without a supplement."""
    if not source.is_file():
        return {}
    return {identifier: name for identifier, (name, _) in numbered_parts(source, folders, "S").items()}


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
        raise UserError(f"paper: {variables_path} not found; run `dvc repro report` first")
    variables = yaml.safe_load(variables_path.read_text(encoding="utf-8"))
    outputs = []
    for source in _sources(paper_dir):
        outputs += _render_pandoc_source(paper_dir, out_dir, source, variables)
    return outputs


def _sources(paper_dir: Path) -> list[str]:
    return [SOURCE, *([SUPPLEMENT] if (paper_dir / SUPPLEMENT).is_file() else [])]


def provenance_table(paper_dir: Path, record: dict[str, Any]) -> str:
    """The record as a table: one row per figure and table of the paper and the supplement, in the order they are
    numbered, with the pipeline outputs it is computed from (first digits of their md5), ``params.yaml`` sections
    and module."""
    parts = [
        part
        for source, prefix in ((SOURCE, ""), (SUPPLEMENT, "S"))
        if (paper_dir / source).is_file()
        for part in numbered_parts(paper_dir / source, {}, prefix).values()
    ]
    rows = [
        [
            name,
            f"`{file}`",
            "; ".join(entry["input_texts"]) or "params.yaml only",
            ", ".join(entry["params"]) or "none",
            f"`{entry['module'].removeprefix('src/medal/')}`",
        ]
        for name, file in parts
        if (entry := record["files"].get(file))
    ]
    command = next(iter(record["files"].values()))["command"] if record["files"] else ""
    lines = [
        "| Shown as | File | Inputs (md5) | params.yaml | Module (src/medal/) |",
        "|:----|:--------|:------------|:-----|:------|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    caption = (
        "Provenance of every figure and table: the file the pipeline writes, the outputs it is computed from with the "
        "first digits of their md5 (a folder's as `dvc.lock` records it), the `params.yaml` sections and the module; "
        f"`{command}` rebuilds them and checks that they reproduced."
    )
    return "\n".join(lines) + f"\n\n: {caption} {{#tbl-provenance}}\n"


def _render_pandoc_source(paper_dir: Path, out_dir: Path, source: str, variables: dict[str, Any]) -> list[Path]:
    original = (paper_dir / source).read_text(encoding="utf-8")
    path = paper_dir / PROVENANCE
    record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    if record and PROVENANCE_TABLE in original:
        original = original.replace(PROVENANCE_TABLE, provenance_table(paper_dir, record))
    text = expand_shortcodes(original, variables, paper_dir)
    html_text = expand_shortcodes(original, variables, paper_dir, sources=Sources(record) if record else None)
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
        html_text,
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
