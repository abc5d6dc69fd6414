import re
import subprocess
import sys

from medal.cli import main

from conftest import ROOT


def test_help_lists_every_stage():
    out = subprocess.run(
        [sys.executable, "-m", "medal.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    # The sub-commands as listed under COMMAND, one per line, not words that happen to appear in the description.
    listed = set(re.findall(r"^    ([a-z-]+) ", out, flags=re.M))
    assert listed == {
        "fetch",
        "prepare",
        "select",
        "reference",
        "al",
        "sweep",
        "submit",
        "cluster-env",
        "export-images",
        "aggregate",
        "figures",
        "paper",
        "verify",
        "bundle",
    }


def test_unknown_strategy_is_one_line_with_the_valid_names(capsys, monkeypatch, params):
    monkeypatch.chdir(ROOT)
    assert main(["al", "wdbc", "magic"]) == 2
    err = capsys.readouterr().err
    valid = ", ".join(sorted(params["strategies"]))
    assert "badge, coreset, dal, density_weighted, entropy" in valid
    assert err == f"error: unknown strategy 'magic'; valid: {valid}\n"


def test_sweep_arguments_are_checked_before_any_work(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    assert main(["sweep", "wdbc", "batch_size", "random"]) == 2
    assert (
        capsys.readouterr().err
        == "error: dataset 'wdbc' is not in sweeps.datasets; valid: breastmnist, pneumoniamnist\n"
    )
    assert main(["sweep", "breastmnist", "budget", "random"]) == 2
    assert capsys.readouterr().err == (
        "error: unknown sweep setting 'budget'; valid: batch_size, initial_labels, label_noise, representation, "
        "class_weight\n"
    )
    assert main(["sweep", "breastmnist", "batch_size", "coreset"]) == 2
    assert capsys.readouterr().err == "error: strategy 'coreset' is not in sweeps.strategies; valid: random, entropy\n"
