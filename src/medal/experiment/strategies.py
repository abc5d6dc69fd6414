"""Query strategies by name behind one call: ``Strategy.query(X, y, clf, batch_size)``.

A strategy in ``params.yaml`` is a recipe of :data:`STRATEGY_METHODS` (``method: entropy``) or any
scikit-activeml pool strategy by class name with its keyword arguments (``class: FourDs``,
``params: {lmbda: 0.1}``). Every strategy is scikit-activeml's, except ``density_weighted_entropy``,
which the library lacks and :mod:`medal.experiment.own_strategies` implements (information density,
Settles & Craven 2008). Strategies differ in what they need besides the data (declared once: :data:`CLASS_NEEDS`,
else read from the class's query signature by :func:`class_needs`):

- ``data``: only the pool (random, Core-Set, TypiClust, ProbCover);
- ``model``: the learner's fitted classifier (uncertainty sampling, BADGE);
- ``committee``: a bagged committee of the learner's estimator, refitted each query (QBC);
- ``parzen``: a Parzen-window classifier on the same features, the frequency estimates these
  strategies are defined on (McPAL, epistemic uncertainty);
- ``mixture``: a mixture-model classifier on the same features (4DS);
- ``refit``: a classifier it refits itself per candidate (Monte-Carlo expected error reduction);
- ``discriminator``: a labelled-vs-unlabelled classifier (discriminative AL).

``max_candidates`` (an option of every strategy) scores a random subset of the unlabelled pool
per query through scikit-activeml's ``SubSamplingWrapper``, for strategies whose cost grows
faster than the pool; ``subsample_pool: true`` also hides the rest of the unlabelled pool from the
strategy (the wrapper's ``exclude_non_subsample``). The protocol's ``al.max_candidates`` is the same rule
for every strategy alike: while more unlabelled images remain, each query shows the strategy the labelled
ones and a seeded random subset of that many unlabelled ones, and it picks among those.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import skactiveml.pool
from skactiveml.base import SingleAnnotatorPoolQueryStrategy
from skactiveml.classifier import MixtureModelClassifier, ParzenWindowClassifier, SklearnClassifier
from skactiveml.pool import (
    Badge,
    CoreSet,
    DiscriminativeAL,
    EpistemicUncertaintySampling,
    MonteCarloEER,
    ProbabilisticAL,
    ProbCover,
    QueryByCommittee,
    RandomSampling,
    SubSamplingWrapper,
    TypiClust,
    UncertaintySampling,
)
from sklearn.base import clone
from sklearn.ensemble import BaggingClassifier
from sklearn.utils.class_weight import compute_class_weight

from medal.design import candidates_for_refits
from medal.errors import UserError
from medal.experiment.own_strategies import (
    ChainedFitClassifier,
    DensityWeightedEntropy,
    PoolEvaluatedSubSampling,
    ResumedLogisticRegression,
    resumed_from,
)

# Options of every strategy: score only ``max_candidates`` random unlabelled samples per query, and
# with ``subsample_pool`` also show the strategy only those and the labelled ones (for strategies
# that model the whole pool, such as ProbCover or TypiClust, whose cost grows faster than the pool);
# ``unlabelled_per_labelled`` shows it at most that many random unlabelled images per labelled one
# (how Discriminative AL's authors train their discriminator, Gissin & Shalev-Shwartz 2019, in their code).
SUBSAMPLING_OPTIONS = ("max_candidates", "subsample_pool", "unlabelled_per_labelled")
# The query arguments that receive the model a strategy needs, with the flag that says whether to fit it.
MODEL_ARGUMENTS = {"clf": "fit_clf", "estimator": "fit_estimator", "ensemble": "fit_ensemble"}


@dataclass(frozen=True)
class Method:
    """How to build one scikit-activeml strategy and how to call it."""

    factory: type
    kwargs: dict[str, Any]
    needs: str
    options: tuple[str, ...] = ()


# params.yaml `method` -> how to build and call it; `options` are extra keys params.yaml may set.
STRATEGY_METHODS: dict[str, Method] = {
    "random": Method(RandomSampling, {}, "data"),
    "least_confident": Method(UncertaintySampling, {"method": "least_confident"}, "model"),
    "margin_sampling": Method(UncertaintySampling, {"method": "margin_sampling"}, "model"),
    "entropy": Method(UncertaintySampling, {"method": "entropy"}, "model"),
    "density_weighted_entropy": Method(DensityWeightedEntropy, {}, "model", ("beta",)),
    "qbc_vote_entropy": Method(QueryByCommittee, {"method": "vote_entropy"}, "committee", ("n_members",)),
    "qbc_kl_divergence": Method(QueryByCommittee, {"method": "KL_divergence"}, "committee", ("n_members",)),
    "epistemic_uncertainty": Method(EpistemicUncertaintySampling, {}, "parzen", ("gamma",)),
    "probabilistic_al": Method(ProbabilisticAL, {"metric": "rbf"}, "parzen", ("gamma",)),
    "monte_carlo_eer": Method(MonteCarloEER, {}, "refit", ("refits_per_query",)),
    "coreset": Method(CoreSet, {}, "data"),
    "typiclust": Method(TypiClust, {}, "data"),
    "probcover": Method(ProbCover, {}, "data"),
    "badge": Method(Badge, {}, "model"),
    "discriminative_al": Method(DiscriminativeAL, {}, "discriminator"),
}

# scikit-activeml pool strategies named by class (``class: Name`` in params.yaml) whose needs their query
# signature does not tell: the frequency-based ones are defined on a Parzen-window classifier, and the
# error-reduction ones refit the learner per candidate. Every other class's needs follow its signature.
CLASS_NEEDS = {
    "EpistemicUncertaintySampling": "parzen",
    "ProbabilisticAL": "parzen",
    "MonteCarloEER": "refit",
    "ValueOfInformationEER": "refit",
    "FourDs": "mixture",
}
# Classes defined for two classes only, and the datasets they refuse (checked at the first query).
BINARY_ONLY = {"EpistemicUncertaintySampling"}
# Classes of skactiveml.pool that cannot run in this study's loop, and why (tests/test_strategies.py tries every
# other class the installed release ships, so a new one is either runnable or must be listed here).
UNSUPPORTED_CLASSES = {
    "ExpectedErrorReduction": "the abstract base of MonteCarloEER and ValueOfInformationEER; name one of those",
    "SubSamplingWrapper": "a wrapper; give any strategy max_candidates (and subsample_pool) instead",
    "ParallelUtilityEstimationWrapper": "a wrapper that parallelises another strategy; runs already go in parallel",
    "ExpectedModelChangeMaximization": "a regression strategy (it queries for a regressor)",
    "ExpectedModelOutputChange": "a regression strategy (it queries for a regressor)",
    "ExpectedModelVarianceReduction": "a regression strategy (it queries for a regressor)",
    "GreedySamplingTarget": "a regression strategy (it queries for a regressor)",
    "KLDivergenceMaximization": "a regression strategy (it queries for a regressor)",
    "RegressionTreeBasedAL": "a regression strategy (it queries for a regressor)",
}


def pool_strategy_classes() -> dict[str, type]:
    """Every single-annotator pool strategy class the installed scikit-activeml ships, by name."""
    return {
        name: cls
        for name in skactiveml.pool.__all__
        if inspect.isclass(cls := getattr(skactiveml.pool, name)) and issubclass(cls, SingleAnnotatorPoolQueryStrategy)
    }


def class_needs(cls: type) -> str:
    """What a scikit-activeml strategy class needs besides the pool: :data:`CLASS_NEEDS`, else what its query
    signature asks for (a discriminator, an ensemble, a classifier or estimator, or nothing)."""
    if cls.__name__ in CLASS_NEEDS:
        return CLASS_NEEDS[cls.__name__]
    arguments = inspect.signature(cls.query).parameters
    if "discriminator" in arguments:
        return "discriminator"
    if "ensemble" in arguments:
        return "committee"
    return "model" if {"clf", "estimator"} & set(arguments) else "data"


def _class_method(name: str, class_name: Any, kwargs: Any) -> Method:
    """The :class:`Method` of a strategy given by its scikit-activeml class name and keyword arguments."""
    classes = pool_strategy_classes()
    where = f"params.yaml: strategies.{name}"
    if class_name in UNSUPPORTED_CLASSES:
        raise UserError(f"{where}: {class_name} cannot run here: {UNSUPPORTED_CLASSES[class_name]}")
    if class_name not in classes:
        valid = ", ".join(sorted(set(classes) - set(UNSUPPORTED_CLASSES)))
        raise UserError(f"{where}.class '{class_name}' is not a scikit-activeml pool strategy; valid: {valid}")
    if not isinstance(kwargs, dict):
        raise UserError(f"{where}.params must map keyword arguments of {class_name} to values")
    factory = classes[class_name]
    accepted = set(inspect.signature(factory.__init__).parameters) - {"self", "random_state", "missing_label"}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise UserError(
            f"{where}.params: {class_name} takes no {', '.join(unknown)}; valid: {', '.join(sorted(accepted))}"
        )
    return Method(factory, dict(kwargs), class_needs(factory), ("n_members", "gamma"))


def _model_argument(factory: type) -> tuple[str, str | None]:
    """The query argument that takes the model a strategy needs, and the flag that says whether to fit it."""
    arguments = inspect.signature(factory.query).parameters
    name = next((a for a in MODEL_ARGUMENTS if a in arguments), "discriminator")
    return name, MODEL_ARGUMENTS.get(name)


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _candidate_options(name: str, options: dict[str, Any]) -> tuple[int | None, bool, int | None]:
    """The checked ``refits_per_query``, ``subsample_pool`` and ``unlabelled_per_labelled`` of a strategy."""
    refits = options.get("refits_per_query")
    if refits is not None and (not _is_positive_int(refits) or options.get("max_candidates") is not None):
        raise UserError(
            f"params.yaml: strategies.{name}.refits_per_query must be a positive integer, without max_candidates"
        )
    subsample_pool = options.get("subsample_pool", False)
    if not isinstance(subsample_pool, bool) or (subsample_pool and options.get("max_candidates") is None):
        raise UserError(
            f"params.yaml: strategies.{name}.subsample_pool must be true or false, and true needs max_candidates"
        )
    per_labelled = options.get("unlabelled_per_labelled")
    if per_labelled is not None and not _is_positive_int(per_labelled):
        raise UserError(
            f"params.yaml: strategies.{name}.unlabelled_per_labelled must be a positive integer, got {per_labelled!r}"
        )
    return refits, subsample_pool, per_labelled


class Strategy:
    """A named, configured query strategy; ``query`` returns pool indices to label next.

    Built from a ``method`` (a recipe of :data:`STRATEGY_METHODS`) or from any scikit-activeml pool strategy
    ``class`` with its keyword arguments ``params``.
    """

    def __init__(self, name: str, method: str | Method, random_state: int, pool_cap: int | None = None, **options: Any):
        if isinstance(method, str):
            if method not in STRATEGY_METHODS:
                valid = ", ".join(sorted(STRATEGY_METHODS))
                raise UserError(f"unknown strategy method '{method}' for '{name}'; valid: {valid}")
            method = STRATEGY_METHODS[method]
        unknown = sorted(set(options) - set(method.options) - set(SUBSAMPLING_OPTIONS))
        if unknown:
            valid = ", ".join((*SUBSAMPLING_OPTIONS, *method.options))
            raise UserError(f"params.yaml: strategies.{name}: unknown option {', '.join(unknown)}; valid: {valid}")
        self.name = name
        self.needs = method.needs
        self.random_state = random_state
        self.n_members = options.get("n_members", 5)
        self.gamma = options.get("gamma", "mean")
        kwargs = dict(method.kwargs)
        if "beta" in options:
            kwargs["beta"] = options["beta"]
        if method.factory is ProbabilisticAL and "metric_dict" not in kwargs:
            kwargs["metric_dict"] = {"gamma": self.gamma}
        self._argument, self._fit_flag = _model_argument(method.factory)
        self._factory, self._kwargs = method.factory, kwargs
        # A strategy that must know the classes in advance (Quire, CostEmbeddingAL) is built at its first query.
        self._needs_classes = (
            "classes" in inspect.signature(method.factory.__init__).parameters and "classes" not in kwargs
        )
        self._max_candidates = options.get("max_candidates")
        self._refits, self._subsample_pool, self._per_labelled = _candidate_options(name, options)
        self.pool_cap = pool_cap
        self._qs: SingleAnnotatorPoolQueryStrategy | None = None

    def candidates(self, n_classes: int, batch_size: int) -> int | None:
        """How many random unlabelled candidates each query scores (None: all shown): ``max_candidates``, or for a
        strategy that refits the learner per candidate and class, ``refits_per_query`` divided by the classes (at
        least ``batch_size``)."""
        if self._refits is not None:
            return candidates_for_refits(self._refits, n_classes, batch_size)
        return self._max_candidates

    def shown_unlabelled(self, y: np.ndarray) -> int | None:
        """How many unlabelled images this query is shown (a random subset), or None for all of them: the fewest of
        ``unlabelled_per_labelled`` times the labelled count and the protocol's cap, where fewer than all remain."""
        labelled = int(np.sum(~np.isnan(y)))
        limits = [limit for limit in (self.pool_cap, self._per_labelled and self._per_labelled * labelled) if limit]
        shown = min(limits, default=None)
        return shown if shown is not None and shown < len(y) - labelled else None

    def _strategy(
        self, y: np.ndarray, clf: SklearnClassifier | None, batch_size: int
    ) -> SingleAnnotatorPoolQueryStrategy:
        """The scikit-activeml strategy to query with now, wrapped in ``SubSamplingWrapper`` to score a random subset
        (the strategy's ``max_candidates``) and to be shown one (:meth:`shown_unlabelled`).

        A strategy shown part of the pool sees a different pool at every query, so it is built afresh each time
        (ProbCover would otherwise reuse the distances of the first query's pool); otherwise it is built once.
        Seeded by an integer, a scikit-activeml strategy draws the same numbers either way.
        """
        shown = self.shown_unlabelled(y)
        fresh = shown is not None or self._subsample_pool
        qs = self._qs
        if qs is None or fresh:
            extra = {"classes": clf.classes} if self._needs_classes else {}
            qs = self._factory(random_state=self.random_state, **self._kwargs, **extra)
            candidates = self.candidates(len(clf.classes), batch_size) if clf is not None else self._max_candidates
            if candidates is not None:
                exact_exclusion = issubclass(self._factory, MonteCarloEER) and not self._subsample_pool
                wrapper = PoolEvaluatedSubSampling if exact_exclusion else SubSamplingWrapper
                qs = wrapper(
                    qs,
                    max_candidates=candidates,
                    exclude_non_subsample=self._subsample_pool or exact_exclusion,
                    random_state=self.random_state,
                )
            if not fresh:
                self._qs = qs
        if shown is None:
            return qs
        return SubSamplingWrapper(qs, max_candidates=shown, exclude_non_subsample=True, random_state=self.random_state)

    @classmethod
    def from_params(cls, name: str, spec: dict[str, Any], random_state: int, pool_cap: int | None = None) -> Strategy:
        """Build from one entry of ``params.yaml``'s ``strategies`` section: ``method`` and its options, or ``class``
        with keyword arguments ``params`` (and the options every strategy has); ``pool_cap``: the protocol's cap on
        the unlabelled images each query is shown (``al.max_candidates``)."""
        if ("method" in spec) == ("class" in spec):
            raise UserError(f"params.yaml: strategies.{name} needs either method (a recipe) or class (scikit-activeml)")
        if "class" in spec:
            method = _class_method(name, spec["class"], spec.get("params", {}))
            options = {key: value for key, value in spec.items() if key not in ("class", "params")}
            return cls(name, method, random_state, pool_cap, **options)
        if spec["method"] not in STRATEGY_METHODS:
            valid = ", ".join(sorted(STRATEGY_METHODS))
            raise UserError(f"params.yaml: strategies.{name}.method '{spec['method']}' unknown; valid: {valid}")
        options = {key: value for key, value in spec.items() if key != "method"}
        return cls(name, spec["method"], random_state, pool_cap, **options)

    def _committee(self, clf: SklearnClassifier, y: np.ndarray) -> SklearnClassifier:
        """A bagged committee of the learner's estimator; ``y``: the labels so far (NaN: unlabelled).

        Bagging draws each member's bootstrap as sample weights where the estimator takes them, and
        ``class_weight="balanced"`` computed on those weights is infinite for a class the bootstrap left out (its
        samples then weigh NaN and the member's fit ends in a constant model). So a balanced estimator's members
        weigh the classes as the learner does, from every label so far: a member that drew no sample of a class
        simply learns without it.
        """
        estimator = clone(clf.estimator)
        if estimator.get_params().get("class_weight") == "balanced":
            labelled = y[~np.isnan(y)]
            classes = np.unique(labelled)
            weights = compute_class_weight("balanced", classes=classes, y=labelled)
            estimator.set_params(class_weight={int(c): float(w) for c, w in zip(classes, weights)})
        bagging = BaggingClassifier(estimator, n_estimators=self.n_members, random_state=self.random_state)
        return SklearnClassifier(bagging, classes=clf.classes, random_state=self.random_state)

    def _parzen(self, clf: SklearnClassifier) -> ParzenWindowClassifier:
        return ParzenWindowClassifier(
            classes=clf.classes, metric="rbf", metric_dict={"gamma": self.gamma}, random_state=self.random_state
        )

    def _model(self, clf: SklearnClassifier, y: np.ndarray) -> dict[str, Any]:
        """The query's keyword arguments that hand the strategy what it needs, given the fitted learner and the labels
        so far."""
        if self.needs == "data":
            return {}
        if self.needs == "discriminator":
            discriminator = ChainedFitClassifier(
                ResumedLogisticRegression(max_iter=1000, warm_start=True),
                classes=[0, 1],
                random_state=self.random_state,
            )
            return {"discriminator": discriminator}
        if self.needs == "committee":
            model = self._committee(clf, y)
        elif self.needs == "parzen":
            model = self._parzen(clf)
        elif self.needs == "mixture":
            model = MixtureModelClassifier(classes=clf.classes, random_state=self.random_state)
        elif self.needs == "refit":  # refitted by the strategy per candidate, each refit starting from its solution
            model = resumed_from(clf)
        else:  # the learner itself, fitted
            model = clf
        fit = self.needs != "model"
        return {self._argument: model, self._fit_flag: fit}

    def check_classes(self, n_classes: int) -> None:
        """Refuse a dataset of ``n_classes`` classes when the strategy is defined for two only."""
        if self._factory.__name__ in BINARY_ONLY and n_classes != 2:
            raise UserError(
                f"strategy '{self.name}' ({self._factory.__name__}) is defined for two classes and this dataset has "
                f"{n_classes}; leave it out of study.strategies for this study"
            )

    def query(self, X: np.ndarray, y: np.ndarray, clf: SklearnClassifier, batch_size: int) -> np.ndarray:
        """Indices of ``batch_size`` unlabelled samples to query; ``clf`` is the learner, already fitted on ``y``."""
        if clf is not None:  # random sampling may be given no learner
            self.check_classes(len(clf.classes))
        chosen = np.asarray(
            self._strategy(y, clf, batch_size).query(X, y, batch_size=batch_size, **self._model(clf, y))
        )
        wanted = min(batch_size, int(np.sum(np.isnan(y))))
        distinct = np.unique(chosen)
        unlabelled = int(np.sum(np.isnan(y[distinct])))
        if len(chosen) != wanted or unlabelled != wanted:
            raise UserError(
                f"strategy {self.name} returned {unlabelled} distinct unlabelled images of the {wanted} "
                f"asked; give it at least a batch of candidates (params.yaml: strategies.{self.name}.max_candidates) "
                "or query smaller batches (al.batch_size)"
            )
        return chosen
