"""Read ``params.yaml`` and check it against the declared constraints of each section (:mod:`medal.constraints`);
the entries of the datasets, prepare, learners and strategies sections are checked by the code that builds them."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from medal.analysis.metrics import METRIC_NAMES
from medal.constraints import (
    POSITIVE_INT,
    SEED,
    SHARE,
    AnyOf,
    Constraint,
    Interval,
    Keys,
    ListOf,
    MappingOf,
    NameOf,
    Options,
    Predicate,
    Rule,
    check,
)
from medal.data.prepare import build_transform
from medal.data.sources import DATASET_KEYS, check_spec
from medal.design import BASELINE, learner_datasets
from medal.errors import UserError
from medal.experiment.executor import N_JOBS_ENV
from medal.experiment.learners import CLASS_WEIGHTS, ESTIMATORS, UPDATE_MODES, Learner, check_estimator_params
from medal.experiment.selection import grid_points
from medal.experiment.strategies import Strategy
from medal.study import spec_for_dataset
from medal.values import check_values

DEFAULT_PARAMS = Path("params.yaml")
# Names become folder and file names: letters, digits, '_', '-' and '.', not starting with '.'.
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _is_n_jobs(value: Any) -> bool:
    """Whether ``value`` is a number of processes: a positive integer, or -1 for all cores."""
    return isinstance(value, int) and not isinstance(value, bool) and (value >= 1 or value == -1)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _other_cap(params: dict[str, Any]) -> bool:
    """Whether the candidate cap's check runs under a lower cap than the study's, or none (whether lifting the study's
    cap changes anything depends on the pool: the capped stage checks that)."""
    study_cap, checked = params["al"].get("max_candidates"), params["cap_check"]["max_candidates"]
    return study_cap is None or checked is None or checked < study_cap


def _main_seeds(params: dict[str, Any], dataset: str) -> int:
    study = params["study"]
    return study["main_seeds_by_dataset"].get(dataset, study["main_seeds"])


def _datasets_reusing_main_runs(params: dict[str, Any]) -> list[str]:
    """The datasets whose main-learner runs of seeds ``0 .. al.seeds - 1`` other experiments read: the learner
    comparison's, the sweeps' and the candidate cap's check's."""
    study = params["study"]
    named = [*learner_datasets(study), *params["sweeps"]["datasets"]]
    return [*dict.fromkeys([*named, params["cap_check"]["dataset"]])]


FRACTION = Interval(float, 0, 1, "left")  # a share of labels or of a score that may be 0 but not all
UNIT = Interval(float, 0, 1, "both")
ENTRY = Predicate(lambda value: isinstance(value, dict), "a mapping of settings")
SECTIONS: dict[str, Constraint] = {
    "datasets": MappingOf(ENTRY, "a mapping of names to settings"),
    "prepare": MappingOf(ENTRY, "a mapping of names to settings"),
    "learners": MappingOf(ENTRY, "a mapping of names to settings"),
    "strategies": MappingOf(ENTRY, "a mapping of names to settings"),
    "study": Keys(
        {
            "datasets": ListOf(NameOf("datasets", "dataset")),
            "strategies": ListOf(NameOf("strategies", "strategy")),
            "learners": ListOf(NameOf("learners", "learner")),
            "main_learner": NameOf("study.learners", "learner"),
            "learner_strategies": ListOf(NameOf("study.strategies", "strategy")),
            "main_seeds": POSITIVE_INT,
            "main_seeds_by_dataset": Predicate(
                lambda value: isinstance(value, dict) and all(_is_count(v) for v in value.values()),
                "a mapping of dataset names to numbers of seeds ({} for none)",
            ),
            # null: every dataset of the study.
            "learner_datasets": AnyOf((ListOf(NameOf("study.datasets", "dataset")), Options([None]))),
        },
        rules=(
            Rule(
                "study.main_seeds_by_dataset",
                lambda p: set(p["study"]["main_seeds_by_dataset"]) <= set(p["study"]["datasets"]),
                "names a dataset that is not in study.datasets; remove it or add the dataset to study.datasets",
            ),
            Rule(
                "study.strategies",
                lambda p: BASELINE in p["study"]["strategies"],
                f"must include {BASELINE}, the baseline every strategy is compared with",
            ),
        ),
    ),
    "al": Keys(
        {key: POSITIVE_INT for key in ("initial_labels", "batch_size", "budget", "seeds")},
        optional={
            "label_noise": FRACTION,
            "max_candidates": AnyOf((POSITIVE_INT, Options([None]))),
            "scale_with_classes": Predicate(lambda value: isinstance(value, bool), "true or false"),
        },
        rules=(
            Rule(
                "al.budget",
                lambda p: p["al"]["budget"] >= p["al"]["initial_labels"],
                "must be at least al.initial_labels",
            ),
        ),
    ),
    "evaluation": Keys(
        {
            "primary_metric": Options(METRIC_NAMES),
            "random_budget_fractions": ListOf(Interval(float, 0, 1, "right")),
            "target_fractions": ListOf(Interval(float, 0, 1, "right")),
            "drop_threshold": FRACTION,
            "minimal_important_difference": Keys(
                {"aulc": SHARE, "labels_saved_percent": Interval(float, 0, 100, "right")}
            ),
            "test_bootstrap": Keys({"resamples": POSITIVE_INT, "random_state": SEED}),
            "max_test_images": AnyOf((POSITIVE_INT, Options([None]))),
            "across_datasets": Keys(
                {
                    "probability": SHARE,
                    "samples": POSITIVE_INT,
                    "prior_strength": Interval(float, 0, None, "neither"),
                    "random_state": SEED,
                }
            ),
            "stopping": Keys(
                {
                    "stabilizing_predictions": Keys({"kappa": UNIT, "window": POSITIVE_INT}),
                    "expected_error": Keys({"threshold": FRACTION}),
                }
            ),
            "stopping_thresholds": Keys({"stabilizing_predictions": ListOf(UNIT), "expected_error": ListOf(UNIT)}),
        },
    ),
    "sweeps": Keys(
        {
            "datasets": ListOf(NameOf("study.datasets", "dataset"), min_items=0),
            "learner": NameOf("learners", "learner"),
            "strategies": ListOf(NameOf("strategies", "strategy")),
            "settings": Keys(
                {
                    "batch_size": ListOf(POSITIVE_INT),
                    "initial_labels": ListOf(POSITIVE_INT),
                    "label_noise": ListOf(FRACTION),
                    "representation": MappingOf(ENTRY, "a mapping of names to feature settings like prepare's"),
                    "class_weight": ListOf(Options(CLASS_WEIGHTS)),
                }
            ),
            "reference_seeds": POSITIVE_INT,
        },
        rules=(
            Rule(
                "sweeps.settings.initial_labels",
                lambda p: max(p["sweeps"]["settings"]["initial_labels"]) <= p["al"]["budget"],
                "values must not exceed al.budget ({al[budget]})",
            ),
        ),
    ),
    "select": Keys(
        {
            "datasets": ListOf(NameOf("study.datasets", "dataset"), min_items=0),
            "learner": NameOf("learners", "learner"),
            "folds": Interval(int, 2, None),
            "random_state": SEED,
            "max_pool": AnyOf((Interval(int, 2, None), Options([None]))),
            "grid": Keys(
                {},
                optional={
                    part: MappingOf(ListOf(Predicate(lambda _: True, "any value")), "a mapping of keys to [values]")
                    for part in ("features", "learner")
                },
            ),
        }
    ),
    "cap_check": Keys(
        {"dataset": NameOf("study.datasets", "dataset"), "max_candidates": AnyOf((POSITIVE_INT, Options([None])))},
        rules=(
            Rule(
                "cap_check.max_candidates",
                _other_cap,
                "must be below al.max_candidates ({al[max_candidates]}), the cap it checks, or null (no cap)",
            ),
            Rule(
                "study.main_seeds",
                lambda p: all(_main_seeds(p, d) >= p["al"]["seeds"] for d in _datasets_reusing_main_runs(p)),
                "(and study.main_seeds_by_dataset) must be at least al.seeds on the learner comparison's, the "
                "sweeps' and the cap check's datasets, which reuse those runs",
            ),
        ),
    ),
    "compute": Keys(
        {},
        optional={
            "n_jobs": Predicate(_is_n_jobs, "a positive integer or -1 (all cores)"),
            "dask_scheduler": Predicate(
                lambda value: value is None or (isinstance(value, str) and "://" in value),
                "null or an address like tcp://host:8786",
            ),
        },
    ),
    "data": Keys({"mirror_dirs": ListOf(Predicate(lambda value: isinstance(value, str), "a folder"), 0)}),
    "paper": Keys({"renderer": Options(("auto", "quarto", "pandoc"))}),
}
REQUIRED_SECTIONS = (
    "study",
    "datasets",
    "prepare",
    "learners",
    "strategies",
    "al",
    "evaluation",
    "sweeps",
    "select",
    "cap_check",
    "data",
    "paper",
)
ENTRY_KEYS: dict[str, tuple[str, ...]] = {
    "datasets": DATASET_KEYS,
    "learners": ("estimator", "update", "params", "params_by_dataset", "epochs", "class_weight"),
}


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


def _check_entries(params: dict[str, Any]) -> None:
    """The sections of named entries: each name safe as a file name, each entry a mapping of known keys, checked by
    the code that builds it (data source, feature transform, learner, strategy)."""
    for section in ("datasets", "prepare", "learners", "strategies"):
        for name, entry in params[section].items():
            if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
                raise UserError(f"params.yaml: {section} name {name!r} must use only letters, digits, '_', '-' and '.'")
            valid = ENTRY_KEYS.get(section)
            for key in entry if valid else ():
                if key not in valid:
                    raise UserError(
                        f"params.yaml: unknown key '{section}.{name}.{key}'; valid: {', '.join(sorted(valid))}"
                    )
    study, datasets = params["study"], params["datasets"]
    for name, spec in datasets.items():
        for key in ("copy_notes", "refused_md5"):
            value = spec.get(key)
            if value is not None and (
                not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values())
            ):
                raise UserError(f"params.yaml: datasets.{name}.{key} must map a name or md5 to a sentence")
        check_spec(name, spec, in_study=name in study["datasets"])
    for name in study["datasets"]:
        if name not in params["prepare"]:
            raise UserError(f"params.yaml: prepare.{name} is missing; add its feature settings")
    for name, spec in params["prepare"].items():
        _check_features(spec, f"prepare.{name}", images=_holds_images(params["datasets"], name))
    for name, spec in params["learners"].items():
        if spec.get("estimator") not in ESTIMATORS:
            valid = ", ".join(sorted(ESTIMATORS))
            raise UserError(f"params.yaml: learners.{name}.estimator '{spec.get('estimator')}' unknown; valid: {valid}")
        if spec.get("update") not in UPDATE_MODES:
            raise UserError(f"params.yaml: learners.{name}.update must be one of {', '.join(UPDATE_MODES)}")
        Learner.from_params(name, spec)  # checks epochs and partial_fit support
        check_estimator_params(name, spec)
        _check_params_by_dataset(name, spec, params["datasets"])
    for name, spec in params["strategies"].items():
        Strategy.from_params(name, spec, random_state=0)  # checks the method or class and its options


def _check_params_by_dataset(name: str, spec: dict[str, Any], datasets: dict[str, Any]) -> None:
    """``learners.<name>.params_by_dataset``: known datasets, each with parameters the estimator accepts."""
    by_dataset = spec.get("params_by_dataset")
    if by_dataset is None:
        return
    where = f"learners.{name}.params_by_dataset"
    if not isinstance(by_dataset, dict) or not all(isinstance(v, dict) for v in by_dataset.values()):
        raise UserError(f"params.yaml: {where} must map dataset names to parameters, e.g. {{breastmnist: {{C: 0.1}}}}")
    for dataset in by_dataset:
        if dataset not in datasets:
            raise UserError(f"params.yaml: {where} names '{dataset}', which is not in datasets; remove or rename it")
        check_estimator_params(name, spec_for_dataset(spec, dataset), where=f"{where}.{dataset}")


def _holds_images(datasets: dict[str, Any], name: str) -> bool:
    return datasets.get(name, {}).get("source") != "sklearn_breast_cancer"


def _check_features(spec: dict[str, Any], where: str, images: bool) -> None:
    """The kind, keys and parameter values of one feature setting; sizes against the data are checked when
    the features are computed."""
    build_transform(spec, shape=(10**3, 10**3) if images else (10**6,), n_pool=10**6, where=where)


def _check_feature_settings(params: dict[str, Any]) -> None:
    """The swept representations and every point of the selection grid are feature settings ``prepare`` accepts,
    on image datasets, and each grid point's learner parameters are the estimator's."""
    for name, spec in params["sweeps"]["settings"]["representation"].items():
        _check_features(spec, f"sweeps.settings.representation.{name}", images=True)
    select = params["select"]
    for name in select["datasets"]:
        if not _holds_images(params["datasets"], name):
            raise UserError(f"params.yaml: select.datasets: '{name}' holds no images; list image datasets there")
    learner, spec = select["learner"], params["learners"][select["learner"]]
    for point in grid_points(select["grid"]):
        for name in select["datasets"]:
            _check_features({**params["prepare"][name], **point["features"]}, f"select.grid (for {name})", images=True)
        check_estimator_params(learner, {**spec, "params": {**(spec.get("params") or {}), **point["learner"]}})


def validate(params: dict[str, Any]) -> None:
    """Check a parsed ``params.yaml``: the sections this version knows, the values YAML may have misread, each
    section against its declaration (in the order a user edits them most), then the named entries and feature
    settings with the code that builds them."""
    valid = tuple(SECTIONS)
    for key in params:
        if key not in SECTIONS:
            raise UserError(f"params.yaml: unknown key '{key}'; valid: {', '.join(sorted(valid))}")
    check_values(params)
    for key in REQUIRED_SECTIONS:
        if key not in params:
            raise UserError(f"params.yaml: missing section '{key}'; see the README for the full layout")
    first = ("datasets", "prepare", "learners", "strategies", "study")
    check(params, {key: SECTIONS[key] for key in first})
    _check_entries(params)
    check(params, {key: value for key, value in SECTIONS.items() if key not in first})
    _check_feature_settings(params)
