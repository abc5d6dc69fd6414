"""Read ``params.yaml`` and check the settings every stage relies on."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from medal.analysis.metrics import METRIC_NAMES
from medal.data.prepare import build_transform
from medal.data.sources import DATASET_KEYS, check_spec
from medal.design import BASELINE, SWEEP_SETTINGS, seeds_for
from medal.errors import UserError
from medal.experiment.executor import N_JOBS_ENV
from medal.experiment.learners import CLASS_WEIGHTS, ESTIMATORS, UPDATE_MODES, Learner, check_estimator_params
from medal.experiment.selection import grid_points
from medal.experiment.strategies import Strategy
from medal.values import check_values

STOPPING_CRITERIA = {"stabilizing_predictions": ("kappa", "window"), "expected_error": ("threshold",)}

DEFAULT_PARAMS = Path("params.yaml")

# The keys each section may hold; anything else is a typo or a setting this version does not know.
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "study": ("datasets", "strategies", "main_learner", "main_seeds", "learners", "learner_strategies"),
    "sweeps": ("datasets", "learner", "strategies", "settings", "reference_seeds"),
    "select": ("datasets", "learner", "folds", "random_state", "grid"),
    "cap_check": ("dataset", "max_candidates"),
    "compute": ("n_jobs", "dask_scheduler"),
    "data": ("mirror_dirs",),
    "datasets": (),
    "prepare": (),
    "learners": (),
    "strategies": (),
    "al": ("initial_labels", "batch_size", "budget", "seeds", "label_noise", "max_candidates"),
    "evaluation": (
        "primary_metric",
        "random_budget_fractions",
        "target_fractions",
        "drop_threshold",
        "minimal_important_difference",
        "test_bootstrap",
        "across_datasets",
        "stopping",
        "stopping_thresholds",
    ),
    "paper": ("renderer",),
}
MID_KEYS = ("aulc", "labels_saved_percent")
ACROSS_KEYS = ("probability", "samples", "prior_strength", "random_state")
ENTRY_KEYS: dict[str, tuple[str, ...]] = {
    "datasets": DATASET_KEYS,
    "learners": ("estimator", "update", "params", "epochs", "class_weight"),
}
# Names become folder and file names: letters, digits, '_', '-' and '.', not starting with '.'.
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """Load ``params.yaml`` safely and validate it; raise :class:`UserError` on the first problem."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: parameters file not found; run from the project root or pass --params")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise UserError(f"{path}: not valid YAML{where} ({problem}); fix the syntax there") from None
    if not isinstance(params, dict):
        raise UserError(f"{path}: expected a mapping of sections at the top level")
    jobs = os.environ.get(N_JOBS_ENV)
    if jobs and isinstance(params.get("compute", {}), dict):
        params["compute"] = {**params.get("compute", {}), "n_jobs": _n_jobs_from_environment(jobs)}
    validate(params)
    return params


def _n_jobs_from_environment(value: str) -> int:
    n_jobs = int(value) if re.fullmatch(r"\s*[+-]?\d+\s*", value) else 0
    if not _is_n_jobs(n_jobs):
        raise UserError(f"{N_JOBS_ENV} must be a positive integer or -1 (all cores), got {value!r}; fix or unset it")
    return n_jobs


def _is_n_jobs(value: Any) -> bool:
    """Whether ``value`` is a number of processes: a positive integer, or -1 for all cores."""
    return isinstance(value, int) and not isinstance(value, bool) and (value >= 1 or value == -1)


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


def _fraction(where: str, value: Any, upper_inclusive: bool = False) -> float:
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    if not (number and (0 <= value <= 1 if upper_inclusive else 0 <= value < 1)):
        interval = f"[0, 1{']' if upper_inclusive else ')'}"
        raise UserError(f"params.yaml: {where} must be a number in {interval}, got {value!r}")
    return value


