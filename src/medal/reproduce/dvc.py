"""The few DVC commands the project's own commands run (``dvc stage list``, ``status``, ``repro``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from medal.errors import UserError


def executable() -> str | None:
    """The ``dvc`` on PATH, or None."""
    return shutil.which("dvc")


def stage_names() -> set[str] | None:
    """The stage names of the current ``dvc.yaml`` (``dvc stage list``), or None where dvc cannot list them."""
    dvc = executable()
    if dvc is None:
        return None
    listed = subprocess.run([dvc, "stage", "list", "--name-only"], capture_output=True, text=True)
    return set(listed.stdout.split()) if listed.returncode == 0 else None


def stage_group(name: str) -> str:
    """The dvc.yaml entry a stage comes from: 'al' for 'al@wdbc'."""
    return name.split("@", 1)[0]


def by_group(names: list[str], listed: set[str]) -> list[str]:
    """``names`` as ``dvc repro`` targets, each complete ``foreach``/``matrix`` group of ``listed`` (every ``group@…``
    stage) given by its group's name: dvc resolves a few group names much faster than every stage named one by
    one with ``--downstream``."""
    chosen = set(names)
    groups = {stage_group(name) for name in names if "@" in name}
    complete = {group for group in groups if {name for name in listed if name.startswith(f"{group}@")} <= chosen}
    return sorted(complete) + [name for name in names if stage_group(name) not in complete]


def stale_stages() -> set[str]:
    """The stages ``dvc status`` reports as changed (what ``dvc repro`` would run, as far as it knows now)."""
    listed = subprocess.run([_required(), "status", "--json"], capture_output=True, text=True)
    if listed.returncode != 0:
        raise UserError(f"dvc status failed: {listed.stderr.strip().splitlines()[-1:]}; run it to see why")
    return set(json.loads(listed.stdout or "{}"))


def repro(*arguments: str, failure: str, environment: dict[str, str] | None = None) -> None:
    """Run ``dvc repro`` with ``arguments`` (and ``environment`` added to this process's), its output shown;
    ``failure`` is the message when it fails."""
    if subprocess.run(_announced(arguments), env={**os.environ, **(environment or {})}).returncode != 0:
        raise UserError(failure)


@contextmanager
def repro_beside(
    *arguments: str, log: Path, failure: str, environment: dict[str, str] | None = None
) -> Iterator[Callable[[], bool]]:
    """Run ``dvc repro`` with ``arguments`` (and ``environment`` added to this process's) in a second process while
    the body runs, its output going to ``log``; wait for it when the body ends (interrupt it and its stage, as Ctrl-C
    would, when the body fails) and raise ``failure`` (with the end of the log shown) when it failed. The body gets a
    function that tells whether the process still runs."""
    command = _announced(arguments, f"   (beside the runs; output in {log})")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        # Its own process group, so that an interrupt reaches the stage command too (dvc ignores SIGINT while one
        # runs), started with SIGINT at its default even where this process ignores it (e.g. under nohup).
        process = subprocess.Popen(
            [sys.executable, "-c", _WITH_SIGINT_AT_DEFAULT, *command],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(environment or {})},
            process_group=0,
        )
        try:
            yield lambda: process.poll() is None
        except BaseException:
            _interrupt(process)
            raise
        if process.poll() is None:
            print(f"[dvc repro {' '.join(arguments)}] still running; waiting for it", file=sys.stderr, flush=True)
        returncode = process.wait()
    if returncode != 0:
        print("\n".join(log.read_text().splitlines()[-20:]), file=sys.stderr, flush=True)
        raise UserError(failure)


_WITH_SIGINT_AT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)
INTERRUPT_GRACE_SECONDS = 30.0


def _interrupt(process: subprocess.Popen) -> None:
    """Send SIGINT to ``process``'s group and wait for it to end; SIGTERM, then SIGKILL, when it has not ended within
    ``INTERRUPT_GRACE_SECONDS`` (a stage in a long native call may not notice SIGINT)."""
    for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, signal_number)
        except ProcessLookupError:  # the group has ended
            break
        try:
            process.wait(INTERRUPT_GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue
    process.wait()


def _announced(arguments: tuple[str, ...], note: str = "") -> list[str]:
    """The ``dvc repro`` command line with ``arguments``, shown (with ``note``) as it starts."""
    command = [_required(), "repro", *arguments]
    print(f"$ dvc {' '.join(command[1:])}{note}", file=sys.stderr, flush=True)
    return command


def _required() -> str:
    dvc = executable()
    if dvc is None:
        raise UserError("dvc not found on PATH; activate the environment (source .venv/bin/activate)")
    return dvc
