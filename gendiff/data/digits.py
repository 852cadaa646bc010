"""The 8x8 handwritten digits shipped with scikit-learn (1,797 images, no download).

Pixel values are integers 0..16 (17 levels), scaled to [-1, 1] by x = v / 8 - 1.
The split is fixed and stratified: within each class, a permutation drawn from
``np.random.default_rng(0)`` puts round(0.2 * class size) images into 'test' and the
rest into 'train', giving 1,438 train and 359 test images; each split keeps the
original order of the sklearn array. The data file is read from scikit-learn's installed
package without importing scikit-learn (which takes over a second).
"""

from __future__ import annotations

import functools
import importlib.util
import os

import numpy as np

from gendiff.data.dataset import ArrayDataset, scale_levels

NUM_LEVELS = 17
SPLITS = ("train", "test")
_TEST_FRACTION = 0.2
_SPLIT_SEED = 0


def split_indices(labels: np.ndarray, split: str) -> np.ndarray:
    """Sorted indices of ``split`` in the fixed stratified train/test split of ``labels``.

    Example:
      >>> split_indices(np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]), "test").size
      2
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    rng = np.random.default_rng(_SPLIT_SEED)
    test = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        test.append(members[: round(_TEST_FRACTION * members.size)])
    is_test = np.zeros(labels.shape, bool)
    is_test[np.concatenate(test)] = True
    return np.flatnonzero(is_test if split == "test" else ~is_test)


def load_digits(split: str = "train") -> ArrayDataset:
    """Loads one split of the sklearn digits as (N, 8, 8, 1) images in [-1, 1].

    Args:
      split: 'train' (1,438 images) or 'test' (359 images).

    Returns:
      ArrayDataset named 'digits' with int32 labels, num_classes=10, num_levels=17.

    Example:
      >>> load_digits("test").images.shape
      (359, 8, 8, 1)
    """
    pixels, target = _raw_digits()
    idx = split_indices(target, split)
    images = scale_levels(pixels[idx].astype(np.int64), NUM_LEVELS)[..., None]
    return ArrayDataset(
        images=images,
        labels=target[idx].astype(np.int32),
        num_levels=NUM_LEVELS,
        num_classes=10,
        name="digits",
    )


@functools.lru_cache(maxsize=1)
def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 images (N, 8, 8) of levels 0..16 and their labels, in scikit-learn's order:
    its ``datasets/data/digits.csv.gz`` (64 pixels and the label per row), which
    ``sklearn.datasets.load_digits`` reads the same way."""
    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("The 8x8 digits come with scikit-learn: pip install scikit-learn.")
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    table = np.loadtxt(path, delimiter=",")
    pixels, target = table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    pixels.flags.writeable = target.flags.writeable = False  # shared by every call
    return pixels, target