def _in_unit(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 < value <= 1


def _check_design(study: dict[str, Any]) -> None:
    """The main learner runs every strategy; the learner-comparison strategies run with every learner."""
    if study.get("main_learner") not in study["learners"]:
        raise UserError(f"params.yaml: study.main_learner '{study.get('main_learner')}' must be one of study.learners")
    if "main_seeds" in study:
        _positive_int("study", "main_seeds", study["main_seeds"])
    chosen = study.get("learner_strategies")
    if not isinstance(chosen, list) or not chosen or any(name not in study["strategies"] for name in chosen):
        raise UserError("params.yaml: study.learner_strategies must be a non-empty list of names from study.strategies")
    if BASELINE not in study["strategies"]:
        raise UserError(
            f"params.yaml: study.strategies must include {BASELINE}, the baseline every strategy is compared with"
        )


def _check_sweeps(params: dict[str, Any]) -> None:
    """Sweeps run on prepared study datasets with a defined learner and strategies; every value must be usable."""
    sweeps = _require(params, "sweeps")
    for name in sweeps.get("datasets") or []:
        if name not in params["study"]["datasets"]:
            raise UserError(
                f"params.yaml: sweeps.datasets: '{name}' is not in study.datasets; add it there or remove it"
            )
    if sweeps.get("learner") not in params["learners"]:
        raise UserError(
            f"params.yaml: sweeps.learner '{sweeps.get('learner')}' unknown; valid: "
            f"{', '.join(sorted(params['learners']))}"
        )
    strategies = sweeps.get("strategies")
    if (
        not isinstance(strategies, list)
        or not strategies
        or any(name not in params["strategies"] for name in strategies)
    ):
        raise UserError("params.yaml: sweeps.strategies must be a non-empty list of names from the strategies section")
    settings = sweeps.get("settings") or {}
    if set(settings) != set(SWEEP_SETTINGS):
        raise UserError(
            f"params.yaml: sweeps.settings must set exactly {', '.join(SWEEP_SETTINGS)} (a list of values each)"
        )
    for key in ("batch_size", "initial_labels", "label_noise", "class_weight"):
        if not isinstance(settings[key], list) or not settings[key]:
            raise UserError(f"params.yaml: sweeps.settings.{key} must be a non-empty list")
    for value in settings["batch_size"]:
        _positive_int("sweeps.settings", "batch_size", value)
    for value in settings["initial_labels"]:
        if _positive_int("sweeps.settings", "initial_labels", value) > params["al"]["budget"]:
            raise UserError(f"params.yaml: sweeps.settings.initial_labels {value} exceeds al.budget")
    for value in settings["label_noise"]:
        _fraction("sweeps.settings.label_noise values", value)
    if not set(settings["class_weight"]) <= set(CLASS_WEIGHTS):
        raise UserError(f"params.yaml: sweeps.settings.class_weight must be a list of {', '.join(CLASS_WEIGHTS)}")
    representations = settings["representation"]
    if not isinstance(representations, dict) or not representations:
        raise UserError("params.yaml: sweeps.settings.representation must map names to feature settings like prepare's")
    for name, spec in representations.items():
        _check_features(spec, f"sweeps.settings.representation.{name}", images=True)
    if "reference_seeds" in sweeps:
        _positive_int("sweeps", "reference_seeds", sweeps["reference_seeds"])


def _check_cap_check(params: dict[str, Any]) -> None:
    """The candidate cap's check: a dataset of the study, a cap below the study's, and the main experiment's seeds to
    compare with (whether the cap bites on the dataset's pool is checked where the pool is read)."""
    check = _require(params, "cap_check")
    if check.get("dataset") not in params["study"]["datasets"]:
        raise UserError(
            f"params.yaml: cap_check.dataset '{check.get('dataset')}' is not in study.datasets; its capped runs are "
            "compared with the main experiment's runs there"
        )
    cap = _positive_int("cap_check", "max_candidates", check.get("max_candidates"))
    study_cap = params["al"].get("max_candidates")
    if study_cap is not None and cap >= study_cap:
        raise UserError(
            f"params.yaml: cap_check.max_candidates {cap} must be below al.max_candidates {study_cap}, the cap it "
            "checks"
        )
    if seeds_for(params, params["study"]["main_learner"]) < params["al"]["seeds"]:
        raise UserError("params.yaml: study.main_seeds must be at least al.seeds, the seeds of the cap's check")


def _check_select(params: dict[str, Any]) -> None:
    """Model selection runs on study image datasets, with a known learner, and every grid point is valid."""
    select = _require(params, "select")
    datasets = select.get("datasets")
    if not isinstance(datasets, list) or any(d not in params["study"]["datasets"] for d in datasets):
        raise UserError(
            "params.yaml: select.datasets must be a list of names from study.datasets (empty: no selection)"
        )
    for name in datasets:
        if params["datasets"][name].get("source") == "sklearn_breast_cancer":
            raise UserError(f"params.yaml: select.datasets: '{name}' holds no images; list image datasets there")
    learner = select.get("learner")
    if learner not in params["learners"]:
        raise UserError(
            f"params.yaml: select.learner '{learner}' unknown; valid: {', '.join(sorted(params['learners']))}"
        )
    if _positive_int("select", "folds", select.get("folds")) < 2:
        raise UserError("params.yaml: select.folds must be at least 2")
    grid = select.get("grid")
    if (
        not isinstance(grid, dict)
        or not set(grid) <= {"features", "learner"}
        or not all(
            isinstance(values, dict) and all(isinstance(v, list) and v for v in values.values())
            for values in grid.values()
        )
    ):
        raise UserError("params.yaml: select.grid must map features and learner to {key: [values]}")
    spec = params["learners"][learner]
    for point in grid_points(grid):
        for name in datasets:
            _check_features({**params["prepare"][name], **point["features"]}, f"select.grid (for {name})", images=True)
        check_estimator_params(learner, {**spec, "params": {**(spec.get("params") or {}), **point["learner"]}})


def _check_features(spec: dict[str, Any], where: str, images: bool) -> None:
    """The kind, keys and parameter values of one feature setting; sizes against the data are checked when
    the features are computed."""
    build_transform(spec, shape=(10**3, 10**3) if images else (10**6,), n_pool=10**6, where=where)


def _exactly(where: str, value: Any, keys: Any) -> dict[str, Any]:
    """``value``, a mapping with exactly ``keys``; else a one-line error naming them."""
    if not isinstance(value, dict) or set(value) != set(keys):
        raise UserError(f"params.yaml: {where} must set exactly {', '.join(keys)}")
    return value


def _check_stopping(evaluation: dict[str, Any]) -> None:
    stopping = _exactly("evaluation.stopping", evaluation.get("stopping"), STOPPING_CRITERIA)
    for name, keys in STOPPING_CRITERIA.items():
        _exactly(f"evaluation.stopping.{name}", stopping[name], keys)
    _fraction("evaluation.stopping.stabilizing_predictions.kappa", stopping["stabilizing_predictions"]["kappa"], True)
    _positive_int(
        "evaluation.stopping.stabilizing_predictions", "window", stopping["stabilizing_predictions"]["window"]
    )
    _fraction("evaluation.stopping.expected_error.threshold", stopping["expected_error"]["threshold"])
    sweep = evaluation.get("stopping_thresholds")
    if not isinstance(sweep, dict) or set(sweep) != set(STOPPING_CRITERIA):
        raise UserError(
            f"params.yaml: evaluation.stopping_thresholds must list values for {', '.join(STOPPING_CRITERIA)}"
        )
    for name, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise UserError(f"params.yaml: evaluation.stopping_thresholds.{name} must be a non-empty list")
        for value in values:
            _fraction(f"evaluation.stopping_thresholds.{name} values", value, True)


def _unknown(where: str, keys: Any, valid: tuple[str, ...]) -> None:
    for key in keys:
        if key not in valid:
            raise UserError(f"params.yaml: unknown key '{where}{key}'; valid: {', '.join(sorted(valid))}")


def _check_keys(params: dict[str, Any]) -> None:
    """Every section, entry and key is one this version knows, and every name is safe as a file name."""
    _unknown("", params, tuple(SECTION_KEYS))
    for section, keys in SECTION_KEYS.items():
        value = params.get(section)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise UserError(f"params.yaml: section '{section}' must be a mapping of keys to values")
        if keys:
            _unknown(f"{section}.", value, keys)
            continue
        for name, entry in value.items():
            if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
                raise UserError(f"params.yaml: {section} name {name!r} must use only letters, digits, '_', '-' and '.'")
            if not isinstance(entry, dict):
                raise UserError(f"params.yaml: {section}.{name} must be a mapping of settings")
            if section in ENTRY_KEYS:
                _unknown(f"{section}.{name}.", entry, ENTRY_KEYS[section])


def _check_components(params: dict[str, Any]) -> None:
    """Datasets, learners and strategies: names the study uses exist, and each entry's settings are valid."""
    study, datasets = params["study"], _require(params, "datasets")
    learners, strategies = _require(params, "learners"), _require(params, "strategies")
    prepare = _require(params, "prepare")
    _check_names("datasets", "dataset", study.get("datasets"), datasets)
    for name, spec in datasets.items():
        for key in ("copy_notes", "refused_md5"):
            value = spec.get(key)
            if value is not None and (
                not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values())
            ):
                raise UserError(f"params.yaml: datasets.{name}.{key} must map a name or md5 to a sentence")
        check_spec(name, spec, in_study=name in (study.get("datasets") or []))
    _check_names("learners", "learner", study.get("learners"), learners)
    _check_names("strategies", "strategy", study.get("strategies"), strategies)
    _check_design(study)
    for name in study["datasets"]:
        if name not in prepare:
            raise UserError(f"params.yaml: prepare.{name} is missing; add its feature settings")
    for name, spec in prepare.items():
        _check_features(spec, f"prepare.{name}", images=datasets.get(name, {}).get("source") != "sklearn_breast_cancer")
    for name, spec in learners.items():
        if spec.get("estimator") not in ESTIMATORS:
            valid = ", ".join(sorted(ESTIMATORS))
            raise UserError(f"params.yaml: learners.{name}.estimator '{spec.get('estimator')}' unknown; valid: {valid}")
        if spec.get("update") not in UPDATE_MODES:
            raise UserError(f"params.yaml: learners.{name}.update must be one of {', '.join(UPDATE_MODES)}")
    for name, spec in learners.items():
        Learner.from_params(name, spec)  # checks epochs and partial_fit support
        check_estimator_params(name, spec)
    for name, spec in strategies.items():
        Strategy.from_params(name, spec, random_state=0)  # checks the method or class and its options


