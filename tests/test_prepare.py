import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from medal.data.prepare import prepare
from medal.errors import UserError

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


LEARNED = {"features": "learned", "n_centroids": 8, "patch_size": 5, "n_patches": 500}


def test_learned_features_are_standardised_and_optionally_projected():
    out = prepare(_raw(), LEARNED)
    assert out["X_pool"].shape == (40, 32) and out["X_test"].shape == (10, 32)
    assert np.allclose(out["X_pool"].mean(axis=0), 0, atol=1e-9)
    projected = prepare(_raw(), {**LEARNED, "pca_components": 6})
    assert projected["X_pool"].shape == (40, 6)


def test_learned_features_default_to_a_fixed_seed():
    assert np.array_equal(prepare(_raw(), LEARNED)["X_pool"], prepare(_raw(), {**LEARNED, "random_state": 0})["X_pool"])


def test_learned_features_ignore_the_test_images():
    raw = _raw()
    first = prepare(raw, LEARNED)
    raw["X_test"] = np.full_like(raw["X_test"], 255)
    assert np.array_equal(first["X_pool"], prepare(raw, LEARNED)["X_pool"])


def test_hog_features():
    out = prepare(_raw(), {"features": "hog", "orientations": 9, "pixels_per_cell": 7, "cells_per_block": 2})
    assert out["X_pool"].shape == (40, 3 * 3 * 4 * 9)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({**LEARNED, "pca_components": 33}, "pca_components must be an integer in 1..32, got 33"),
        ({**LEARNED, "n_centroid": 8}, "unknown key 'n_centroid' in prepare (learned features)"),
        ({"features": "raw", "n_centroids": 8}, "unknown key 'n_centroids' in prepare (raw features); valid: features"),
        ({"features": "pca"}, "prepare pca features need pca_components"),
        ({**LEARNED, "contrast_eps": 0}, "The 'contrast_eps' parameter of PatchKMeansFeatures must be"),
        ({"features": "hog", "orientations": "nine"}, "The 'orientations' parameter of HogFeatures must be"),
        ({"features": "scattering", "J": 0}, "The 'J' parameter of ScatteringFeatures must be"),
        (
            {"features": "raw", "kernel_components": 0, "kernel_gamma": 1},
            "kernel_components must be a positive integer",
        ),
        ({"features": "raw", "kernel_components": 5}, "kernel_gamma must be a positive number, got None"),
        ({"features": "raw", "kernel_components": 5, "kernel_gamma": "1"}, "kernel_gamma must be a positive number"),
    ],
)
def test_bad_image_feature_settings_are_named(settings, message):
    with pytest.raises(UserError) as info:
        prepare(_raw(), settings)
    assert message in str(info.value)


def test_image_features_are_refused_for_tabular_data():
    raw = _raw()
    raw["X_train"], raw["X_test"] = raw["X_train"].reshape(40, -1), raw["X_test"].reshape(10, -1)
    with pytest.raises(UserError, match="features 'learned' need images; use raw or pca for tabular data"):
        prepare(raw, LEARNED)


def test_feature_sets_reuse_the_prepared_file_for_the_study_setting(tmp_path):
    from medal.data.prepare import feature_sets
    from medal.fileio import write_npz_atomic

    raw = _raw()
    write_npz_atomic(tmp_path / "raw.npz", raw)
    marker = {k: np.asarray(v) for k, v in prepare(raw, {"features": "raw"}).items()}
    marker["X_pool"] = np.full_like(marker["X_pool"], 7.0)  # recognisable: not what prepare would compute
    write_npz_atomic(tmp_path / "prepared.npz", marker)
    sets = feature_sets(
        {"mine": {"features": "raw"}, "pca": {"features": "pca", "pca_components": 3}},
        {"features": "raw"},
        tmp_path / "raw.npz",
        tmp_path / "prepared.npz",
    )
    assert np.all(sets["mine"]["X_pool"] == 7.0)
    assert sets["pca"]["X_pool"].shape == (40, 3)


def test_features_do_not_depend_on_the_callers_blas_thread_count():
    # LAPACK's SVD splits its sums by thread: on 2 threads this PCA differs from 1 thread in the last bits.
    rng = np.random.RandomState(0)
    raw = {"X_train": rng.rand(300, 200), "y_train": np.arange(300) % 2, "X_test": rng.rand(50, 200), "y_test": None}
    settings = {"features": "pca", "pca_components": 50}
    features = {}
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            features[threads] = prepare(raw, settings)
    for key in ("X_pool", "X_test"):
        assert features[1][key].tobytes() == features[2][key].tobytes()


def test_scattering_with_a_kernel_map_gives_standardised_components_capped_at_the_pool():
    out = prepare(_raw(), {"features": "scattering", "J": 2, "L": 4, "kernel_components": 100, "kernel_gamma": 1.0})
    assert out["X_pool"].shape == (40, 40) and out["X_test"].shape == (10, 40)  # 100 components, 40 pool images
    assert np.allclose(out["X_pool"].mean(axis=0), 0, atol=1e-9)
    assert np.allclose(out["X_pool"].std(axis=0), 1, atol=1e-6)


def test_the_kernel_gamma_is_relative_to_the_dimension_it_maps():
    """kernel_gamma 1 is scikit-learn's "scale" gamma on standardised features: 1 / dimension, after PCA if any."""
    from medal.data.prepare import build_transform

    plain = build_transform({"features": "raw", "kernel_components": 8, "kernel_gamma": 2.0}, (28, 28), 40)
    assert plain[-2].gamma == pytest.approx(2.0 / 784)
    projected = build_transform(
        {"features": "raw", "pca_components": 10, "kernel_components": 8, "kernel_gamma": 2.0}, (28, 28), 40
    )
    assert projected[-2].gamma == pytest.approx(0.2)


def test_a_large_test_set_is_cut_to_a_seeded_stratified_subset_the_same_every_time():
    from medal.data.prepare import scored_test_images

    y = np.repeat([0, 1, 2, 3], [700, 250, 48, 2])  # 1,000 test images, a rare last class
    chosen = scored_test_images(y, 100)
    assert len(chosen) == 100 and np.all(np.diff(chosen) > 0)
    assert np.bincount(y[chosen]).tolist() == [70, 25, 4, 1]  # in proportion, at least one of each class
    assert np.array_equal(chosen, scored_test_images(y, 100))
    assert np.array_equal(scored_test_images(y, 1000), np.arange(1000))
    assert np.array_equal(scored_test_images(y, None), np.arange(1000))


def test_prepare_scores_the_subset_of_the_test_set_and_fits_on_the_pool_only():
    from medal.data.prepare import scored_test_images

    rng = np.random.RandomState(0)
    raw = {
        "X_train": rng.rand(60, 5),
        "y_train": np.arange(60) % 2,
        "X_test": rng.rand(40, 5),
        "y_test": np.arange(40) % 2,
    }
    whole, cut = prepare(raw, {"features": "raw"}), prepare(raw, {"features": "raw"}, max_test_images=10)
    kept = scored_test_images(raw["y_test"], 10)
    assert np.array_equal(cut["X_pool"], whole["X_pool"])
    assert np.array_equal(cut["X_test"], whole["X_test"][kept]) and np.array_equal(cut["y_test"], raw["y_test"][kept])
