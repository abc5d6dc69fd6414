import numpy as np
import pytest
from skactiveml.base import SkactivemlClassifier
from skactiveml.classifier import SklearnClassifier
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_blobs

from medal.errors import UserError
from medal.experiment.strategies import (
    BINARY_ONLY,
    STRATEGY_METHODS,
    UNSUPPORTED_CLASSES,
    Strategy,
    class_needs,
    pool_strategy_classes,
)


class FirstFeatureIsProbability(ClassifierMixin, BaseEstimator):
    """Predicts P(class 1) = x[0]: lets the test state each sample's uncertainty by hand."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        return np.column_stack([1 - X[:, 0], X[:, 0]])

    def predict(self, X):
        return (X[:, 0] > 0.5).astype(int)


@pytest.fixture
def hand_case():
    # P(class 1) per pool sample; samples 0 and 1 are labelled.
    p1 = np.array([0.5, 0.45, 0.9, 0.6, 0.02, 0.3])
    X = np.column_stack([p1, np.zeros_like(p1)])
    y = np.array([1, 0, np.nan, np.nan, np.nan, np.nan])
    clf = SklearnClassifier(FirstFeatureIsProbability(), classes=[0, 1]).fit(X, y)
    return X, y, clf


@pytest.mark.parametrize("method", ["least_confident", "margin_sampling", "entropy"])
def test_uncertainty_strategies_pick_the_hand_computed_most_uncertain(hand_case, method):
    # Unlabelled p1: 0.9, 0.6, 0.02, 0.3 -> closest to 0.5 first: index 3 (0.6), then 5 (0.3), then 2 (0.9).
    X, y, clf = hand_case
    chosen = Strategy("s", method, random_state=0).query(X, y, clf, batch_size=3)
    assert list(chosen) == [3, 5, 2]


def test_random_sampling_picks_only_unlabelled_and_depends_on_seed(hand_case):
    X, y, clf = hand_case
    picks = {tuple(Strategy("r", "random", random_state=s).query(X, y, clf, batch_size=2)) for s in range(20)}
    assert all(set(p) <= {2, 3, 4, 5} and len(set(p)) == 2 for p in picks)
    assert len(picks) > 1


@pytest.mark.parametrize("method", sorted(STRATEGY_METHODS))
def test_every_library_strategy_queries_distinct_unlabelled_samples(blobs, method):
    from medal.experiment.learners import Learner

    y = np.full(len(blobs["y_pool"]), np.nan)
    y[:10] = blobs["y_pool"][:10]
    learner = Learner("lr", "logistic_regression", "fit")
    clf = learner.make(np.array([0, 1]), random_state=0)
    learner.update(clf, blobs["X_pool"], y, np.arange(10))
    chosen = Strategy("s", method, random_state=0).query(blobs["X_pool"], y, clf, batch_size=7)
    assert len(set(chosen)) == 7 and min(chosen) >= 10


def test_unknown_method_lists_valid_ones():
    valid = ", ".join(sorted(STRATEGY_METHODS))
    assert "badge, coreset, density_weighted_entropy, discriminative_al, entropy" in valid
    with pytest.raises(UserError, match=f"unknown strategy method 'oracle' for 'x'; valid: {valid}"):
        Strategy("x", "oracle", random_state=0)


class FixedProbabilities(SkactivemlClassifier):
    """A fitted-classifier stand-in: the probability of class 1 for each row, given as {row: probability}."""

    def __init__(self, p1, classes=(0, 1)):
        super().__init__(classes=classes)
        self.p1 = p1

    def fit(self, X, y, sample_weight=None):
        return self

    def predict_proba(self, X):
        p1 = np.array([self.p1[tuple(row)] for row in X])
        return np.column_stack([1 - p1, p1])


def test_density_weighted_entropy_by_hand():
    from medal.experiment.own_strategies import DensityWeightedEntropy

    # Cosine similarities: rows 0 and 1 point the same way, row 2 is orthogonal to both, so the mean
    # cosines are 2/3, 2/3 and 1/3, and the densities (1 + mean cosine) / 2 are 5/6, 5/6 and 2/3.
    X = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    clf = FixedProbabilities({(1.0, 0.0): 0.5, (2.0, 0.0): 0.9, (0.0, 1.0): 0.5})
    entropy = np.array([np.log(2), -(0.9 * np.log(0.9) + 0.1 * np.log(0.1)), np.log(2)])  # 0.6931, 0.3251, 0.6931
    density = np.array([5 / 6, 5 / 6, 2 / 3])
    qs = DensityWeightedEntropy(beta=1.0, random_state=0)
    assert qs.utilities(X, clf.predict_proba(X), X) == pytest.approx(entropy * density)  # 0.5776, 0.2709, 0.4621
    y = np.full(3, np.nan)
    assert list(qs.query(X, y, clf, fit_clf=False, batch_size=3)) == [0, 2, 1]
    # A stronger density weight prefers the dense, less uncertain sample 1 over the isolated sample 2:
    # with beta 6, 0.3251 * (5/6)^6 = 0.1089 against 0.6931 * (2/3)^6 = 0.0609.
    assert list(DensityWeightedEntropy(beta=6.0).query(X, y, clf, fit_clf=False, batch_size=3)) == [0, 1, 2]
    # Labelled samples are never queried.
    assert list(qs.query(X, np.array([1.0, np.nan, np.nan]), clf, fit_clf=False, batch_size=2)) == [2, 1]


def test_density_weighted_entropy_follows_the_query_contract():
    """Candidates as indices give pool-sized utilities (NaN elsewhere), as a feature matrix candidate-sized ones
    with the density still taken over the pool; bad inputs are refused as scikit-activeml's strategies refuse them."""
    from medal.experiment.own_strategies import DensityWeightedEntropy

    X = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    y = np.full(3, np.nan)
    clf = FixedProbabilities({(1.0, 0.0): 0.5, (2.0, 0.0): 0.9, (0.0, 1.0): 0.5, (0.0, 3.0): 0.5})
    qs = DensityWeightedEntropy(random_state=0)
    chosen, utilities = qs.query(X, y, clf, fit_clf=False, candidates=[1, 2], return_utilities=True)
    assert list(chosen) == [2] and np.isnan(utilities[0, 0]) and utilities[0, 2] == pytest.approx(np.log(2) * 2 / 3)
    X_cand = np.array([[0.0, 3.0]])  # not in the pool: same direction as row 2, so the same density 2/3
    chosen, utilities = qs.query(X, y, clf, fit_clf=False, candidates=X_cand, return_utilities=True)
    assert list(chosen) == [0] and utilities.shape == (1, 1)
    assert utilities[0, 0] == pytest.approx(np.log(2) * 2 / 3)
    with pytest.raises(TypeError):
        qs.query(X, y, object(), fit_clf=False)
    with pytest.raises(ValueError):
        qs.query(X, y, clf, fit_clf=False, batch_size=0)
    with pytest.raises(ValueError):
        DensityWeightedEntropy(beta=-1.0).query(X, y, clf, fit_clf=False)


