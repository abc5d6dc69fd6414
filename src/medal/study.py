"""The study: one typed, read-only description built once from a checked ``params.yaml`` and passed to every stage
(the runs, the aggregate, each table, figure and sentence) instead of the raw settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from medal.design import learner_datasets, learners_for, strategies_for

# The params.yaml sections that decide the results, in the order the settings table lists them (data sources are in
# the datasets table; compute, data and paper change where and how, not what).
RESULT_SECTIONS = ("study", "al", "sweeps", "cap_check", "select", "prepare", "evaluation", "learners", "strategies")


def frozen(value: Any) -> Any:
    """A read-only copy: mappings become read-only views, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: frozen(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(frozen(item) for item in value)
    return value


def plain(value: Any) -> Any:
    """A mutable copy of a :func:`frozen` value, comparable with what JSON or YAML reads."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    return value


def spec_for_dataset(spec: Mapping[str, Any], dataset: str | None) -> dict[str, Any]:
    """One ``learners`` entry as a learner on ``dataset`` runs it (a mutable copy): its ``params`` with the
    dataset's values of ``params_by_dataset`` in their place (without a dataset, or for a dataset it does not name:
    ``params`` alone)."""
    spec = plain(spec)
    by_dataset = spec.pop("params_by_dataset", None) or {}
    if dataset in by_dataset:
        spec["params"] = {**(spec.get("params") or {}), **by_dataset[dataset]}
    return spec


def in_use(
    select: Mapping[str, Any], learners: Mapping[str, Any], features: Mapping[str, Any], dataset: str | None = None
) -> dict[str, dict[str, Any]]:
    """The values params.yaml holds for the keys the grid of ``select`` varies: in the selected learner's entry of
    ``learners`` as it runs on ``dataset`` and in that dataset's feature settings ``features``."""
    learner_params = spec_for_dataset(learners[select["learner"]], dataset).get("params") or {}
    return {
        "features": {key: features.get(key) for key in select["grid"].get("features", {})},
        "learner": {key: learner_params.get(key) for key in select["grid"].get("learner", {})},
    }


