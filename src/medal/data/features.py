"""Label-free image features as scikit-learn transformers: a k-means patch dictionary (Coates, Lee & Ng 2011),
histograms of oriented gradients (Dalal & Triggs 2005, from scikit-image) and the wavelet scattering transform
(Mallat 2012; Oyallon & Mallat 2015, from kymatio)."""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral, Real

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from medal.blas import one_thread


def _check_images(X: np.ndarray) -> np.ndarray:
    """Grey (n, height, width) or colour (n, height, width, channels) images as float64, in [0, 1] when stored as
    8-bit integers."""
    X = np.asarray(X)
    if X.ndim not in (3, 4):
        raise ValueError(
            f"expected images of shape (n_images, height, width) or (n_images, height, width, channels), got {X.shape}"
        )
    return X / 255.0 if X.dtype == np.uint8 else X.astype(np.float64)


def triangle_activation(distances: np.ndarray) -> np.ndarray:
    """Coates et al.'s "triangle" k-means encoding: ``max(0, mean_k(z) - z_k)`` per patch, where ``z`` holds a
    patch's distances to the centroids (last axis); about half the features are zero."""
    return np.maximum(0.0, distances.mean(axis=-1, keepdims=True) - distances)


def quadrant_sum_pool(responses: np.ndarray) -> np.ndarray:
    """Sum a response map (n, rows, cols, k) over its four quadrants -> (n, 4 * k), ordered top-left, top-right,
    bottom-left, bottom-right; an odd side gives the first half the middle row or column."""
    row_halves = np.array_split(np.arange(responses.shape[1]), 2)
    col_halves = np.array_split(np.arange(responses.shape[2]), 2)
    pooled = [responses[:, r[0] : r[-1] + 1, c[0] : c[-1] + 1].sum(axis=(1, 2)) for r in row_halves for c in col_halves]
    return np.concatenate(pooled, axis=1)


