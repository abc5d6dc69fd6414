import re
import subprocess
import sys

import yaml

from medal import cli
from medal.cli import main

from conftest import ROOT


def test_help_lists_every_command_and_every_stage_calls_a_listed_one():
    out = subprocess.run(
        [sys.executable, "-m", "medal.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    # The sub-commands as listed under COMMAND, one per line, not words that happen to appear in the description.
    listed = set(re.findall(r"^    ([a-z-]+) ", out, flags=re.M))
    defined = {name.removeprefix("cmd_").replace("_", "-") for name in dir(cli) if name.startswith("cmd_")}
    assert listed == defined
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].values()
    called = {stage.get("do", stage)["cmd"].split()[1] for stage in stages}
    assert called <= listed, f"dvc.yaml calls commands the command line does not have: {called - listed}"


def test_unknown_dataset_is_one_line_with_the_valid_names(capsys, monkeypatch, params):
    monkeypatch.chdir(ROOT)
    assert main(["al", "magic"]) == 2
    valid = ", ".join(sorted(params["datasets"]))
    assert capsys.readouterr().err == f"error: unknown dataset 'magic'; valid: {valid}\n"


def test_sweep_arguments_are_checked_before_any_work(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    assert main(["sweep", "wdbc", "batch_size"]) == 2
    assert (
        capsys.readouterr().err
        == "error: dataset 'wdbc' is not in sweeps.datasets; valid: breastmnist, pneumoniamnist\n"
    )
    assert main(["sweep", "breastmnist", "budget"]) == 2
    assert capsys.readouterr().err == (
        "error: unknown sweep setting 'budget'; valid: batch_size, initial_labels, label_noise, representation, "
        "class_weight\n"
    )
