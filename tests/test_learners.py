import warnings

import numpy as np
import pytest

from medal.errors import UserError
from medal.experiment.learners import Learner


def _labelled(y, idx):
    known = np.full(len(y), np.nan)
    known[idx] = y[idx]
    return known


def test_fit_update_refits_on_every_label(blobs):
    learner = Learner("lr", "logistic_regression", "fit")
    clf = learner.make(np.array([0, 1]), random_state=0)
    idx = np.arange(10)
    learner.update(clf, blobs["X_pool"], _labelled(blobs["y_pool"], idx), idx[-2:])
    assert clf.estimator_.n_features_in_ == 4
    assert clf.score(blobs["X_test"], blobs["y_test"]) > 0.9


def test_partial_fit_update_sees_only_the_new_batch(blobs, monkeypatch):
    learner = Learner("sgd", "sgd_log_loss", "partial_fit")
    clf = learner.make(np.array([0, 1]), random_state=0)
    seen = []
    original = type(clf).partial_fit
    monkeypatch.setattr(
        type(clf), "partial_fit", lambda self, X, y, **kw: (seen.append(len(X)), original(self, X, y, **kw))[1]
    )
    X, y = blobs["X_pool"], blobs["y_pool"]
    learner.update(clf, X, _labelled(y, np.arange(10)), np.arange(10))
    learner.update(clf, X, _labelled(y, np.arange(15)), np.arange(10, 15))
    assert seen == [10, 5]


def test_same_seed_same_model(blobs):
    learner = Learner("sgd", "sgd_log_loss", "fit")
    probas = []
    for _ in range(2):
        clf = learner.fit_full(blobs["X_pool"], blobs["y_pool"], np.array([0, 1]), random_state=3)
        probas.append(clf.predict_proba(blobs["X_test"]))
    assert np.array_equal(*probas)


def test_partial_fit_on_an_estimator_without_it_is_refused():
    with pytest.raises(UserError, match="learners.lr: logistic_regression has no partial_fit; set update: fit"):
        Learner("lr", "logistic_regression", "partial_fit")


@pytest.mark.parametrize(
    "estimator, update, params",
    [
        ("gaussian_nb", "partial_fit", {}),
        ("gaussian_nb", "fit", {}),
        ("mlp", "fit", {"hidden_layer_sizes": [16], "max_iter": 500}),
        ("mlp", "warm_start", {"hidden_layer_sizes": [16], "max_iter": 500}),
        ("sgd_log_loss", "warm_start", {}),
        ("logistic_regression", "warm_start", {}),
        ("random_forest", "fit", {"n_estimators": 20}),
        ("svm_rbf", "fit", {}),
    ],
)
def test_every_learner_updates_and_predicts_probabilities(blobs, estimator, update, params):
    learner = Learner("x", estimator, update, params)
    clf = learner.make(np.array([0, 1]), random_state=0)
    X, y = blobs["X_pool"], blobs["y_pool"]
    for batch in (np.arange(0, 10), np.arange(10, 30), np.arange(30, 60)):
        learner.update(clf, X, _labelled(y, np.arange(batch[-1] + 1)), batch)
    proba = clf.predict_proba(blobs["X_test"])
    assert proba.shape == (40, 2) and np.allclose(proba.sum(axis=1), 1)
    assert clf.score(blobs["X_test"], blobs["y_test"]) > 0.8


@pytest.mark.parametrize("estimator", ["random_forest", "svm_rbf"])
def test_estimators_without_partial_fit_refuse_it(estimator):
    with pytest.raises(UserError, match=f"{estimator} has no partial_fit; set update: fit"):
        Learner("x", estimator, "partial_fit")


@pytest.mark.parametrize("estimator", ["random_forest", "svm_rbf", "gaussian_nb"])
def test_estimators_without_a_warm_start_refuse_it(estimator):
    with pytest.raises(UserError, match=f"{estimator} has no warm_start; set update: fit"):
        Learner("x", estimator, "warm_start")


