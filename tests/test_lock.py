"""The committed dvc.lock is true to the tree: a change to code, params or a stage cannot land without
the rebuild that records it (otherwise a fresh clone's `dvc repro` reruns stages on arrival)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import ROOT

LOCK = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def _is_output(path: str) -> bool:
    outs = [out["path"] for stage in LOCK.values() for out in stage.get("outs", [])]
    return any(
        path == out or path.startswith(out.rstrip("/") + "/") or out.startswith(path.rstrip("/") + "/") for out in outs
    )


def _md5(path: Path) -> str:
    """The md5 DVC records for a file, or for a folder (``.dir``: md5 of its sorted file listing, bytecode
    caches excluded as in .dvcignore); "missing" when there is nothing there."""
    if path.is_file():
        return hashlib.md5(path.read_bytes()).hexdigest()
    if not path.is_dir():
        return "missing"
    files = [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    entries = sorted(
        ({"md5": hashlib.md5(p.read_bytes()).hexdigest(), "relpath": p.relative_to(path).as_posix()} for p in files),
        key=lambda entry: entry["relpath"],
    )
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"


def _lookup(key: str):
    value = PARAMS
    for part in key.split("."):
        value = value[part]
    return value


def test_every_source_dependency_in_dvc_lock_matches_the_file_in_the_tree():
    stale = []
    for name, stage in LOCK.items():
        for dep in stage.get("deps", []):
            if _is_output(dep["path"]):
                continue
            got = _md5(ROOT / dep["path"])
            if got != dep["md5"]:
                stale.append(f"{name}: {dep['path']} is {got} in the tree, {dep['md5']} in dvc.lock")
    assert not stale, "dvc.lock is stale; run dvc repro and commit dvc.lock:\n" + "\n".join(stale)


def test_every_output_committed_to_git_matches_dvc_lock():
    # outputs kept in git (cache: false: conclusions.json, metrics.json, platform.json) must be the rebuilt ones
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    stale = [
        f"{name}: {out['path']} is {_md5(ROOT / out['path'])} in git, {out['md5']} in dvc.lock"
        for name, stage in LOCK.items()
        for out in stage.get("outs", [])
        if out["path"] in tracked and _md5(ROOT / out["path"]) != out["md5"]
    ]
    assert not stale, "commit the outputs of the build that wrote dvc.lock:\n" + "\n".join(stale)


def test_every_parameter_in_dvc_lock_matches_params_yaml():
    stale = [
        f"{name}: {key} = {_lookup(key)!r} in params.yaml, {value!r} in dvc.lock"
        for name, stage in LOCK.items()
        for key, value in stage.get("params", {}).get("params.yaml", {}).items()
        if _lookup(key) != value
    ]
    assert not stale, "dvc.lock is stale; run dvc repro and commit dvc.lock:\n" + "\n".join(stale)


def test_dvc_lock_holds_exactly_the_stages_of_dvc_yaml_with_their_commands():
    dvc = Path(sys.executable).with_name("dvc")
    listed = subprocess.run([dvc, "stage", "list", "--name-only"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert sorted(listed.stdout.split()) == sorted(LOCK)
    for name, stage in LOCK.items():
        parts = name.replace("@", " ").split()
        assert stage["cmd"].startswith(f"medal {parts[0]}"), name