class PatchKMeansFeatures(TransformerMixin, BaseEstimator):
    """Single-layer unsupervised features of Coates, Lee & Ng (AISTATS 2011).

    ``fit`` samples ``n_patches`` square patches from the images, normalises each patch's brightness and
    contrast, whitens them (ZCA) and learns ``n_centroids`` centroids with scikit-learn's k-means.
    ``transform`` encodes every patch of an image (stride 1) with the triangle activation and sum-pools the
    responses over the image's four quadrants, giving ``4 * n_centroids`` features. No labels are used.

    Parameters
    ----------
    n_centroids : number of k-means centroids (the dictionary size).
    patch_size : side of the square patches, in pixels.
    n_patches : patches sampled for k-means.
    contrast_eps : added to a patch's variance before dividing by its standard deviation (pixels in [0, 1]).
    whitening_eps : added to the eigenvalues of the patch covariance before whitening.
    batch_size : images encoded at a time, which bounds memory.
    random_state : seed of the patch sample and of k-means.
    """

    _parameter_constraints: dict = {
        "n_centroids": [Interval(Integral, 2, None, closed="left")],
        "patch_size": [Interval(Integral, 2, None, closed="left")],
        "n_patches": [Interval(Integral, 1, None, closed="left")],
        "contrast_eps": [Interval(Real, 0, None, closed="neither")],
        "whitening_eps": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_centroids: int = 256,
        patch_size: int = 6,
        n_patches: int = 100_000,
        contrast_eps: float = 0.01,
        whitening_eps: float = 0.1,
        batch_size: int = 256,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_centroids = n_centroids
        self.patch_size = patch_size
        self.n_patches = n_patches
        self.contrast_eps = contrast_eps
        self.whitening_eps = whitening_eps
        self.batch_size = batch_size
        self.random_state = random_state

    def _normalise(self, patches: np.ndarray) -> np.ndarray:
        """Each patch (last axis) minus its mean, divided by its standard deviation (regularised)."""
        centred = patches - patches.mean(axis=-1, keepdims=True)
        return centred / np.sqrt(centred.var(axis=-1, keepdims=True) + self.contrast_eps)

    def _sample_patches(self, images: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        """``n_patches`` random patches, each flattened in (row, column[, channel]) order."""
        n, height, width = images.shape[:3]
        size = self.patch_size
        which = rng.randint(n, size=self.n_patches)
        rows = rng.randint(height - size + 1, size=self.n_patches)
        cols = rng.randint(width - size + 1, size=self.n_patches)
        offsets = np.arange(size)
        r = rows[:, None, None] + offsets[None, :, None]
        c = cols[:, None, None] + offsets[None, None, :]
        return images[which[:, None, None], r, c].reshape(self.n_patches, -1)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: np.ndarray, y: None = None) -> PatchKMeansFeatures:
        """Learn the whitening and the centroids from patches of the images ``X`` (n, height, width[, channels])."""
        images = _check_images(X)
        if min(images.shape[1:3]) < self.patch_size:
            raise ValueError(f"patch_size {self.patch_size} is larger than the images {images.shape[1:3]}")
        rng = check_random_state(self.random_state)
        patches = self._normalise(self._sample_patches(images, rng))
        self.mean_ = patches.mean(axis=0)
        kmeans = KMeans(n_clusters=self.n_centroids, n_init=1, random_state=rng.randint(2**31 - 1))
        # The eigendecomposition and scikit-learn's k-means sum in per-thread chunks: their results differ in the
        # last bits between thread counts, so they run on one thread to give every machine the same features.
        with one_thread():
            eigenvalues, eigenvectors = np.linalg.eigh(np.cov(patches, rowvar=False))
            self.whitening_ = (eigenvectors / np.sqrt(eigenvalues + self.whitening_eps)) @ eigenvectors.T
            kmeans.fit((patches - self.mean_) @ self.whitening_)
        self.centroids_ = kmeans.cluster_centers_
        self.image_shape_ = images.shape[1:]
        self.n_features_in_ = int(np.prod(self.image_shape_))
        return self

    def _batches(self, images: np.ndarray) -> Iterator[np.ndarray]:
        for start in range(0, len(images), self.batch_size):
            yield images[start : start + self.batch_size]

    def _windows(self, images: np.ndarray) -> np.ndarray:
        """Every patch of every image, (n, rows, cols, patch values) in the order :meth:`_sample_patches` uses."""
        windows = sliding_window_view(images, (self.patch_size, self.patch_size), axis=(1, 2))
        if images.ndim == 4:  # (n, rows, cols, channels, size, size) -> channels last
            windows = np.moveaxis(windows, 3, -1)
        return windows.reshape(*windows.shape[:3], -1)

    def _encode(self, images: np.ndarray) -> np.ndarray:
        patches = self._normalise(self._windows(images))
        whitened = (patches - self.mean_) @ self.whitening_
        squared = (
            np.einsum("...d,...d->...", whitened, whitened)[..., None]
            - 2 * whitened @ self.centroids_.T
            + np.einsum("kd,kd->k", self.centroids_, self.centroids_)
        )
        return quadrant_sum_pool(triangle_activation(np.sqrt(np.maximum(squared, 0.0))))

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Quadrant-pooled triangle activations, shape (n, 4 * n_centroids)."""
        check_is_fitted(self)
        images = _check_images(X)
        if images.shape[1:] != self.image_shape_:
            raise ValueError(f"images of shape {images.shape[1:]} given, fitted on {self.image_shape_}")
        return np.concatenate([self._encode(batch) for batch in self._batches(images)], axis=0)

    def output_dimension(self, image_shape: tuple[int, ...]) -> int:
        """Features per image, whatever its shape: four quadrants of ``n_centroids`` responses."""
        return 4 * self.n_centroids

    def get_feature_names_out(self, input_features: None = None) -> np.ndarray:
        """``centroid<k>_<quadrant>`` for each pooled feature, in the order ``transform`` returns them."""
        check_is_fitted(self)
        quadrants = ("top_left", "top_right", "bottom_left", "bottom_right")
        return np.array([f"centroid{k}_{q}" for q in quadrants for k in range(self.n_centroids)], dtype=object)


class HogFeatures(TransformerMixin, BaseEstimator):
    """Histograms of oriented gradients (scikit-image's ``hog``; of colour images, the strongest channel's gradient
    per pixel); stateless, nothing is learned.

    Parameters
    ----------
    orientations : number of orientation bins.
    pixels_per_cell : side of a square cell, in pixels.
    cells_per_block : side of a square normalisation block, in cells.
    """

    _parameter_constraints: dict = {
        "orientations": [Interval(Integral, 1, None, closed="left")],
        "pixels_per_cell": [Interval(Integral, 1, None, closed="left")],
        "cells_per_block": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, orientations: int = 9, pixels_per_cell: int = 7, cells_per_block: int = 2) -> None:
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block

    def output_dimension(self, image_shape: tuple[int, ...]) -> int:
        """Features per image of ``image_shape``: orientations per cell of every block that fits the image."""
        blocks = [side // self.pixels_per_cell - self.cells_per_block + 1 for side in image_shape[:2]]
        return max(blocks[0], 0) * max(blocks[1], 0) * self.cells_per_block**2 * self.orientations

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: np.ndarray, y: None = None) -> HogFeatures:
        """Check the settings against the image size; HOG learns nothing."""
        images = _check_images(X)
        cells = min(images.shape[1:3]) // self.pixels_per_cell
        if cells < self.cells_per_block:
            raise ValueError(
                f"images of {images.shape[1:3]} pixels hold {cells} cells of {self.pixels_per_cell} pixels, "
                f"fewer than cells_per_block {self.cells_per_block}"
            )
        self.image_shape_ = images.shape[1:]
        self.n_features_in_ = int(np.prod(self.image_shape_))
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """One HOG descriptor per image (L2-Hys block normalisation)."""
        from skimage.feature import hog  # scikit-image is imported only where HOG is used

        check_is_fitted(self)
        images = _check_images(X)
        cell = (self.pixels_per_cell, self.pixels_per_cell)
        block = (self.cells_per_block, self.cells_per_block)
        channels = -1 if images.ndim == 4 else None
        return np.stack(
            [hog(image, self.orientations, cell, block, feature_vector=True, channel_axis=channels) for image in images]
        )


class ScatteringFeatures(TransformerMixin, BaseEstimator):
    """The 2-D wavelet scattering transform of each image (Mallat 2012; Bruna & Mallat 2013; Oyallon & Mallat
    2015), from kymatio's NumPy frontend: averages of the moduli of Morlet wavelet responses (and of the moduli
    of their wavelet responses, for ``max_order=2``), translation-invariant up to ``2**J`` pixels and stable to
    small deformations. Fixed filters, nothing is learned. Colour images give one transform per channel.

    Parameters
    ----------
    J : number of dyadic scales; the coefficients are subsampled by ``2**J``.
    L : number of wavelet orientations.
    max_order : 1 (first-order coefficients only) or 2.
    """

    _parameter_constraints: dict = {
        "J": [Interval(Integral, 1, None, closed="left")],
        "L": [Interval(Integral, 1, None, closed="left")],
        "max_order": [Interval(Integral, 1, 2, closed="both")],
    }
    BATCH = 256  # images per call: bounds the memory of the wavelet responses

    def __init__(self, J: int = 2, L: int = 8, max_order: int = 2) -> None:
        self.J = J
        self.L = L
        self.max_order = max_order

    def n_coefficients(self) -> int:
        """Scattering channels per image channel: 1 + J L first-order, and L^2 J (J - 1) / 2 second-order."""
        second = self.L**2 * self.J * (self.J - 1) // 2 if self.max_order == 2 else 0
        return 1 + self.J * self.L + second

    def output_dimension(self, image_shape: tuple[int, ...]) -> int:
        """Features per image of ``image_shape`` ((height, width) or (height, width, channels))."""
        channels = image_shape[2] if len(image_shape) == 3 else 1
        rows, cols = (side // 2**self.J for side in image_shape[:2])
        return channels * self.n_coefficients() * rows * cols

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: np.ndarray, y: None = None) -> ScatteringFeatures:
        """Check the scales against the image size and build the filters."""
        from kymatio.scattering2d.frontend.numpy_frontend import ScatteringNumPy2D  # only where scattering is used

        images = _check_images(X)
        if min(images.shape[1:3]) < 2**self.J:
            raise ValueError(f"images of {images.shape[1:3]} pixels are smaller than 2**J = {2**self.J} pixels")
        self.image_shape_ = images.shape[1:]
        self.n_features_in_ = int(np.prod(self.image_shape_))
        self.n_output_ = self.output_dimension(self.image_shape_)
        self.scattering_ = ScatteringNumPy2D(J=self.J, shape=self.image_shape_[:2], L=self.L, max_order=self.max_order)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """One row of scattering coefficients per image (channel, coefficient, row, column order)."""
        check_is_fitted(self)
        images = _check_images(X)
        if images.shape[1:] != self.image_shape_:
            raise ValueError(f"images of shape {images.shape[1:]}, fitted on {self.image_shape_}")
        if images.ndim == 4:
            images = np.moveaxis(images, -1, 1)
        batches = range(0, len(images), self.BATCH)
        rows = [self.scattering_.scattering(images[i : i + self.BATCH]).reshape(-1, self.n_output_) for i in batches]
        return np.concatenate(rows) if rows else np.empty((0, self.n_output_))
