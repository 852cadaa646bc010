"""Evaluation: Fréchet distance, sliced Wasserstein, MMD, FD-digits features, PNG writers.

The pure-math metrics (Fréchet distance, sliced Wasserstein, MMD) import only JAX and NumPy. The
FD-digits feature extractor (Flax) and the PNG writers (matplotlib) load on first use, so that
``import gendiff.metrics.mmd`` from the math layer pulls in neither.
"""

import importlib

from gendiff.metrics.frechet import (
    frechet_distance,
    frechet_distance_from_features,
    gaussian_statistics,
)
from gendiff.metrics.mmd import mmd_rbf
from gendiff.metrics.swd import sliced_wasserstein

_LAZY = {
    "ClassifierConfig": "gendiff.metrics.digits_fd",
    "DigitsFeatureExtractor": "gendiff.metrics.digits_fd",
    "fd_digits": "gendiff.metrics.digits_fd",
    "load_or_train": "gendiff.metrics.digits_fd",
    "grid_image_size": "gendiff.metrics.images",
    "save_image_grid": "gendiff.metrics.images",
    "save_scatter": "gendiff.metrics.images",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