def test_warm_start_fits_every_label_from_the_previous_solution(blobs):
    """Two warm-started updates equal scikit-learn's own warm start: one epoch of SGD on the first ten labels, then
    one epoch on all twenty starting from those coefficients; a refit of the twenty starts from zero instead."""
    from sklearn.linear_model import SGDClassifier

    X, y = blobs["X_pool"], blobs["y_pool"]
    params = {"max_iter": 1, "tol": None}
    models = {}
    for update in ("warm_start", "fit"):
        learner = Learner("sgd", "sgd_log_loss", update, params)
        clf = learner.make(np.array([0, 1]), random_state=0)
        learner.update(clf, X, _labelled(y, np.arange(10)), np.arange(10))
        learner.update(clf, X, _labelled(y, np.arange(20)), np.arange(10, 20))
        models[update] = clf.estimator_
    by_hand = SGDClassifier(loss="log_loss", random_state=0, warm_start=True, **params)
    by_hand.fit(X[:10], y[:10]).fit(X[:20], y[:20])
    assert np.array_equal(models["warm_start"].coef_, by_hand.coef_)
    assert not np.array_equal(models["fit"].coef_, by_hand.coef_)


def test_a_warm_started_mlp_trains_on_the_new_labels_until_its_stopping_rule_holds(blobs):
    """scikit-learn's MLP carries its no-improvement count across warm-started fits and would stop after one epoch;
    the update restarts the rule, so the second fit runs many epochs, moves the weights and lowers its loss."""
    X, y = blobs["X_pool"], blobs["y_pool"]
    learner = Learner("mlp", "mlp", "warm_start", {"hidden_layer_sizes": [16], "max_iter": 300})
    clf = learner.make(np.array([0, 1]), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        learner.update(clf, X, _labelled(y, np.arange(10)), np.arange(10))
        first = clf.estimator_
        epochs, weights = len(first.loss_curve_), first.coefs_[0].copy()
        learner.update(clf, X, _labelled(y, np.arange(40)), np.arange(10, 40))
    curve = clf.estimator_.loss_curve_[epochs:]
    assert len(curve) > 10
    assert curve[-1] < curve[0]
    assert not np.allclose(clf.estimator_.coefs_[0], weights)


def test_mlp_partial_fit_needs_several_passes_per_batch(blobs):
    """One partial_fit call is one Adam step: a single pass per batch leaves the MLP untrained."""
    X, y = blobs["X_pool"], blobs["y_pool"]
    scores = {}
    for epochs in (1, 50):
        learner = Learner("mlp", "mlp", "partial_fit", {"hidden_layer_sizes": [16]}, epochs=epochs)
        clf = learner.make(np.array([0, 1]), random_state=0)
        for batch in (np.arange(0, 10), np.arange(10, 30), np.arange(30, 60)):
            learner.update(clf, X, _labelled(y, np.arange(batch[-1] + 1)), batch)
        scores[epochs] = clf.score(blobs["X_test"], blobs["y_test"])
    assert scores[1] < 0.6 < 0.8 < scores[50]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"update": "fit", "epochs": 3}, "epochs applies to update: partial_fit only"),
        ({"update": "partial_fit", "epochs": 0}, "epochs must be a positive integer, got 0"),
    ],
)
def test_bad_epochs_are_named(kwargs, message):
    with pytest.raises(UserError, match=message):
        Learner("x", "sgd_log_loss", **kwargs)


def test_a_single_class_labelled_set_predicts_that_class_without_error(blobs):
    # A noisy oracle can answer one class only for the initial set: no classifier can be fitted to it.
    for name, estimator in (("lr", "logistic_regression"), ("sgd", "sgd_log_loss"), ("svm", "svm_rbf")):
        learner = Learner(name, estimator, "fit")
        clf = learner.make(np.array([0, 1]), random_state=0)
        known = np.full(len(blobs["y_pool"]), np.nan)
        known[:4] = 1
        with pytest.warns(UserWarning, match="could not be fitted"):  # the wrapper's own note, at predict time
            learner.update(clf, blobs["X_pool"], known, np.arange(4))
            proba = clf.predict_proba(blobs["X_test"])
        assert (proba[:, 1] == 1).all()


