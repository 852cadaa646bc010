"""Evaluation: Fréchet distance, sliced Wasserstein, MMD, FD-digits features, PNG writers."""

from gendiff.metrics.digits_fd import (
    ClassifierConfig,
    DigitsFeatureExtractor,
    fd_digits,
    load_or_train,
)
from gendiff.metrics.frechet import (
    frechet_distance,
    frechet_distance_from_features,
    gaussian_statistics,
)
from gendiff.metrics.images import grid_image_size, save_image_grid, save_scatter
from gendiff.metrics.mmd import mmd_rbf
from gendiff.metrics.swd import sliced_wasserstein

__all__ = [
    "ClassifierConfig",
    "DigitsFeatureExtractor",
    "fd_digits",
    "frechet_distance",
    "frechet_distance_from_features",
    "gaussian_statistics",
    "grid_image_size",
    "load_or_train",
    "mmd_rbf",
    "save_image_grid",
    "save_scatter",
    "sliced_wasserstein",
]
