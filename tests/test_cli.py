import subprocess
import sys

from conftest import ROOT
from medal.cli import main


def test_help_lists_every_stage():
    out = subprocess.run([sys.executable, "-m", "medal.cli", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("fetch", "prepare", "reference", "al", "aggregate", "figures", "paper"):
        assert command in out


def test_unknown_strategy_is_one_line_with_the_valid_names(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["al", "wdbc", "magic"]) == 2
    err = capsys.readouterr().err
    assert err == "error: unknown strategy 'magic'; valid: entropy, least_confident, margin, random\n"
