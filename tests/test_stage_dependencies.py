"""dvc.yaml lists, for every stage, each project module its command reaches (derived from the imports),
so that editing one reruns every stage whose output it can change."""

from __future__ import annotations

import ast

import yaml

from conftest import ROOT

PACKAGE = ROOT / "src" / "medal"
# Modules that cannot change a stage's output, left out of dvc.yaml on purpose so that editing them
# reruns nothing (and not followed to what they import): argument parsing (cli), the params schema
# and its messages (config), error and file plumbing (errors, fileio), where files live (layout: a
# path changed there must change in dvc.yaml too, which reruns what it should; tests/test_layout.py),
# and the package marker, whose only work is blas.pin_kernel (a listed dependency of every stage that
# computes).
PLUMBING = {"cli", "config", "errors", "fileio", "layout", "__init__"}
# Per stage, modules whose only effect there is a wall-clock output: the experiment stages record
# the machine and time (environment) in data/timings, which may differ on every rebuild anyway; and
# where and when runs compute, never what they compute (the study's outputs are byte-identical on local
# processes and on a Dask cluster, tests/test_runner.py): the executor that hands runs to processes or
# to a cluster, Dask's bookkeeping intervals (experiment/cluster), and how a worker process behaves
# (experiment/worker: it ends with its parent; glibc's memory thresholds). The run itself
# (experiment/tasks) is followed and listed.
WALL_CLOCK_ONLY = {stage: {"reproduce/environment"} for stage in ("reference", "al", "sweep", "capped")}
WALL_CLOCK_ONLY["al"] = WALL_CLOCK_ONLY["sweep"] = WALL_CLOCK_ONLY["capped"] = {
    "reproduce/environment",
    "experiment/cluster",
    "experiment/executor",
    "experiment/worker",
}


def _imports(node: ast.AST) -> set[str]:
    """Project modules imported anywhere inside ``node`` (``from medal.x import ...``, ``import medal.x``), as
    paths below the package without the suffix: ``report/text`` for ``medal.report.text``."""
    found = set()
    for child in ast.walk(node):
        if isinstance(child, ast.ImportFrom) and child.module and child.module.startswith("medal."):
            found.add(child.module.removeprefix("medal.").replace(".", "/"))
        elif isinstance(child, ast.Import):
            found |= {
                a.name.removeprefix("medal.").replace(".", "/") for a in child.names if a.name.startswith("medal.")
            }
    return found


def _reached(start: set[str], skip: set[str]) -> set[str]:
    """``start`` and every project module it imports, transitively, not following the ``skip`` modules."""
    seen, todo = set(), set(start)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        if module not in skip:
            todo |= _imports(ast.parse((PACKAGE / f"{module}.py").read_text()))
    return seen


def _command_modules(command: str, skip: set[str]) -> set[str]:
    """What ``medal <command>`` runs: cli's top-level imports and the imports of its cmd_ function, transitively."""
    tree = ast.parse((PACKAGE / "cli.py").read_text())
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == f"cmd_{command}")
    top_level = set().union(*(_imports(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))))
    return _reached(top_level | _imports(function), skip)


def _stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def test_every_stage_depends_on_the_modules_its_command_reaches():
    missing = {}
    for name, stage in _stages().items():
        stage = stage.get("do", stage)
        command = stage["cmd"].split()[1]
        listed = [
            dep.removeprefix("src/medal/").removesuffix(".py")
            for dep in stage.get("deps", [])
            if dep.startswith("src/medal/")
        ]
        skip = PLUMBING | WALL_CLOCK_ONLY.get(name, set())
        needed = _command_modules(command, skip) - skip
        # A listed folder (src/medal/report) covers every module inside it.
        unlisted = {m for m in needed if not any(m == dep or m.startswith(dep + "/") for dep in listed)}
        if unlisted:
            missing[name] = sorted(unlisted)
    assert not missing, f"add these modules to the stages' deps in dvc.yaml: {missing}"


def test_no_stage_depends_on_a_module_its_command_does_not_reach():
    extra = {}
    for name, stage in _stages().items():
        stage = stage.get("do", stage)
        skip = PLUMBING | WALL_CLOCK_ONLY.get(name, set())
        needed = _command_modules(stage["cmd"].split()[1], skip) - skip
        listed = [dep.removeprefix("src/medal/") for dep in stage.get("deps", []) if dep.startswith("src/medal/")]
        # A listed folder must hold at least one module the command reaches; a listed file must be one.
        unused = [
            dep
            for dep in listed
            if not any(m == dep.removesuffix(".py") or m.startswith(dep.rstrip("/") + "/") for m in needed)
        ]
        if unused:
            extra[name] = unused
    assert not extra, f"these stages list modules their command never imports (each edit would rerun them): {extra}"


# Libraries that compute: a module that imports one itself can change a stage's numbers. fileio imports numpy only
# to store and load arrays as given (its round trip is tested in test_fileio.py).
NUMERICAL = {"numpy", "scipy", "sklearn", "skimage", "skactiveml", "pandas", "matplotlib"}
STORES_ARRAYS = {"fileio"}


def test_plumbing_modules_exist_and_compute_nothing_themselves():
    for module in (PLUMBING | set().union(*WALL_CLOCK_ONLY.values())) - {"reproduce/environment"} - STORES_ARRAYS:
        path = PACKAGE / f"{module}.py"
        assert path.is_file(), path
        tree = ast.parse(path.read_text())
        imported = {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        imported |= {
            node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
        }
        assert not imported & NUMERICAL, f"{module} imports {imported & NUMERICAL}: list it in the stages' deps"


def test_the_check_follows_imports_through_the_package(tmp_path):
    # aggregate reaches stats and conclusions; a stage that listed only aggregate.py would miss them.
    reached = _command_modules("aggregate", PLUMBING)
    assert {"analysis/aggregate", "analysis/stats", "analysis/conclusions", "design", "analysis/metrics"} <= reached
    assert "data/sources" not in reached


def test_only_the_command_line_reads_the_settings_module():
    # config checks params.yaml against the pipeline's own declarations, so it imports the pipeline; a pipeline
    # module importing config back would make a cycle (and hide a dependency behind plumbing DVC does not track).
    readers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "config" in _imports(ast.parse(path.read_text())) and path.name not in {"cli.py", "config.py"}
    }
    assert not readers, f"these modules import medal.config: {sorted(readers)}"
