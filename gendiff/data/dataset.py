"""An in-memory dataset of examples and optional labels, held as NumPy arrays on the host.

One container serves images and toy 2-D points alike; the rank of ``images`` tells them
apart:

* images: (N, H, W, C) float32 in [-1, 1], channels-last. They come from integer pixel
  values v in {0, ..., K-1} through x = 2 v / (K - 1) - 1 (:func:`scale_levels`), and
  ``num_levels`` = K records that grid (17 for sklearn digits, 256 for 8-bit images) for
  discretised likelihoods and bits/dim.
* points: (N, D) float32, any finite values (toy 2-D data is standardised, not clipped
  to [-1, 1]); ``num_levels`` is None because the data is continuous.
"""

from __future__ import annotations

import dataclasses

import numpy as np


def validate_images(x: np.ndarray, name: str) -> None:
    """Checks that ``x`` is a batch of images (N, H, W, C) with finite values in [-1, 1].

    Args:
      x: array to check (NumPy or JAX).
      name: what ``x`` is, used in the error message.

    Raises:
      ValueError: wrong rank, NaN/inf, or values outside [-1, 1] (the message reports the
        min and max found).

    Example:
      >>> validate_images(np.zeros((2, 8, 8, 1), np.float32), "digits")
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected images of shape (N, H, W, C); got shape {x.shape}")
    _check_finite(x, name)
    if x.size == 0:
        return
    lo, hi = float(x.min()), float(x.max())
    if lo < -1.0 or hi > 1.0:
        raise ValueError(f"{name}: image values must lie in [-1, 1]; found min {lo}, max {hi}")


def scale_levels(levels: np.ndarray, num_levels: int) -> np.ndarray:
    """Maps integer levels v in {0, ..., K-1} to x = 2 v / (K - 1) - 1 in [-1, 1], float32.

    Example:
      >>> scale_levels(np.array([0, 8, 16]), 17)
      array([-1.,  0.,  1.], dtype=float32)
    """
    levels = np.asarray(levels)
    if levels.size and (levels.min() < 0 or levels.max() > num_levels - 1):
        raise ValueError(
            f"levels must lie in [0, {num_levels - 1}] for num_levels={num_levels}; "
            f"found min {levels.min()}, max {levels.max()}"
        )
    return (levels.astype(np.float32) * (2.0 / (num_levels - 1)) - 1.0).astype(np.float32)


@dataclasses.dataclass(frozen=True, eq=False)
class ArrayDataset:
    """Examples with optional labels; validated on construction.

    Attributes:
      images: (N, H, W, C) float32 images in [-1, 1], or (N, D) float32 points.
      labels: (N,) int32 class labels in [0, num_classes), or None.
      num_levels: number K of equally spaced values each pixel took before scaling,
        or None for continuous data.
      num_classes: number of label classes, or None when there are no labels.
      name: dataset name, e.g. "digits" or "toy2d/two_moons".

    Example:
      >>> ds = ArrayDataset(np.zeros((3, 2), np.float32), None, None, None, "points")
      >>> len(ds), ds.example_shape
      (3, (2,))
    """

    images: np.ndarray
    labels: np.ndarray | None
    num_levels: int | None
    num_classes: int | None
    name: str

    def __post_init__(self):
        if self.images.dtype != np.float32:
            raise ValueError(f"{self.name}: images must be float32; got {self.images.dtype}")
        if self.images.ndim == 2:
            _check_finite(self.images, self.name)
        elif self.images.ndim == 4:
            validate_images(self.images, self.name)
        else:
            raise ValueError(
                f"{self.name}: expected images (N, H, W, C) or points (N, D); got shape {self.images.shape}"
            )
        if self.num_levels is not None and self.num_levels < 2:
            raise ValueError(f"{self.name}: num_levels must be >= 2 or None; got {self.num_levels}")
        if (self.labels is None) != (self.num_classes is None):
            raise ValueError(f"{self.name}: give both labels and num_classes, or neither")
        if self.labels is not None:
            self._check_labels()

    def _check_labels(self):
        labels, n = self.labels, len(self.images)
        if labels.dtype != np.int32 or labels.shape != (n,):
            raise ValueError(
                f"{self.name}: labels must be int32 of shape ({n},); got {labels.dtype} {labels.shape}"
            )
        if n and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"{self.name}: labels must lie in [0, {self.num_classes}); "
                f"found min {labels.min()}, max {labels.max()}"
            )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def example_shape(self) -> tuple[int, ...]:
        """Shape of one example: (H, W, C) for images, (D,) for points."""
        return self.images.shape[1:]


def _check_finite(x: np.ndarray, name: str) -> None:
    if not np.isfinite(x).all():
        raise ValueError(
            f"{name}: values must be finite; found {int(np.isnan(x).sum())} NaN and "
            f"{int(np.isinf(x).sum())} inf"
        )