def _check_protocol_and_evaluation(params: dict[str, Any]) -> None:
    """The AL protocol's counts, and the evaluation's metric, targets, drop threshold and stopping rules."""
    al = _require(params, "al")
    for key in ("initial_labels", "batch_size", "budget", "seeds"):
        _positive_int("al", key, al.get(key))
    if al["budget"] < al["initial_labels"]:
        raise UserError("params.yaml: al.budget must be at least al.initial_labels")
    cap = al.get("max_candidates")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap <= 0):
        raise UserError(f"params.yaml: al.max_candidates must be a positive integer or null (no cap), got {cap!r}")
    evaluation = _require(params, "evaluation")
    if evaluation.get("primary_metric") not in METRIC_NAMES:
        raise UserError(f"params.yaml: evaluation.primary_metric must be one of {', '.join(METRIC_NAMES)}")
    for key in ("random_budget_fractions", "target_fractions"):
        fractions = evaluation.get(key)
        if not isinstance(fractions, list) or not fractions or not all(_in_unit(f) for f in fractions):
            raise UserError(f"params.yaml: evaluation.{key} must be a non-empty list of numbers in (0, 1]")
    _fraction("evaluation.drop_threshold", evaluation.get("drop_threshold"))
    mid = _exactly("evaluation.minimal_important_difference", evaluation.get("minimal_important_difference"), MID_KEYS)
    if isinstance(mid["aulc"], bool) or not isinstance(mid["aulc"], (int, float)) or not 0 < mid["aulc"] < 1:
        raise UserError(
            f"params.yaml: evaluation.minimal_important_difference.aulc must be in (0, 1), got {mid['aulc']!r}"
        )
    percent = mid["labels_saved_percent"]
    if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 < percent <= 100:
        raise UserError(
            "params.yaml: evaluation.minimal_important_difference.labels_saved_percent must be in (0, 100], "
            f"got {percent!r}"
        )
    # The values of these two are checked by the walk of medal.values (counts, seeds, shares).
    _exactly("evaluation.test_bootstrap", evaluation.get("test_bootstrap"), ("resamples", "random_state"))
    _exactly("evaluation.across_datasets", evaluation.get("across_datasets"), ACROSS_KEYS)
    _check_stopping(evaluation)


def _check_compute(params: dict[str, Any]) -> None:
    """Where runs go: local processes or a Dask scheduler's address."""
    n_jobs = params.get("compute", {}).get("n_jobs", 1)
    if not _is_n_jobs(n_jobs):
        raise UserError(f"params.yaml: compute.n_jobs must be a positive integer or -1 (all cores), got {n_jobs!r}")
    scheduler = params.get("compute", {}).get("dask_scheduler")
    if scheduler is not None and (not isinstance(scheduler, str) or "://" not in scheduler):
        raise UserError(
            f"params.yaml: compute.dask_scheduler must be null or an address like tcp://host:8786, got {scheduler!r}"
        )


def validate(params: dict[str, Any]) -> None:
    """Check keys, names, cross-references and numbers of a parsed ``params.yaml``, in file order of the
    sections a user edits most: the study, its components, the protocol, the sweeps, the compute settings."""
    _check_keys(params)
    check_values(params)
    _require(params, "study")
    _check_components(params)
    _check_protocol_and_evaluation(params)
    _check_sweeps(params)
    _check_select(params)
    _check_cap_check(params)
    _check_compute(params)
