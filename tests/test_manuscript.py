"""The manuscript states no result by hand: every digit in its prose comes from the pipeline or is allowed here."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import ROOT

# Digit-bearing phrases the prose may contain, each with the reason it is not a result.
ALLOWED = {
    "95 %": "the confidence level of every interval, fixed in medal.analysis.stats.mean_ci",
    "1 = best": "the direction of the rank scale in the critical-difference captions",
    "0 or 1": "the bounds of a probability",
    "k-means++": "the name of an algorithm",
    "macro-F1": "the name of a metric",
}

# Markup whose digits are not prose: code, math, shortcodes, citations and cross-references,
# attributes, link targets, raw blocks.
NOT_PROSE = [
    r"```.*?```",
    r"`[^`]*`",
    r"\$[^$]*\$",
    r"\{\{<.*?>\}\}",
    r"\[?@[\w:-]+\]?",
    r"\{[#.][^}]*\}",
    r"\]\([^)]*\)",
]


def prose_numbers(text: str) -> list[str]:
    """Numbers left in ``text`` after removing markup and the allowed phrases."""
    for pattern in NOT_PROSE:
        text = re.sub(pattern, " ", text, flags=re.S)
    for phrase in ALLOWED:
        text = text.replace(phrase, " ")
    return re.findall(r"\d[\d.,]*", text)


@pytest.mark.parametrize("name", ["paper.qmd", "supplement.qmd"])
def test_no_hand_typed_numbers_in_the_manuscript(name):
    source = (ROOT / "paper" / name).read_text(encoding="utf-8")
    _, header, body = source.split("---", 2)
    front = yaml.safe_load(header)
    prose = "\n".join([front["title"], front.get("abstract", ""), body])
    assert prose_numbers(prose) == []


def test_the_check_catches_a_typed_result():
    assert prose_numbers("Entropy saved 37 labels (12.5 %) at {{< var al.budget >}}, see @fig-cd and $x_1$.") == [
        "37",
        "12.5",
    ]
    assert prose_numbers("with 95 % confidence intervals; rank 1 = best") == []
