"""Query strategies by name behind one call: ``Strategy.query(X, y, clf, batch_size)``.

Every strategy is scikit-activeml's, except ``density_weighted_entropy``, which the library
lacks and which this module implements (information density, Settles & Craven 2008). Strategies
differ in what they need besides the data:

- ``data``: only the pool (random, Core-Set, TypiClust, ProbCover);
- ``model``: the learner's fitted classifier (uncertainty sampling, BADGE);
- ``committee``: a bagged committee of the learner's estimator, refitted each query (QBC);
- ``parzen``: a Parzen-window classifier on the same features, the frequency estimates these
  strategies are defined on (McPAL, epistemic uncertainty);
- ``refit``: a classifier it refits itself per candidate (Monte-Carlo expected error reduction);
- ``discriminator``: a labelled-vs-unlabelled classifier (discriminative AL).

``max_candidates`` (an option of every strategy) scores a random subset of the unlabelled pool
per query through scikit-activeml's ``SubSamplingWrapper``, for strategies whose cost grows
faster than the pool; ``subsample_pool: true`` also hides the rest of the unlabelled pool from the
strategy (the wrapper's ``exclude_non_subsample``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from skactiveml.base import SingleAnnotatorPoolQueryStrategy, SkactivemlClassifier
from skactiveml.classifier import ParzenWindowClassifier, SklearnClassifier
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
from skactiveml.utils import MISSING_LABEL, check_equal_missing_label, check_scalar, check_type, simple_batch
from sklearn.base import clone
from sklearn.ensemble import BaggingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from medal.errors import UserError


class DensityWeightedEntropy(SingleAnnotatorPoolQueryStrategy):
    """Information density (Settles & Craven 2008): entropy times the mean similarity to the pool, to the power beta.

    Uncertain samples in dense regions of the pool are preferred over uncertain outliers. The
    similarity is the cosine shifted to [0, 1], (1 + cos) / 2: on centred features (PCA, standardised)
    cosines are negative for about half the pairs, and clipping the mean cosine at zero, as a plain
    cosine density must, would give half the pool a utility of zero. The shift keeps the order of the
    mean cosines, so the density ranks samples as the original does.
    Written here because scikit-activeml has no density-weighted strategy; it follows the library's
    query contract (validated inputs, candidates as indices or as a feature matrix, ties broken by
    ``simple_batch``), so ``SubSamplingWrapper`` can wrap it.
    """

    def __init__(self, beta: float = 1.0, missing_label: float = MISSING_LABEL, random_state: Any = None):
        super().__init__(missing_label=missing_label, random_state=random_state)
        self.beta = beta

    @staticmethod
    def density(X_cand: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Mean shifted cosine similarity (1 + cos) / 2 of each candidate to all rows of the pool ``X``, in linear
        time: with unit rows the mean cosine is u_c · mean_j(u_j), so no n × n similarity matrix is formed (80 GB
        for a 100k pool)."""
        return (1 + normalize(X_cand) @ normalize(X).mean(axis=0)) / 2

    def utilities(self, X_cand: np.ndarray, proba: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Utility of every candidate given the learner's class probabilities for it and the pool ``X``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy = -np.nansum(np.where(proba > 0, proba * np.log(proba), 0.0), axis=1)
        return entropy * self.density(X_cand, X) ** self.beta

    def query(
        self,
        X: np.ndarray,
        y: np.ndarray,
        clf: SkactivemlClassifier,
        fit_clf: bool = True,
        sample_weight: np.ndarray | None = None,
        candidates: np.ndarray | None = None,
        batch_size: int = 1,
        return_utilities: bool = False,
    ):
        """The ``batch_size`` candidates (default: the unlabelled samples) of highest utility, as scikit-activeml's
        strategies return them; ties broken at random."""
        X, y, candidates, batch_size, return_utilities = self._validate_data(
            X, y, candidates, batch_size, return_utilities, reset=True
        )
        X_cand, mapping = self._transform_candidates(candidates, X, y)
        check_type(clf, "clf", SkactivemlClassifier)
        check_equal_missing_label(clf.missing_label, self.missing_label_)
        check_type(fit_clf, "fit_clf", bool)
        check_scalar(self.beta, "beta", (int, float), min_val=0)
        if fit_clf:
            clf = clone(clf).fit(X, y, sample_weight) if sample_weight is not None else clone(clf).fit(X, y)
        utilities = self.utilities(X_cand, clf.predict_proba(X_cand), X)
        if mapping is not None:
            on_pool = np.full(len(X), np.nan)
            on_pool[mapping] = utilities
            utilities = on_pool
        return simple_batch(utilities, self.random_state_, batch_size=batch_size, return_utilities=return_utilities)


# Options of every strategy: score only ``max_candidates`` random unlabelled samples per query, and
# with ``subsample_pool`` also show the strategy only those and the labelled ones (for strategies
# that model the whole pool, such as ProbCover or TypiClust, whose cost grows faster than the pool).
SUBSAMPLING_OPTIONS = ("max_candidates", "subsample_pool")


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
    "monte_carlo_eer": Method(MonteCarloEER, {}, "refit"),
    "coreset": Method(CoreSet, {}, "data"),
    "typiclust": Method(TypiClust, {}, "data"),
    "probcover": Method(ProbCover, {}, "data"),
    "badge": Method(Badge, {}, "model"),
    "discriminative_al": Method(DiscriminativeAL, {}, "discriminator"),
}


