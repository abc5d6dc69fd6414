import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medal.config import SECTIONS
from medal.constraints import POSITIVE_INT, AnyOf, Document, Interval, Keys, ListOf, NameOf, Options, Rule, check
from medal.design import SWEEP_SETTINGS
from medal.errors import UserError


@pytest.mark.parametrize(
    ("constraint", "text"),
    [
        (POSITIVE_INT, "a positive integer"),
        (Interval(int, 2, None), "an integer at least 2"),
        (Interval(float, 0, 1, "left"), "a number in [0, 1)"),
        (Interval(float, 0, 100, "right"), "a number in (0, 100]"),
        (Interval(float, 0, None, "neither"), "a number above 0"),
        (AnyOf((POSITIVE_INT, Options([None]))), "a positive integer or one of None"),
    ],
)
def test_each_constraint_says_what_it_wants(constraint, text):
    assert constraint.describe() == text


@given(
    st.one_of(st.integers(-5, 5), st.floats(-2, 2), st.booleans(), st.text(max_size=3), st.none()),
    st.sampled_from(["both", "left", "right", "neither"]),
)
def test_an_interval_holds_exactly_for_numbers_between_its_ends(value, closed):
    interval = Interval(float, 0, 1, closed)
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    inside = number and (
        (0 < value < 1) or (value == 0 and closed in ("both", "left")) or (value == 1 and closed in ("both", "right"))
    )
    assert interval.holds(value, Document({})) == inside


def test_a_whole_number_interval_refuses_floats_and_booleans():
    assert (
        POSITIVE_INT.holds(3, Document({}))
        and not POSITIVE_INT.holds(3.0, Document({}))
        and not POSITIVE_INT.holds(True, Document({}))
    )


def test_a_bad_list_item_is_named_with_the_list_and_the_item():
    with pytest.raises(UserError, match=r"^params.yaml: a.b values must be a positive integer, got 0$"):
        ListOf(POSITIVE_INT).check([1, 0], Document({}), "a.b")
    with pytest.raises(UserError, match=r"^params.yaml: a.b must be a non-empty list \(each value a positive"):
        ListOf(POSITIVE_INT).check([], Document({}), "a.b")


def test_a_name_must_be_defined_where_the_declaration_says_and_the_error_lists_the_valid_ones():
    params = {"study": {"strategies": ["random", "entropy"]}}
    NameOf("study.strategies", "strategy").check("entropy", Document(params), "x.y")
    with pytest.raises(UserError, match=r"^params.yaml: unknown strategy 'margin' in x.y; valid: entropy, random$"):
        NameOf("study.strategies", "strategy").check("margin", Document(params), "x.y")


def test_a_mapping_names_its_missing_unknown_and_bad_keys_and_formats_its_rules():
    keys = Keys(
        {"budget": POSITIVE_INT},
        optional={"cap": POSITIVE_INT},
        rules=(Rule("s.budget", lambda p: p["s"]["budget"] < 10, "must stay below 10, got {s[budget]}"),),
    )
    with pytest.raises(UserError, match=r"^params.yaml: s is missing key 'budget'; it takes budget, cap$"):
        check({"s": {"cap": 1}}, {"s": keys})
    with pytest.raises(UserError, match=r"^params.yaml: unknown key 's.cpa'; valid: budget, cap$"):
        check({"s": {"budget": 1, "cpa": 1}}, {"s": keys})
    with pytest.raises(UserError, match=r"^params.yaml: s.cap must be a positive integer, got -1$"):
        check({"s": {"budget": 1, "cap": -1}}, {"s": keys})
    with pytest.raises(UserError, match=r"^params.yaml: s.budget must stay below 10, got 12$"):
        check({"s": {"budget": 12}}, {"s": keys})
    with pytest.raises(UserError, match=r"^params.yaml: s must set exactly budget$"):
        check({"s": {"other": 1}}, {"s": Keys({"budget": POSITIVE_INT})})


def test_the_declared_sweep_settings_are_the_ones_the_design_runs():
    assert list(SECTIONS["sweeps"].required["settings"].required) == list(SWEEP_SETTINGS)
