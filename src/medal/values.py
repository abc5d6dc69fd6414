"""Checks of every value in ``params.yaml``, wherever it sits, against the traps a hand-edited YAML file sets:
a number YAML reads as text (``3e-2``) or as a boolean (``yes``), a negative seed, a count that is not a positive
whole number. :func:`check_values` walks the whole file, so a setting added later is checked too, and so are the
options inside named entries (a strategy's ``n_members``, a learner's ``epochs``), which no section declares; the
sections' own keys are declared in :mod:`medal.config`."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from medal.errors import UserError

# Keys whose value is a yes/no setting; anywhere else a boolean is a number or a name mistyped.
BOOLEAN_KEYS = {"subsample_pool", "multi_label", "scale_with_classes", "ordinal"}
# Keys whose value seeds a random number generator: a whole number, at least 0 (numpy refuses negative seeds).
SEED_KEYS = {"random_state", "split_seed"}
# Keys whose value (or each value of its list) counts something: a whole number, at least 1.
# (An estimator's own parameters, such as C or n_estimators, are left to scikit-learn's validation, whose message
# gives the exact range.)
COUNT_KEYS = {
    "n_members",
    "max_candidates",
    "max_test_images",
    "refits_per_query",
    "unlabelled_per_labelled",
    "hidden_layer_sizes",
    "epochs",
}
# Counts that may be null, and what null means there.
NULLABLE_COUNTS = {
    ("al", "max_candidates"): "no cap: every query sees the whole unlabelled pool",
    ("cap_check", "max_candidates"): "the check lifts the study's cap: every query sees the whole unlabelled pool",
    ("evaluation", "max_test_images"): "every test image is scored",
}
# Keys whose value (or each value of its list) counts images: a whole number, at least 0.
TALLY_KEYS = {"train", "val", "test"}
# Keys whose value is a number at least 0, and a share strictly between 0 and 1.
NON_NEGATIVE_KEYS = {"beta"}
SHARE_KEYS = {"test_fraction"}
# Parts of a path under which text is expected whatever it looks like (checksums, names, prose), and keys whose
# values are names (of datasets, strategies, learners, files, methods), which may look like numbers.
TEXT_PARENTS = {"source_md5", "canonical_md5", "refused_md5", "copy_notes", "about"}
NAME_KEYS = {
    "datasets",
    "strategies",
    "learners",
    "learner_strategies",
    "main_learner",
    "learner",
    "mirror_dirs",
    "file",
    "path",
    "url",
    "source",
    "method",
    "class",
    "estimator",
    "update",
    "features",
    "colour",
    "class_weight",
    "primary_metric",
    "renderer",
    "dask_scheduler",
}
NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _leaves(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path, node


def _name(path: tuple) -> str:
    """'learners.logreg.params.C' or 'prepare.x.hidden_layer_sizes[0]'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _key(path: tuple) -> Any:
    """The mapping key a leaf belongs to (a list item belongs to its list's key)."""
    return next((part for part in reversed(path) if not isinstance(part, int)), None)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _leaf_problem(path: tuple, value: Any, boolean_params: set[tuple]) -> str | None:
    """What is wrong with one value, or None."""
    key = _key(path)
    if path[:1] == ("learners",) and path[2:] == ("params", "random_state"):
        return "is set by the study itself (each run's seed); remove it"
    if TEXT_PARENTS & {part for part in path if isinstance(part, str)} and key not in TALLY_KEYS:
        return None
    if isinstance(value, bool):
        if key in BOOLEAN_KEYS or path in boolean_params:
            return None
        return (
            f"is {str(value).lower()}, which YAML reads from true/false/yes/no/on/off; write the number or name meant"
        )
    if isinstance(value, str) and key not in NAME_KEYS and NUMBER_TEXT.fullmatch(value.strip()):
        return (
            f"is the text '{value}' (YAML reads an exponent without a decimal point, or a quoted number, as text); "
            f"write it as a number, e.g. {float(value)!r}"
        )
    if key in SEED_KEYS and not (_is_whole(value) and value >= 0):
        return f"must be a whole number at least 0 (a seed: null would draw another one each run), got {value!r}"
    if key in COUNT_KEYS and not (_is_whole(value) and value >= 1):
        if path in NULLABLE_COUNTS:
            return (
                None
                if value is None
                else f"must be a whole number at least 1 or null ({NULLABLE_COUNTS[path]}), got {value!r}"
            )
        return f"must be a whole number at least 1, got {value!r}"
    if key in TALLY_KEYS and not (_is_whole(value) and value >= 0):
        return f"must be a whole number of images at least 0, got {value!r}"
    if key in NON_NEGATIVE_KEYS and not (_is_number(value) and value >= 0):
        return f"must be a number at least 0, got {value!r}"
    if key in SHARE_KEYS and not (_is_number(value) and 0 < value < 1):
        return f"must be a number between 0 and 1, got {value!r}"
    return None


def _boolean_params(learners: Any) -> set[tuple]:
    """Paths of the learners' estimator parameters whose default is a boolean (``fit_intercept``, ``shuffle``)."""
    from medal.experiment.learners import ESTIMATORS

    if not isinstance(learners, dict):
        return set()
    return {
        ("learners", name, "params", key)
        for name, spec in learners.items()
        if isinstance(spec, dict) and spec.get("estimator") in ESTIMATORS
        for key, default in ESTIMATORS[spec["estimator"]][0](0).get_params().items()
        if isinstance(default, bool)
    }


def check_values(params: dict[str, Any]) -> None:
    """Raise a :class:`UserError` naming the first value of ``params`` that falls into a YAML trap or is not a
    valid seed, count, share or non-negative number."""
    boolean_params = _boolean_params(params.get("learners"))
    for path, value in _leaves(params):
        problem = _leaf_problem(path, value, boolean_params)
        if problem:
            raise UserError(f"params.yaml: {_name(path)} {problem}")