def test_candidate_subsampling_limits_the_scored_pool(blobs):
    from medal.experiment.learners import Learner

    y = np.full(len(blobs["y_pool"]), np.nan)
    y[:10] = blobs["y_pool"][:10]
    learner = Learner("lr", "logistic_regression", "fit")
    clf = learner.make(np.array([0, 1]), random_state=0)
    learner.update(clf, blobs["X_pool"], y, np.arange(10))
    for method in ("entropy", "density_weighted_entropy", "monte_carlo_eer"):
        strategy = Strategy("s", method, random_state=0, max_candidates=12)
        chosen = strategy.query(blobs["X_pool"], y, clf, batch_size=3)
        assert len(set(chosen)) == 3 and min(chosen) >= 10


def test_linear_time_density_equals_the_mean_shifted_cosine_similarity():
    from sklearn.metrics.pairwise import cosine_similarity

    from medal.experiment.own_strategies import DensityWeightedEntropy

    X = np.random.default_rng(1).normal(size=(50, 6))  # centred: many negative cosines
    X[3] = 0.0  # a zero row has cosine 0 to everything, as in scikit-learn
    expected = ((1 + cosine_similarity(X)) / 2).mean(axis=1)
    density = DensityWeightedEntropy.density(X, X)
    assert density == pytest.approx(expected, abs=1e-12)
    # Defined for centred features: never zero, and in the order of the plain mean cosines.
    assert density.min() > 0 and density.max() <= 1
    assert list(np.argsort(density)) == list(np.argsort(cosine_similarity(X).mean(axis=1)))


