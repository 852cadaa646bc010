"""Distances between samples as pure functions of arrays: Fréchet distance, SWD, MMD, the
Inception Score, KID and precision/recall of features, and the
mode coverage of samples from a mixture with known modes (PacGAN's protocol).

Nothing here trains, draws or writes files, and importing it pulls in no Flax, optax,
orbax or matplotlib. Feature extractors, the sample-quality scorer and the PNG writers are
in :mod:`gendiff.eval`.

Example:
  >>> import numpy as np
  >>> from gendiff.metrics import frechet_distance
  >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))
  4.0
"""

from gendiff.metrics.feature_metrics import (
    inception_score,
    kernel_inception_distance,
    knn_radii,
    polynomial_mmd2,
    precision_recall,
)
from gendiff.metrics.frechet import (
    frechet_distance,
    frechet_distance_from_features,
    gaussian_statistics,
)
from gendiff.metrics.mmd import mmd_rbf
from gendiff.metrics.modes import assign_modes, label_coverage, mode_coverage
from gendiff.metrics.swd import sliced_wasserstein

__all__ = [
    "assign_modes",
    "frechet_distance",
    "frechet_distance_from_features",
    "gaussian_statistics",
    "inception_score",
    "kernel_inception_distance",
    "knn_radii",
    "label_coverage",
    "mmd_rbf",
    "mode_coverage",
    "polynomial_mmd2",
    "precision_recall",
    "sliced_wasserstein",
]
