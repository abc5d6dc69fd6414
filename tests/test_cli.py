import subprocess
import sys

from conftest import ROOT
from medal.cli import main


def test_help_lists_every_stage():
    out = subprocess.run([sys.executable, "-m", "medal.cli", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("fetch", "prepare", "reference", "al", "aggregate", "figures", "paper"):
        assert command in out


def test_unknown_strategy_is_one_line_with_the_valid_names(capsys, monkeypatch, params):
    monkeypatch.chdir(ROOT)
    assert main(["al", "wdbc", "magic"]) == 2
    err = capsys.readouterr().err
    valid = ", ".join(sorted(params["strategies"]))
    assert "badge, coreset, dal, density_weighted, entropy" in valid
    assert err == f"error: unknown strategy 'magic'; valid: {valid}\n"
