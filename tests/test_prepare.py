import numpy as np
import pytest

from medal.errors import UserError
from medal.prepare import prepare

from conftest import medmnist_arrays


def _raw():
    a = medmnist_arrays(n_train=40)
    return {
        "X_train": a["train_images"],
        "y_train": a["train_labels"].astype(np.int64),
        "X_test": a["test_images"],
        "y_test": a["test_labels"].astype(np.int64),
    }


def test_pca_features_have_the_requested_dimension():
    out = prepare(_raw(), {"features": "pca", "pca_components": 5})
    assert out["X_pool"].shape == (40, 5) and out["X_test"].shape == (10, 5)


def test_transforms_are_fitted_on_the_pool_only():
    raw = _raw()
    first = prepare(raw, {"features": "pca", "pca_components": 5})
    raw["X_test"] = np.full_like(raw["X_test"], 255)  # changing test data must not change pool features
    second = prepare(raw, {"features": "pca", "pca_components": 5})
    assert np.array_equal(first["X_pool"], second["X_pool"])
    assert not np.array_equal(first["X_test"], second["X_test"])


def test_raw_features_are_standardised_on_the_pool():
    out = prepare(_raw(), {"features": "raw"})
    assert out["X_pool"].shape == (40, 784)
    assert np.allclose(out["X_pool"].mean(axis=0), 0, atol=1e-9)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"features": "pca", "pca_components": 41}, "pca_components must be an integer in 1..40, got 41"),
        ({"features": "pca", "pca_components": 0}, "pca_components must be an integer in 1..40, got 0"),
        ({"features": "wavelets"}, "features 'wavelets' unknown; valid: raw, pca"),
    ],
)
def test_bad_feature_settings_are_named(settings, message):
    with pytest.raises(UserError, match=message):
        prepare(_raw(), settings)