def test_pool_subsampling_shows_the_strategy_only_the_subsample(blobs):
    y = np.full(len(blobs["y_pool"]), np.nan)
    y[:4] = blobs["y_pool"][:4]
    strategy = Strategy("p", "probcover", random_state=0, max_candidates=10, subsample_pool=True)
    chosen = strategy.query(blobs["X_pool"], y, None, batch_size=3)
    assert len(set(chosen)) == 3 and min(chosen) >= 4
    with pytest.raises(
        UserError, match="strategies.p.subsample_pool must be true or false, and true needs max_candidates"
    ):
        Strategy("p", "probcover", random_state=0, subsample_pool=True)


def test_the_unlabelled_images_a_query_is_shown_follow_the_cap_and_the_per_labelled_rule():
    y = np.full(100, np.nan)
    y[:5] = 0
    assert Strategy("s", "entropy", random_state=0).shown_unlabelled(y) is None
    assert Strategy("s", "entropy", random_state=0, unlabelled_per_labelled=10).shown_unlabelled(y) == 50
    assert Strategy("s", "entropy", random_state=0, pool_cap=30, unlabelled_per_labelled=10).shown_unlabelled(y) == 30
    assert Strategy("s", "entropy", random_state=0, pool_cap=95).shown_unlabelled(y) is None  # 95 remain: all shown
    assert Strategy("s", "entropy", random_state=0, pool_cap=94).shown_unlabelled(y) == 94
    y[:10] = 0  # 10 labelled: 100 per the rule, more than the 90 left
    assert Strategy("s", "entropy", random_state=0, unlabelled_per_labelled=10).shown_unlabelled(y) is None
    for bad in (0, -1, 2.5, True):
        with pytest.raises(UserError, match="strategies.s.unlabelled_per_labelled must be a positive integer"):
            Strategy("s", "entropy", random_state=0, unlabelled_per_labelled=bad)


def _fitted_case(n: int = 200, labelled: int = 10, n_classes: int = 2):
    from medal.experiment.learners import Learner

    rng = np.random.default_rng(3)
    y_true = np.arange(n) % n_classes
    X = rng.normal(size=(n, 5)) + y_true[:, None]
    y = np.full(n, np.nan)
    y[:labelled] = y_true[:labelled]
    learner = Learner("lr", "logistic_regression", "fit")
    clf = learner.make(np.arange(n_classes), random_state=0)
    learner.update(clf, X, y, np.arange(labelled))
    return X, y, clf


def test_a_cap_at_or_above_the_unlabelled_count_changes_no_query():
    X, y, clf = _fitted_case()
    for method in ("entropy", "coreset", "typiclust", "discriminative_al", "badge"):
        plain = Strategy("s", method, random_state=4).query(X, y, clf, batch_size=5)
        capped = Strategy("s", method, random_state=4, pool_cap=190).query(X, y, clf, batch_size=5)
        assert list(plain) == list(capped), method