def test_a_fit_failure_with_two_classes_is_an_error(blobs):
    learner = Learner("mlp", "mlp", "fit", {"hidden_layer_sizes": [-3]})
    clf = learner.make(np.array([0, 1]), random_state=0)
    known = np.full(len(blobs["y_pool"]), np.nan)
    known[:10] = blobs["y_pool"][:10]
    with pytest.raises(UserError, match=r"^learner 'mlp' \(mlp\) failed to fit: hidden_layer_sizes must be > 0"):
        learner.update(clf, blobs["X_pool"], known, np.arange(10))


def _imbalanced(seed=0):
    """Two overlapping Gaussian classes, 90 % class 0: an unweighted model's threshold leans to class 0."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 1, (180, 2)), rng.normal(1.0, 1, (20, 2))])
    y = np.array([0] * 180 + [1] * 20)
    return X, y


@pytest.mark.parametrize(
    "estimator, update, params",
    [
        ("logistic_regression", "fit", {}),
        ("logistic_regression", "warm_start", {}),
        ("sgd_log_loss", "fit", {}),
        ("sgd_log_loss", "partial_fit", {}),
        ("gaussian_nb", "fit", {}),
        ("gaussian_nb", "partial_fit", {}),
        ("mlp", "fit", {"hidden_layer_sizes": [8], "max_iter": 300}),
        ("mlp", "partial_fit", {"hidden_layer_sizes": [8]}),
        ("random_forest", "fit", {"n_estimators": 20, "max_depth": 2}),
        ("svm_rbf", "fit", {}),
    ],
)
def test_balanced_class_weight_predicts_the_minority_class_more_often(estimator, update, params):
    """On a 9:1 pool, weighing the classes alike moves every learner's decisions towards the minority class."""
    X, y = _imbalanced()
    predicted = {}
    for weighting in ("none", "balanced"):
        learner = Learner(
            "l", estimator, update, params, epochs=5 if update == "partial_fit" else 1, class_weight=weighting
        )
        clf = learner.make(np.array([0, 1]), random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an MLP stopped at its iteration limit
            learner.update(clf, X, y.astype(float), np.arange(len(y)))
        predicted[weighting] = clf.predict(X).mean()
    assert predicted["balanced"] > predicted["none"]


def test_balanced_weights_reach_the_estimator_the_way_it_takes_them():
    """The estimator's own class_weight where its update takes it (so a committee's clones inherit it), uniform
    priors for naive Bayes, and sample weights n / (k n_c) from every label so far otherwise."""
    classes = np.array([0, 1, 2])
    logreg = Learner("l", "logistic_regression", "fit", class_weight="balanced").make(classes, 0)
    assert logreg.estimator.class_weight == "balanced"
    nb = Learner("l", "gaussian_nb", "partial_fit", class_weight="balanced").make(classes, 0)
    assert nb.estimator.priors.tolist() == pytest.approx([1 / 3] * 3)
    sgd = Learner("l", "sgd_log_loss", "partial_fit", class_weight="balanced")
    assert sgd.make(classes, 0).estimator.class_weight is None
    y = np.array([0, 0, 0, 1, np.nan, 2])
    # five labels, three classes: class 0 weighs 5 / (3 * 3) each, classes 1 and 2 weigh 5 / 3; unlabelled 0.
    assert sgd._weights(y).tolist() == pytest.approx([5 / 9] * 3 + [5 / 3, 0, 5 / 3])
    assert Learner("l", "sgd_log_loss", "partial_fit")._weights(y) is None


def test_a_class_weight_in_params_or_an_unknown_weighting_is_refused():
    with pytest.raises(UserError, match=r"learners.l.class_weight must be one of balanced, none, got 'auto'"):
        Learner("l", "logistic_regression", "fit", class_weight="auto")
    with pytest.raises(UserError, match=r"set class weights with learners.l.class_weight \(balanced or none\)"):
        Learner("l", "logistic_regression", "fit", {"class_weight": "balanced"})