class Strategy:
    """A named, configured query strategy; ``query`` returns pool indices to label next."""

    def __init__(self, name: str, method: str, random_state: int, **options: Any):
        if method not in STRATEGY_METHODS:
            valid = ", ".join(sorted(STRATEGY_METHODS))
            raise UserError(f"unknown strategy method '{method}' for '{name}'; valid: {valid}")
        spec = STRATEGY_METHODS[method]
        unknown = sorted(set(options) - set(spec.options) - set(SUBSAMPLING_OPTIONS))
        if unknown:
            valid = ", ".join((*SUBSAMPLING_OPTIONS, *spec.options))
            raise UserError(f"params.yaml: strategies.{name}: unknown option {', '.join(unknown)}; valid: {valid}")
        self.name = name
        self.method = method
        self.needs = spec.needs
        self.random_state = random_state
        self.n_members = options.get("n_members", 5)
        self.gamma = options.get("gamma", "mean")
        kwargs = dict(spec.kwargs)
        if "beta" in options:
            kwargs["beta"] = options["beta"]
        if method == "probabilistic_al":
            kwargs["metric_dict"] = {"gamma": self.gamma}
        self._qs = spec.factory(random_state=random_state, **kwargs)
        max_candidates = options.get("max_candidates")
        subsample_pool = options.get("subsample_pool", False)
        if not isinstance(subsample_pool, bool) or (subsample_pool and max_candidates is None):
            raise UserError(
                f"params.yaml: strategies.{name}.subsample_pool must be true or false, and true needs max_candidates"
            )
        if max_candidates is not None:
            self._qs = SubSamplingWrapper(
                self._qs, max_candidates=max_candidates, exclude_non_subsample=subsample_pool, random_state=random_state
            )

    @classmethod
    def from_params(cls, name: str, spec: dict[str, Any], random_state: int) -> Strategy:
        """Build from one entry of ``params.yaml``'s ``strategies`` section."""
        options = {key: value for key, value in spec.items() if key != "method"}
        return cls(name, spec["method"], random_state, **options)

    def _committee(self, clf: SklearnClassifier) -> SklearnClassifier:
        bagging = BaggingClassifier(clone(clf.estimator), n_estimators=self.n_members, random_state=self.random_state)
        return SklearnClassifier(bagging, classes=clf.classes, random_state=self.random_state)

    def _parzen(self, clf: SklearnClassifier) -> ParzenWindowClassifier:
        return ParzenWindowClassifier(
            classes=clf.classes, metric="rbf", metric_dict={"gamma": self.gamma}, random_state=self.random_state
        )

    def query(self, X: np.ndarray, y: np.ndarray, clf: SklearnClassifier, batch_size: int) -> np.ndarray:
        """Indices of ``batch_size`` unlabelled samples to query; ``clf`` is the learner, already fitted on ``y``."""
        qs = self._qs
        if self.needs == "data":
            return qs.query(X, y, batch_size=batch_size)
        if self.needs == "model":
            return qs.query(X, y, clf=clf, fit_clf=False, batch_size=batch_size)
        if self.needs == "committee":
            return qs.query(X, y, ensemble=self._committee(clf), fit_ensemble=True, batch_size=batch_size)
        if self.needs == "parzen":
            return qs.query(X, y, clf=self._parzen(clf), fit_clf=True, batch_size=batch_size)
        if self.needs == "refit":
            return qs.query(X, y, clf=clf, fit_clf=True, batch_size=batch_size)
        discriminator = SklearnClassifier(
            LogisticRegression(max_iter=1000), classes=[0, 1], random_state=self.random_state
        )
        return qs.query(X, y, discriminator=discriminator, batch_size=batch_size)