def test_a_capped_strategy_picks_the_best_of_a_seeded_random_subset():
    """Entropy with a cap of 15 picks the 5 most uncertain of 15 random unlabelled images: not the pool's top 5, and
    another seed draws another subset."""
    X, y, clf = _fitted_case()
    proba = clf.predict_proba(X)
    entropy = -(proba * np.log(proba)).sum(axis=1)
    entropy[:10] = -np.inf
    top = set(np.argsort(entropy)[-5:])
    picks = {seed: set(Strategy("s", "entropy", random_state=seed, pool_cap=15).query(X, y, clf, 5)) for seed in (0, 1)}
    assert picks[0] != top and picks[0] != picks[1]
    for chosen in picks.values():
        assert len(chosen) == 5 and min(chosen) >= 10


def test_pool_hiding_strategies_rebuild_per_query_so_probcover_sees_each_new_pool():
    """Shown another random subset at every query, ProbCover must not reuse the first query's distances (it caches
    them): three capped queries in a row run and return unlabelled images."""
    X, y, clf = _fitted_case()
    strategy = Strategy("s", "probcover", random_state=0, pool_cap=40)
    for _ in range(3):
        chosen = strategy.query(X, y, clf, batch_size=5)
        assert np.all(np.isnan(y[chosen])) and len(set(chosen)) == 5
        y[chosen] = 0


def test_discriminative_al_trains_on_the_labelled_and_at_most_ten_unlabelled_per_labelled(monkeypatch):
    from skactiveml.pool import DiscriminativeAL

    seen = []
    query = DiscriminativeAL.query

    def spy(self, X, y, *args, **kwargs):
        seen.append((len(X), int(np.sum(~np.isnan(y)))))
        return query(self, X, y, *args, **kwargs)

    monkeypatch.setattr(DiscriminativeAL, "query", spy)
    X, y, clf = _fitted_case(n=300, labelled=10)
    Strategy("d", "discriminative_al", random_state=0, unlabelled_per_labelled=10).query(X, y, clf, batch_size=3)
    Strategy("d", "discriminative_al", random_state=0).query(X, y, clf, batch_size=3)
    assert seen == [(110, 10), (300, 10)]


def _two_blobs(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples=n, centers=2, n_features=20, cluster_std=6.0, random_state=seed)