@dataclass(frozen=True)
class Study:
    """What was run and how it is judged: the datasets, the strategies (those the tables show, with the ones
    ``merged`` into each because they queried the very same images), the learners and the datasets they are
    compared on, seeds, protocol, evaluation settings, sweeps, model selection and candidate-cap check."""

    datasets: tuple[str, ...]
    strategies: tuple[str, ...]
    main_learner: str
    learners: tuple[str, ...]
    learner_strategies: tuple[str, ...]
    learner_datasets: tuple[str, ...]
    seeds: int
    main_seeds: int
    main_seeds_by_dataset: Mapping[str, int]
    primary_metric: str
    protocol: Mapping[str, Any]
    evaluation: Mapping[str, Any]
    sweeps: Mapping[str, Any]
    selection: Mapping[str, Any]
    cap_check: Mapping[str, Any]
    strategy_specs: Mapping[str, Mapping[str, Any]]
    learner_specs: Mapping[str, Mapping[str, Any]]
    feature_specs: Mapping[str, Mapping[str, Any]]
    # The sections of RESULT_SECTIONS as params.yaml holds them, for the table of every setting.
    settings: Mapping[str, Any]
    # Per selected dataset, the values params.yaml holds for the keys the selection grid varies.
    settings_in_use: Mapping[str, Mapping[str, Any]]
    sweep_values: Mapping[str, tuple[Any, ...]]
    # Where the data comes from and where the runs go (these change no result).
    sources: Mapping[str, Mapping[str, Any]]
    mirror_dirs: tuple[str, ...]
    n_jobs: int
    dask_scheduler: str | None
    renderer: str
    merged: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Study:
        """The description of a checked ``params.yaml``."""
        study, al = params["study"], params["al"]
        compute = params.get("compute") or {}
        sweep_settings = params["sweeps"]["settings"]
        return cls(
            datasets=tuple(study["datasets"]),
            strategies=tuple(study["strategies"]),
            main_learner=study["main_learner"],
            learners=tuple(study["learners"]),
            learner_strategies=tuple(study["learner_strategies"]),
            learner_datasets=tuple(learner_datasets(study)),
            seeds=al["seeds"],
            main_seeds=study["main_seeds"],
            main_seeds_by_dataset=frozen(dict(study.get("main_seeds_by_dataset") or {})),
            primary_metric=params["evaluation"]["primary_metric"],
            protocol=frozen(params["al"]),
            evaluation=frozen(params["evaluation"]),
            sweeps=frozen(params["sweeps"]),
            selection=frozen(params["select"]),
            cap_check=frozen(params["cap_check"]),
            strategy_specs=frozen(params["strategies"]),
            learner_specs=frozen(params["learners"]),
            feature_specs=frozen(params["prepare"]),
            settings=frozen({section: params[section] for section in RESULT_SECTIONS}),
            settings_in_use=frozen(
                {
                    d: in_use(params["select"], params["learners"], params["prepare"][d], d)
                    for d in params["select"]["datasets"]
                }
            ),
            # Representation sweeps try named feature settings: their values are the names.
            sweep_values=frozen({s: list(values) for s, values in sweep_settings.items()}),
            sources=frozen(params["datasets"]),
            mirror_dirs=tuple(params["data"]["mirror_dirs"]),
            n_jobs=compute.get("n_jobs", 1),
            dask_scheduler=compute.get("dask_scheduler"),
            renderer=params["paper"]["renderer"],
        )

    def shown(self, merged: dict[str, list[str]]) -> Study:
        """The study as the main learner's tables show it: without the strategies ``merged`` into another (they
        queried the very images it did on every dataset), which are named beside the one kept."""
        hidden = {s for members in merged.values() for s in members}
        return replace(self, strategies=tuple(s for s in self.strategies if s not in hidden), merged=frozen(merged))

    def seeds_for(self, learner: str, dataset: str) -> int:
        """Seeds of a learner's runs on ``dataset`` in the main experiments (the main learner's: ``study.main_seeds``,
        or ``study.main_seeds_by_dataset``'s value for the dataset)."""
        if learner != self.main_learner:
            return self.seeds
        return self.main_seeds_by_dataset.get(dataset, self.main_seeds)

    @property
    def max_test_images(self) -> int | None:
        """The most test images a dataset is scored on (``evaluation.max_test_images``; None: all)."""
        return self.evaluation.get("max_test_images")

    def main_seed_counts(self) -> dict[str, int]:
        """The main learner's seeds on each dataset, in study order."""
        return {dataset: self.seeds_for(self.main_learner, dataset) for dataset in self.datasets}

    def learners_on(self, dataset: str) -> tuple[str, ...]:
        """The learners run on ``dataset``: the main one on a dataset of the study left out of the learner comparison
        (``study.learner_datasets``), else every learner."""
        if dataset in self.datasets and dataset not in self.learner_datasets:
            return (self.main_learner,)
        return self.learners

    def learners_for(self, strategy: str, dataset: str) -> list[str]:
        """The learners a strategy runs with on ``dataset``."""
        return [learner for learner in learners_for(self._design(), strategy) if learner in self.learners_on(dataset)]

    def strategies_for(self, learner: str) -> list[str]:
        """The strategies run with ``learner`` (on the datasets it runs on), in study order."""
        return strategies_for(self._design(), learner)

    def learner_spec(self, name: str, dataset: str | None = None) -> dict[str, Any]:
        """``learners.<name>`` as the learner runs on ``dataset`` (:func:`spec_for_dataset`; a mutable copy)."""
        return spec_for_dataset(self.learner_specs[name], dataset)

    def strategy_spec(self, name: str) -> dict[str, Any]:
        """``strategies.<name>`` as params.yaml holds it (a mutable copy)."""
        return plain(self.strategy_specs[name])

    def feature_spec(self, dataset: str) -> dict[str, Any]:
        """``prepare.<dataset>`` as params.yaml holds it (a mutable copy)."""
        return plain(self.feature_specs[dataset])

    def _design(self) -> dict[str, Any]:
        return {
            "strategies": self.strategies,
            "learners": self.learners,
            "learner_strategies": self.learner_strategies,
            "main_learner": self.main_learner,
        }
