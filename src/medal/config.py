"""Read ``params.yaml`` and check the settings every stage relies on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from medal.errors import UserError
from medal.learners import ESTIMATORS, UPDATE_MODES, Learner
from medal.metrics import METRIC_NAMES
from medal.strategies import STRATEGY_METHODS, Strategy

DEFAULT_PARAMS = Path("params.yaml")


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """Load ``params.yaml`` safely and validate it; raise :class:`UserError` on the first problem."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: parameters file not found; run from the project root or pass --params")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc.__class__.__name__}); fix the syntax") from None
    if not isinstance(params, dict):
        raise UserError(f"{path}: expected a mapping of sections at the top level")
    validate(params)
    return params


def _require(params: dict, key: str) -> Any:
    if key not in params:
        raise UserError(f"params.yaml: missing section '{key}'; see the README for the full layout")
    return params[key]


def _check_names(kind: str, singular: str, chosen: list, available: dict) -> None:
    if not isinstance(chosen, list) or not chosen:
        raise UserError(f"params.yaml: study.{kind} must be a non-empty list of names")
    for name in chosen:
        if name not in available:
            valid = ", ".join(sorted(available))
            raise UserError(f"params.yaml: unknown {singular} '{name}' in study.{kind}; valid: {valid}")


def _positive_int(section: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserError(f"params.yaml: {section}.{key} must be a positive integer, got {value!r}")
    return value


def validate(params: dict[str, Any]) -> None:
    """Check names, cross-references and numbers of a parsed ``params.yaml``."""
    study = _require(params, "study")
    datasets = _require(params, "datasets")
    learners = _require(params, "learners")
    strategies = _require(params, "strategies")
    prepare = _require(params, "prepare")
    _check_names("datasets", "dataset", study.get("datasets"), datasets)
    _check_names("learners", "learner", study.get("learners"), learners)
    _check_names("strategies", "strategy", study.get("strategies"), strategies)
    for name in study["datasets"]:
        if name not in prepare:
            raise UserError(f"params.yaml: prepare.{name} is missing; add its feature settings")
    for name, spec in learners.items():
        if spec.get("estimator") not in ESTIMATORS:
            valid = ", ".join(sorted(ESTIMATORS))
            raise UserError(f"params.yaml: learners.{name}.estimator '{spec.get('estimator')}' unknown; valid: {valid}")
        if spec.get("update") not in UPDATE_MODES:
            raise UserError(f"params.yaml: learners.{name}.update must be one of {', '.join(UPDATE_MODES)}")
    for name, spec in strategies.items():
        if spec.get("method") not in STRATEGY_METHODS:
            valid = ", ".join(sorted(STRATEGY_METHODS))
            raise UserError(f"params.yaml: strategies.{name}.method '{spec.get('method')}' unknown; valid: {valid}")
    for name, spec in learners.items():
        Learner.from_params(name, spec)  # checks epochs and partial_fit support
    for name, spec in strategies.items():
        Strategy.from_params(name, spec, random_state=0)  # checks options
    al = _require(params, "al")
    for key in ("initial_labels", "batch_size", "budget", "seeds"):
        _positive_int("al", key, al.get(key))
    if al["budget"] < al["initial_labels"]:
        raise UserError("params.yaml: al.budget must be at least al.initial_labels")
    evaluation = _require(params, "evaluation")
    if evaluation.get("primary_metric") not in METRIC_NAMES:
        raise UserError(f"params.yaml: evaluation.primary_metric must be one of {', '.join(METRIC_NAMES)}")
    fractions = evaluation.get("target_fractions")
    if (
        not isinstance(fractions, list)
        or not fractions
        or any(isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1 for f in fractions)
    ):
        raise UserError("params.yaml: evaluation.target_fractions must be a non-empty list of numbers in (0, 1]")
    threshold = evaluation.get("drop_threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold < 1:
        raise UserError("params.yaml: evaluation.drop_threshold must be a number in [0, 1)")
