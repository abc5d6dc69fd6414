"""The study as the report reads it: one typed, read-only description built once from ``params.yaml``, passed to
every table, figure and sentence instead of the raw settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from medal.design import learners_for, seeds_for, strategies_for, sweep_values
from medal.experiment.learners import Learner
from medal.experiment.selection import in_use

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


@dataclass(frozen=True)
class Study:
    """What was run and how it is judged: the datasets, the strategies (those the tables show, with the ones
    ``merged`` into each because they queried the very same images), the learners, seeds, protocol, evaluation
    settings, sweeps, model selection and candidate-cap check."""

    datasets: tuple[str, ...]
    strategies: tuple[str, ...]
    main_learner: str
    learners: tuple[str, ...]
    learner_strategies: tuple[str, ...]
    seeds: int
    main_seeds: int
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
    merged: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Study:
        """The description of a checked ``params.yaml``."""
        study = params["study"]
        return cls(
            datasets=tuple(study["datasets"]),
            strategies=tuple(study["strategies"]),
            main_learner=study["main_learner"],
            learners=tuple(study["learners"]),
            learner_strategies=tuple(study["learner_strategies"]),
            seeds=params["al"]["seeds"],
            main_seeds=seeds_for(params, study["main_learner"]),
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
            settings_in_use=frozen({d: in_use(params, d) for d in params["select"]["datasets"]}),
            sweep_values=frozen({s: sweep_values(params, s) for s in params["sweeps"]["settings"]}),
        )

    def shown(self, merged: dict[str, list[str]]) -> Study:
        """The study as the main learner's tables show it: without the strategies ``merged`` into another (they
        queried the very images it did on every dataset), which are named beside the one kept."""
        hidden = {s for members in merged.values() for s in members}
        return replace(self, strategies=tuple(s for s in self.strategies if s not in hidden), merged=frozen(merged))

    def whole_pool_groups(self) -> list[list[str]]:
        """The learners grouped by the model they train on the whole pool: learners that differ only in how they
        update (refit or warm start) train the same model there, one fit from scratch."""
        groups: dict[str, list[str]] = {}
        for name in self.learners:
            key = Learner.from_params(name, plain(self.learner_specs[name])).whole_pool_fit()
            groups.setdefault(key, []).append(name)
        return list(groups.values())

    def seeds_for(self, learner: str) -> int:
        """Seeds of a learner's runs in the main experiments (``study.main_seeds`` for the main learner)."""
        return self.main_seeds if learner == self.main_learner else self.seeds

    def learners_for(self, strategy: str) -> list[str]:
        """The learners a strategy runs with."""
        return learners_for(self._design(), strategy)

    def strategies_for(self, learner: str) -> list[str]:
        """The strategies run with ``learner``, in study order."""
        return strategies_for(self._design(), learner)

    def _design(self) -> dict[str, Any]:
        return {
            "strategies": self.strategies,
            "learners": self.learners,
            "learner_strategies": self.learner_strategies,
            "main_learner": self.main_learner,
        }