def test_a_resumed_logistic_regression_refit_reaches_the_cold_fit_in_fewer_iterations():
    """The clone keeps the solution, and a warm-started refit on one more label converges to the same minimum."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression

    from medal.experiment.own_strategies import ResumedLogisticRegression

    X, y = _two_blobs()
    first = ResumedLogisticRegression(C=0.1, warm_start=True, tol=1e-8, max_iter=1000).fit(X[:-1], y[:-1])
    copy = clone(first)
    np.testing.assert_array_equal(copy.coef_, first.coef_)
    resumed = copy.fit(X, y)
    cold = LogisticRegression(C=0.1, tol=1e-8, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(resumed.coef_, cold.coef_, rtol=1e-5, atol=1e-7)
    assert resumed.n_iter_[0] < cold.n_iter_[0]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_mc_eer_refits_start_from_the_learner_and_choose_what_cold_refits_choose(n_classes):
    from skactiveml.pool import MonteCarloEER
    from sklearn.datasets import make_blobs

    from medal.experiment.learners import Learner
    from medal.experiment.own_strategies import ResumedLogisticRegression, resumed_from

    X, labels = make_blobs(n_samples=200, centers=n_classes, n_features=5, cluster_std=4.0, random_state=n_classes)
    y = np.full(len(X), np.nan)
    y[:20] = labels[:20]
    learner = Learner("lr", "logistic_regression", "fit", class_weight="balanced", params={"tol": 1e-8})
    clf = learner.make(np.arange(n_classes), 0).fit(X, y)
    resumed = resumed_from(clf)
    assert isinstance(resumed.estimator, ResumedLogisticRegression)
    np.testing.assert_array_equal(resumed.estimator.coef_, clf.estimator_.coef_)
    cold = MonteCarloEER(random_state=0).query(X, y, clf=clf, batch_size=1, return_utilities=True)
    warm = MonteCarloEER(random_state=0).query(X, y, clf=resumed, batch_size=1, return_utilities=True)
    np.testing.assert_array_equal(warm[0], cold[0])
    np.testing.assert_allclose(warm[1], cold[1], rtol=1e-4)


def test_only_strictly_convex_warm_starting_logistic_regressions_are_resumed():
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB

    from medal.experiment.own_strategies import resumed_from

    X, y = _two_blobs(n=60)
    for estimator in (
        GaussianNB(),
        LogisticRegression(solver="liblinear"),
        LogisticRegression(solver="saga", l1_ratio=1.0),
        LogisticRegression(C=np.inf),
    ):
        clf = SklearnClassifier(estimator, classes=[0, 1]).fit(X, y)
        assert resumed_from(clf) is clf
    unfitted = SklearnClassifier(LogisticRegression(), classes=[0, 1])
    assert resumed_from(unfitted) is unfitted


def test_discriminative_al_with_chained_discriminator_fits_picks_what_cold_fits_pick():
    """Each discriminator fit of a batch starts from the previous one's solution, and the picks stay the same."""
    from skactiveml.pool import DiscriminativeAL
    from sklearn.linear_model import LogisticRegression

    from medal.experiment.own_strategies import ChainedFitClassifier, ResumedLogisticRegression

    X, labels = _two_blobs(n=200, seed=3)
    y = np.full(len(X), np.nan)
    y[:15] = labels[:15]
    cold = SklearnClassifier(LogisticRegression(tol=1e-8, max_iter=5000), classes=[0, 1], random_state=0)
    chained = ChainedFitClassifier(
        ResumedLogisticRegression(tol=1e-8, max_iter=5000, warm_start=True), classes=[0, 1], random_state=0
    )
    picks = [DiscriminativeAL(random_state=0).query(X, y, discriminator=d, batch_size=5) for d in (cold, chained)]
    np.testing.assert_array_equal(picks[1], picks[0])
    # A refit on the same labels starts at the previous minimum, so it stops at once.
    assert chained.fit(X, np.isnan(y).astype(int)).estimator_.n_iter_[0] > 5
    assert chained.fit(X, np.isnan(y).astype(int)).estimator_.n_iter_[0] <= 1


def test_unknown_strategy_option_is_named():
    with pytest.raises(
        UserError,
        match="strategies.q: unknown option n_trees; valid: max_candidates, subsample_pool, unlabelled_per_labelled, "
        "n_members",
    ):
        Strategy("q", "qbc_vote_entropy", random_state=0, n_trees=3)


def _labelled_case(n_classes: int, n: int = 60):
    """A pool of ``n_classes`` classes whose first 12 samples are labelled, and a logistic-regression learner fitted
    on them."""
    from medal.experiment.learners import Learner

    rng = np.random.default_rng(0)
    y_true = np.arange(n) % n_classes
    X = rng.normal(size=(n, 4)) + y_true[:, None]
    y = np.full(n, np.nan)
    y[:12] = y_true[:12]
    learner = Learner("lr", "logistic_regression", "fit")
    clf = learner.make(np.arange(n_classes), random_state=0)
    learner.update(clf, X, y, np.arange(12))
    return X, y, clf


@pytest.mark.parametrize("name", sorted(pool_strategy_classes()))
def test_every_scikit_activeml_pool_strategy_runs_by_class_name_or_is_listed_with_its_reason(name):
    spec = {"class": name}
    if name in UNSUPPORTED_CLASSES:
        with pytest.raises(UserError, match=f"strategies.s: {name} cannot run here: "):
            Strategy.from_params("s", spec, random_state=0)
        return
    for n_classes in (3, 2):
        X, y, clf = _labelled_case(n_classes)
        strategy = Strategy.from_params("s", spec, random_state=0)
        if n_classes > 2 and name in BINARY_ONLY:
            with pytest.raises(UserError, match=rf"\({name}\) is defined for two classes and this dataset has 3; "):
                strategy.query(X, y, clf, batch_size=3)
            continue
        chosen = strategy.query(X, y, clf, batch_size=3)
        assert len(set(chosen)) == 3 and min(chosen) >= 12, chosen


