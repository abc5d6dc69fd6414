"""The aggregate tables: written with fixed formatting, read back typed, and refusing rows that do not fit."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medal.analysis.tables import Table

SMALL = Table("small.csv", {"name": str, "count": int, "score": float})


def test_rows_round_trip_typed_with_nan_as_an_empty_cell(tmp_path):
    text = SMALL.text([{"name": "a", "count": 3, "score": 0.25}, ["b,c", 0, math.nan]])
    assert text == 'name,count,score\na,3,0.250000\n"b,c",0,\n'
    (tmp_path / "small.csv").write_text(text)
    first, second = SMALL.read(tmp_path)
    assert first == {"name": "a", "count": 3, "score": 0.25}
    assert second["name"] == "b,c" and second["count"] == 0 and math.isnan(second["score"])


@given(st.floats(min_value=-1e9, max_value=1e9) | st.just(math.nan))
def test_floats_keep_six_decimals(value):
    cell = SMALL.text([["x", 1, value]]).splitlines()[1].split(",")[2]
    assert cell == ("" if math.isnan(value) else f"{value:.6f}")


def test_an_empty_table_keeps_its_header(tmp_path):
    (tmp_path / "small.csv").write_text(SMALL.text([]))
    assert SMALL.read(tmp_path) == []


@pytest.mark.parametrize(
    "row, message",
    [
        ({"name": "a", "score": 0.1, "count": 1}, r"columns \['name', 'score', 'count'\], the table"),
        ({"name": "a", "count": 1}, "columns"),
        (["a", 1], "2 values, the table 3 columns"),
    ],
)
def test_rows_that_do_not_fit_the_table_are_refused(row, message):
    with pytest.raises(ValueError, match=message):
        SMALL.text([row])


def test_a_file_with_other_columns_is_refused(tmp_path):
    (tmp_path / "small.csv").write_text("name,score\na,0.1\n")
    with pytest.raises(ValueError, match=r"small.csv: columns \['name', 'score'\], expected"):
        SMALL.read(tmp_path)
