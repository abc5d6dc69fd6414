import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from medal.data.features import (
    HogFeatures,
    PatchKMeansFeatures,
    ScatteringFeatures,
    quadrant_sum_pool,
    triangle_activation,
)

from conftest import medmnist_arrays

SMALL = {"n_centroids": 8, "patch_size": 5, "n_patches": 500, "random_state": 0}


def _images(n: int = 12, seed: int = 0) -> np.ndarray:
    return medmnist_arrays(n_train=n, seed=seed)["train_images"]


def test_triangle_activation_by_hand():
    # Distances 1, 2, 6 to three centroids: mean 3, so activations max(0, 3 - z) = 2, 1, 0.
    assert triangle_activation(np.array([[1.0, 2.0, 6.0]])).tolist() == [[2.0, 1.0, 0.0]]
    # Equal distances: no centroid is closer than average, every activation is zero.
    assert triangle_activation(np.array([[4.0, 4.0]])).tolist() == [[0.0, 0.0]]


def test_quadrant_sum_pool_by_hand():
    # A 3 x 3 map with one feature: the odd middle row and column go to the first halves.
    responses = np.arange(9, dtype=float).reshape(1, 3, 3, 1)
    # Quadrants: rows {0,1} x cols {0,1} = 0+1+3+4; rows {0,1} x col {2} = 2+5; row {2} x cols {0,1} = 6+7; 8.
    assert quadrant_sum_pool(responses).tolist() == [[8.0, 7.0, 13.0, 8.0]]


def test_quadrant_pooling_orders_features_by_quadrant_then_centroid():
    responses = np.zeros((1, 4, 4, 2))
    responses[0, 3, 3, 1] = 5.0  # bottom-right quadrant, centroid 1
    assert quadrant_sum_pool(responses).tolist() == [[0, 0, 0, 0, 0, 0, 0, 5.0]]


def test_learned_features_have_four_pooled_values_per_centroid_and_names_in_that_order():
    extractor = PatchKMeansFeatures(**SMALL).fit(_images())
    features = extractor.transform(_images(5, seed=1))
    assert features.shape == (5, 32) == (5, extractor.output_dimension((28, 28)))
    names = extractor.get_feature_names_out()
    assert len(names) == 32 and names[0] == "centroid0_top_left" and names[-1] == "centroid7_bottom_right"
    assert np.all(features >= 0) and np.all(np.isfinite(features))


def test_learned_features_are_deterministic_and_use_the_seed():
    images = _images()
    first = PatchKMeansFeatures(**SMALL).fit_transform(images)
    assert np.array_equal(first, PatchKMeansFeatures(**SMALL).fit_transform(images))
    assert not np.array_equal(first, PatchKMeansFeatures(**{**SMALL, "random_state": 1}).fit_transform(images))


def test_learned_features_do_not_depend_on_the_number_of_threads():
    # scikit-learn's k-means sums per thread: the extractor runs it on one thread so every machine agrees.
    images = _images(30)
    with threadpool_limits(limits=1):
        one = PatchKMeansFeatures(**SMALL).fit_transform(images)
    with threadpool_limits(limits=4):
        four = PatchKMeansFeatures(**SMALL).fit_transform(images)
    assert np.array_equal(one, four)


def test_learned_features_are_fitted_on_the_fitting_images_only():
    pool, other = _images(), _images(seed=3)
    extractor = PatchKMeansFeatures(**SMALL).fit(pool)
    centroids = extractor.centroids_.copy()
    extractor.transform(other)  # encoding other images must not move the dictionary
    assert np.array_equal(centroids, extractor.centroids_)
    assert not np.array_equal(centroids, PatchKMeansFeatures(**SMALL).fit(other).centroids_)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 7))
def test_batching_does_not_change_the_features(batch_size):
    images = _images(9)
    extractor = PatchKMeansFeatures(**SMALL).fit(images)
    whole = extractor.transform(images)
    extractor.set_params(batch_size=batch_size)
    assert np.allclose(whole, extractor.transform(images), rtol=0, atol=1e-12)


def test_bad_inputs_and_settings_are_refused():
    with pytest.raises(ValueError, match=r"expected images of shape \(n_images, height, width\) or"):
        PatchKMeansFeatures(**SMALL).fit(np.zeros((4, 784)))
    with pytest.raises(ValueError, match="patch_size 30 is larger than the images"):
        PatchKMeansFeatures(**{**SMALL, "patch_size": 30}).fit(_images())
    with pytest.raises(InvalidParameterError, match="n_centroids"):
        PatchKMeansFeatures(n_centroids=1).fit(_images())
    extractor = PatchKMeansFeatures(**SMALL).fit(_images())
    with pytest.raises(ValueError, match=r"images of shape \(20, 20\) given, fitted on \(28, 28\)"):
        extractor.transform(np.zeros((2, 20, 20), dtype=np.uint8))


@pytest.mark.parametrize("orientations, cell, block", [(9, 7, 2), (4, 4, 3), (6, 14, 1)])
def test_hog_dimension_matches_the_formula(orientations, cell, block):
    hog = HogFeatures(orientations, cell, block).fit(_images(3))
    assert hog.transform(_images(3)).shape == (3, hog.output_dimension((28, 28)))