def test_a_class_strategy_takes_keyword_arguments_and_refuses_unknown_ones():
    X, y, clf = _labelled_case(3)
    margin = Strategy.from_params("m", {"class": "UncertaintySampling", "params": {"method": "margin_sampling"}}, 0)
    assert list(margin.query(X, y, clf, 2)) == list(Strategy("m", "margin_sampling", 0).query(X, y, clf, 2))
    with pytest.raises(UserError, match=r"strategies.m.params: UncertaintySampling takes no beta; valid: cost_matrix"):
        Strategy.from_params("m", {"class": "UncertaintySampling", "params": {"beta": 2}}, 0)
    with pytest.raises(UserError, match=r"strategies.m.class 'Oracle' is not a scikit-activeml pool strategy; valid: "):
        Strategy.from_params("m", {"class": "Oracle"}, 0)
    with pytest.raises(UserError, match=r"strategies.m needs either method \(a recipe\) or class"):
        Strategy.from_params("m", {"class": "CoreSet", "method": "coreset"}, 0)


def test_the_needs_of_a_class_follow_its_query_signature_unless_declared():
    from skactiveml.pool import Badge, CoreSet, DiscriminativeAL, MonteCarloEER, QueryByCommittee

    assert [class_needs(c) for c in (CoreSet, Badge, QueryByCommittee, DiscriminativeAL, MonteCarloEER)] == [
        "data",
        "model",
        "committee",
        "discriminator",
        "refit",
    ]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_mc_eer_shown_only_labelled_and_candidates_computes_what_the_whole_pool_gives(n_classes):
    from skactiveml.pool import MonteCarloEER, SubSamplingWrapper
    from sklearn.datasets import make_blobs

    from medal.experiment.learners import Learner
    from medal.experiment.own_strategies import PoolEvaluatedSubSampling

    X, labels = make_blobs(n_samples=300, centers=n_classes, n_features=5, cluster_std=4.0, random_state=n_classes)
    for seed in range(3):
        y = np.full(len(X), np.nan)
        known = np.random.default_rng(seed).choice(len(X), 20, replace=False)
        y[known] = labels[known]
        clf = Learner("lr", "logistic_regression", "fit", class_weight="balanced").make(np.arange(n_classes), seed)
        kwargs = dict(max_candidates=15, random_state=seed)
        plain = SubSamplingWrapper(MonteCarloEER(random_state=seed), exclude_non_subsample=False, **kwargs)
        fast = PoolEvaluatedSubSampling(MonteCarloEER(random_state=seed), exclude_non_subsample=True, **kwargs)
        chosen, utilities = plain.query(X, y, clf=clf, batch_size=4, return_utilities=True)
        fast_chosen, fast_utilities = fast.query(X, y, clf=clf, batch_size=4, return_utilities=True)
        np.testing.assert_array_equal(fast_chosen, chosen)
        np.testing.assert_array_equal(fast_utilities, utilities)
        # The study's strategy takes the fast path for MC-EER with max_candidates.
        strategy = Strategy("mc", "monte_carlo_eer", random_state=seed, max_candidates=15)
        assert isinstance(strategy._strategy(y, clf, 4), PoolEvaluatedSubSampling)


@pytest.mark.parametrize(
    ("n_classes", "batch", "candidates"), [(2, 1, 20), (3, 10, 13), (8, 1, 5), (8, 40, 40), (11, 55, 55), (41, 1, 1)]
)
def test_mc_eer_scores_as_many_candidates_as_its_refits_per_query_allow_and_at_least_a_batch(
    n_classes, batch, candidates
):
    from medal.experiment.learners import Learner
    from medal.experiment.own_strategies import PoolEvaluatedSubSampling

    strategy = Strategy.from_params("mc", {"method": "monte_carlo_eer", "refits_per_query": 40}, random_state=0)
    assert strategy.candidates(n_classes, batch) == candidates
    clf = Learner("lr", "logistic_regression", "fit", class_weight="balanced").make(np.arange(n_classes), 0)
    wrapper = strategy._strategy(np.full(50, np.nan), clf, batch)
    assert isinstance(wrapper, PoolEvaluatedSubSampling) and wrapper.max_candidates == candidates


