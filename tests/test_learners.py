import numpy as np
import pytest

from medal.errors import UserError
from medal.learners import Learner


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
    monkeypatch.setattr(type(clf), "partial_fit", lambda self, X, y, **kw: (seen.append(len(X)), original(self, X, y, **kw))[1])
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