def test_hog_of_a_vertical_edge_is_concentrated_in_the_horizontal_gradient_bin():
    image = np.zeros((1, 28, 28), dtype=np.uint8)
    image[:, :, 14:] = 255  # dark left half, bright right half: the gradient points along x
    features = HogFeatures(orientations=4, pixels_per_cell=7, cells_per_block=1).fit(image).transform(image)
    cells = features.reshape(4, 4, 4)  # cells x cells x orientation bins
    assert cells[:, 1:3].argmax(axis=-1).tolist() == [[0, 0]] * 4  # bin 0 holds gradients along x
    assert np.all(cells[:, 0] == 0) and np.all(cells[:, 3] == 0)  # flat cells far from the edge have none


def test_hog_refuses_images_smaller_than_one_block():
    with pytest.raises(ValueError, match="fewer than cells_per_block 3"):
        HogFeatures(pixels_per_cell=14, cells_per_block=3).fit(_images(2))


def _colour_images(n: int = 12, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 14, 14, 3), dtype=np.uint8)


def test_colour_patches_are_read_in_the_order_they_were_sampled():
    images = _colour_images() / 255.0
    model = PatchKMeansFeatures(patch_size=4, n_patches=5)
    sampled = model._sample_patches(images, np.random.RandomState(3))
    draws = np.random.RandomState(3)
    which, rows, cols = (draws.randint(limit, size=5) for limit in (len(images), 11, 11))
    windows = model._windows(images)
    assert sampled.shape == (5, 4 * 4 * 3)
    for k in range(5):
        by_hand = images[which[k], rows[k] : rows[k] + 4, cols[k] : cols[k] + 4, :].reshape(-1)
        assert np.array_equal(sampled[k], by_hand) and np.array_equal(windows[which[k], rows[k], cols[k]], by_hand)


def test_colour_images_give_learned_and_hog_features_of_the_grey_dimension():
    images = _colour_images()
    learned = PatchKMeansFeatures(n_centroids=4, patch_size=4, n_patches=200, random_state=0).fit(images)
    assert learned.transform(images).shape == (12, 16)
    hog = HogFeatures(orientations=4, pixels_per_cell=7, cells_per_block=2).fit(images)
    assert hog.transform(images).shape == HogFeatures(4, 7, 2).fit(images[..., 0]).transform(images[..., 0]).shape
    assert hog.transform(images).shape[1] == hog.output_dimension(images.shape[1:])
    # Three equal channels: HOG takes the strongest channel's gradient, so it equals the grey image's.
    grey = images[..., :1].repeat(3, axis=-1)
    assert np.allclose(hog.transform(grey), hog.transform(grey[..., 0]))


@pytest.mark.parametrize(
    ("J", "L", "max_order", "coefficients"), [(2, 8, 2, 81), (3, 8, 2, 217), (2, 4, 1, 9), (1, 6, 2, 7)]
)
def test_scattering_has_the_counted_coefficients_per_subsampled_pixel(J, L, max_order, coefficients):
    """1 + J L first-order and L^2 J (J - 1) / 2 second-order channels, each at (side // 2^J)^2 positions."""
    scattering = ScatteringFeatures(J=J, L=L, max_order=max_order)
    assert scattering.n_coefficients() == coefficients
    features = scattering.fit(_images(3)).transform(_images(3))
    assert features.shape == (3, coefficients * (28 // 2**J) ** 2) == (3, scattering.output_dimension((28, 28)))


def test_scattering_of_a_constant_image_is_its_mean_and_nothing_else():
    """Wavelets have zero mean: a constant image has no first- or second-order energy, and the zeroth order is
    the (low-pass filtered) intensity itself."""
    images = np.full((2, 28, 28), 0.4)
    features = ScatteringFeatures(J=2, L=8).fit(images).transform(images).reshape(2, 81, 7, 7)
    np.testing.assert_allclose(features[:, 0], 0.4, rtol=1e-4)  # the Gaussian low-pass sums to 1 up to truncation
    np.testing.assert_allclose(features[:, 1:], 0, atol=1e-4)


def test_scattering_is_nearly_invariant_to_a_small_shift_and_stateless():
    image = np.zeros((1, 28, 28))
    image[0, 10:18, 12:14] = 1.0
    shifted = np.roll(image, 1, axis=2)
    scattering = ScatteringFeatures(J=2, L=8).fit(_images(4))
    original, moved = scattering.transform(image), scattering.transform(shifted)
    pixel_change = np.linalg.norm(image - shifted) / np.linalg.norm(image)  # 1: half the bar moved
    assert np.linalg.norm(original - moved) / np.linalg.norm(original) < 0.4 * pixel_change
    np.testing.assert_array_equal(ScatteringFeatures(J=2, L=8).fit(image).transform(image), original)


def test_colour_scattering_transforms_each_channel_apart():
    images = np.random.default_rng(0).random((2, 28, 28, 3))
    scattering = ScatteringFeatures(J=2, L=4).fit(images)
    features = scattering.transform(images).reshape(2, 3, -1)
    assert features.shape[2] * 3 == scattering.output_dimension((28, 28, 3))
    for channel in range(3):
        grey = images[..., channel]
        np.testing.assert_allclose(features[:, channel], ScatteringFeatures(J=2, L=4).fit(grey).transform(grey))


def test_scattering_refuses_images_smaller_than_its_largest_scale_and_bad_settings():
    with pytest.raises(ValueError, match="smaller than 2\\*\\*J"):
        ScatteringFeatures(J=4).fit(np.zeros((2, 12, 12)))
    with pytest.raises(InvalidParameterError):
        ScatteringFeatures(max_order=3).fit(_images(2))
    with pytest.raises(ValueError, match="fitted on"):
        ScatteringFeatures().fit(_images(2)).transform(np.zeros((2, 32, 32)))