@pytest.mark.parametrize("n_classes", [3, 11])
def test_every_query_returns_a_whole_batch_of_distinct_unlabelled_images(n_classes):
    """The batch a run records is the batch it labelled: with 11 classes and 40 refits per query, expected error
    reduction still scores a whole batch of candidates; a candidate subset smaller than the batch is an error."""
    from medal.experiment.learners import Learner

    X, y_true = make_blobs(n_samples=40 * n_classes, centers=n_classes, n_features=4, random_state=0)
    y = np.full(len(y_true), np.nan)
    first = np.concatenate([np.flatnonzero(y_true == c)[:2] for c in range(n_classes)])
    y[first] = y_true[first]
    clf = Learner("lr", "logistic_regression", "fit", class_weight="balanced").make(np.arange(n_classes), 0)
    clf.fit(X, y)
    mc = Strategy.from_params("mc", {"method": "monte_carlo_eer", "refits_per_query": 40}, random_state=0)
    chosen = mc.query(X, y, clf, 12)
    assert len(set(chosen.tolist())) == 12 and np.all(np.isnan(y[chosen]))
    few = Strategy.from_params("few", {"method": "entropy", "max_candidates": 5}, random_state=0)
    with pytest.raises(UserError, match="few returned 5 distinct unlabelled images of the 12 asked"):
        few.query(X, y, clf, 12)


@pytest.mark.parametrize("spec", [{"refits_per_query": 0}, {"refits_per_query": 40, "max_candidates": 20}])
def test_refits_per_query_is_a_positive_number_without_a_fixed_candidate_count(spec):
    with pytest.raises(UserError, match="strategies.mc.refits_per_query must be a positive integer, without max_c"):
        Strategy.from_params("mc", {"method": "monte_carlo_eer", **spec}, random_state=0)


def _rare_class_case():
    # 12 labelled samples, 2 of class 1, and 8 unlabelled: with random_state 0 the first of 5 bootstrap draws holds no
    # sample of class 1
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 5))
    y = np.array([0] * 10 + [1] * 2 + [np.nan] * 8)
    X[10:12] += 2
    return X, y


def test_a_balanced_committee_member_whose_bootstrap_misses_a_class_still_learns():
    import warnings

    from sklearn.ensemble import BaggingClassifier
    from sklearn.linear_model import LogisticRegression

    from medal.experiment.learners import Learner

    X, y = _rare_class_case()
    labelled = ~np.isnan(y)
    # The failure this guards against: bagging's bootstrap weights with "balanced" class weights give a member NaN
    # sample weights, and its fit ends at the all-zero starting point.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = BaggingClassifier(LogisticRegression(class_weight="balanced"), n_estimators=5, random_state=0)
        plain.fit(X[labelled], y[labelled])
    assert any(not member.coef_.any() for member in plain.estimators_)

    learner = Learner("lr", "logistic_regression", "fit", {"max_iter": 1000}, class_weight="balanced")
    clf = learner.make(np.array([0, 1]), random_state=0)
    learner.update(clf, X, y, np.flatnonzero(labelled))
    strategy = Strategy("q", "qbc_vote_entropy", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        committee = strategy._committee(clf, y).fit(X, y)
        chosen = strategy.query(X, y, clf, batch_size=2)
    members = committee.estimator_.estimators_
    # every member weighs the classes as the learner does on all 12 labels: n / (k n_c) = 12 / 20 and 12 / 4
    assert all(member.class_weight == {0: 0.6, 1: 3.0} for member in members)
    assert all(member.coef_.any() for member in members)
    assert set(chosen) <= set(np.flatnonzero(~labelled)) and len(set(chosen)) == 2
