"""Every value of params.yaml is checked when the file is loaded: a property test walks the real file."""

import copy
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from medal.config import validate
from medal.errors import UserError
from medal.values import check_values

from conftest import ROOT

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
# Numbers that may be negative: compute.n_jobs = -1 means every core (joblib's convention).
NEGATIVE_ALLOWED = {("compute", "n_jobs")}


def _numeric_leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _numeric_leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _numeric_leaves(value, (*path, index))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, node


NUMERIC = list(_numeric_leaves(PARAMS))


def _with(path, value):
    params = copy.deepcopy(PARAMS)
    node = params
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return params


def test_the_walk_reaches_every_section_with_numbers():
    assert {path[0] for path, _ in NUMERIC} >= {"study", "sweeps", "select", "datasets", "prepare", "learners"}
    assert len(NUMERIC) > 100


@given(st.sampled_from(NUMERIC), st.sampled_from(["negative", "text", "boolean"]))
@settings(max_examples=300, deadline=None)
def test_every_number_in_params_yaml_is_checked_at_load(leaf, trap):
    """Replace any number of the real params.yaml by a negative number, by the same number as YAML text (what
    ``3e-2`` or ``'5'`` read as) or by a boolean (what ``yes`` reads as): loading refuses it with one line that
    names the setting, before any work, unless that number may be negative."""
    path, value = leaf
    if trap == "negative" and path in NEGATIVE_ALLOWED:
        return
    bad = {"negative": -1, "text": str(value), "boolean": True}[trap]
    with pytest.raises(UserError) as caught:
        validate(_with(path, bad))
    message = str(caught.value)
    assert "\n" not in message and message.startswith("params.yaml: ")
    # The message names the setting (a dataset's entries are named by the dataset and key, a list item by its list).
    named = [str(part) for part in path if not isinstance(part, int)]
    assert named[-1] in message


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("learners", "logreg", "params", "C"), "3e-2", "learners.logreg.params.C is the text '3e-2'"),
        (("evaluation", "test_bootstrap", "random_state"), -1, "must be a whole number at least 0 (a seed"),
        (("evaluation", "test_bootstrap", "random_state"), None, "must be a whole number at least 0 (a seed"),
        (("strategies", "qbc_vote_entropy", "n_members"), 0, "qbc_vote_entropy.n_members must be a whole number"),
        (("strategies", "dal", "unlabelled_per_labelled"), 0, "dal.unlabelled_per_labelled must be a whole number"),
        (("al", "max_candidates"), 0, "al.max_candidates must be a whole number at least 1 or null (no cap"),
        (("learners", "logreg", "params", "random_state"), 3, "is set by the study itself (each run's seed)"),
        (("prepare", "breastmnist", "n_patches"), True, "is true, which YAML reads from true/false/yes/no"),
    ],
)
def test_the_message_says_how_to_write_it(path, value, message):
    with pytest.raises(UserError, match=re.escape(message)):
        validate(_with(path, value))


def test_a_null_pool_cap_means_the_whole_pool_and_is_allowed():
    validate(_with(("al", "max_candidates"), None))


def test_yes_no_settings_and_estimator_booleans_stay_allowed():
    params = _with(("learners", "logreg", "params", "fit_intercept"), False)
    params["strategies"]["epistemic"]["subsample_pool"] = True
    validate(params)
    check_values({"datasets": {"x": {"about": {"class_names": ["0", "1"]}, "source_md5": {"a": "12345"}}}})
