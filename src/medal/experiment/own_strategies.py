"""The strategy pieces this study writes itself because scikit-activeml lacks them.

- :class:`DensityWeightedEntropy`: information density (Settles & Craven 2008), a strategy;
- :class:`ResumedLogisticRegression`, :class:`ChainedFitClassifier` and :func:`resumed_from`: refits that start
  from the previous solution (exact speed-ups for Discriminative AL and expected error reduction);
- :class:`PoolEvaluatedSubSampling`: an exact, faster ``SubSamplingWrapper`` for Monte-Carlo expected error
  reduction.

Each follows the library's contracts (query signature, ``simple_batch`` tie-breaking, the clustering estimator API),
so :mod:`medal.experiment.strategies` uses them as it uses the library's own.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import numpy as np
from skactiveml.base import SingleAnnotatorPoolQueryStrategy, SkactivemlClassifier
from skactiveml.classifier import SklearnClassifier
from skactiveml.pool import SubSamplingWrapper
from skactiveml.utils import MISSING_LABEL, check_equal_missing_label, check_scalar, check_type, simple_batch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

# The solvers of scikit-learn's logistic regression that start from ``coef_`` when ``warm_start`` is set.
WARM_STARTING_SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky", "sag", "saga")


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


class ResumedLogisticRegression(LogisticRegression):
    """Logistic regression whose copies keep its fitted solution, and with ``warm_start=True`` start their own fit
    from it. The objective is strictly convex (L2 penalty), so the fit reaches the same minimum from any start, up
    to the solver's tolerance: only the number of iterations changes. scikit-activeml's wrappers clone and copy
    their estimator before every fit; ``__sklearn_clone__`` (scikit-learn's clone protocol) keeps the solution
    through the clone.
    """

    def __sklearn_clone__(self) -> ResumedLogisticRegression:
        return deepcopy(self)


class ChainedFitClassifier(SklearnClassifier):
    """A scikit-activeml classifier whose every fit starts from the previous fit's solution (its estimator should
    be a :class:`ResumedLogisticRegression` with ``warm_start=True``): Discriminative AL refits its discriminator
    once per pick of a batch on labels that differ by one image, so each fit starts next to its minimum."""

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None, **fit_kwargs: Any):
        super().fit(X, y, sample_weight, **fit_kwargs)
        if self.is_fitted_:
            self.estimator = self.estimator_
        return self


def resumed_from(clf: SklearnClassifier) -> SklearnClassifier:
    """The fitted learner ``clf`` as a model whose refits start from its solution, where that cannot change what
    the refit converges to (logistic regression with an L2 penalty and a solver that warm-starts); otherwise
    ``clf`` itself. Expected error reduction refits the learner once per candidate and label, each time on the
    current labels plus one image."""
    estimator = getattr(clf, "estimator_", None)
    if type(estimator) is not LogisticRegression:
        return clf
    params = estimator.get_params()
    strictly_convex = params["penalty"] in ("l2", "deprecated") and not params["l1_ratio"] and np.isfinite(params["C"])
    if not strictly_convex or params["solver"] not in WARM_STARTING_SOLVERS:
        return clf
    resumed = ResumedLogisticRegression(**params)
    resumed.set_params(warm_start=True)
    resumed.__dict__.update({key: value for key, value in vars(estimator).items() if key.endswith("_")})
    return SklearnClassifier(
        resumed, classes=clf.classes, missing_label=clf.missing_label, random_state=clf.random_state
    )


class PoolEvaluatedSubSampling(SubSamplingWrapper):
    """``SubSamplingWrapper`` for Monte-Carlo expected error reduction that computes what the plain wrapper computes,
    faster: the strategy is shown the labelled images and the candidate subset only, so each of its refits (one per
    candidate and class) handles those instead of the whole pool (whose unlabelled images carry no label and so
    never enter a fit), and it still estimates the error over every image it was given (passed as ``X_eval``, in
    the same order and with the same weights as without the exclusion).
    """

    def query(
        self,
        X: np.ndarray,
        y: np.ndarray,
        candidates: Any = None,
        batch_size: int = 1,
        return_utilities: bool = False,
        **query_kwargs: Any,
    ) -> Any:
        return super().query(
            X,
            y,
            candidates=candidates,
            batch_size=batch_size,
            return_utilities=return_utilities,
            X_eval=X,
            **query_kwargs,
        )
