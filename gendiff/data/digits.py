"""The 8x8 handwritten digits shipped with scikit-learn (1,797 images, no download).

Pixel values are integers 0..16 (17 levels), scaled to [-1, 1] by x = v / 8 - 1.
The split is fixed and stratified: within each class, a permutation drawn from
``np.random.default_rng(0)`` puts round(0.2 * class size) images into 'test' and the
rest into 'train', giving 1,438 train and 359 test images; each split keeps the
original order of the sklearn array. scikit-learn is imported on first load (it takes
over a second to import).
"""

from __future__ import annotations

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
    from sklearn import datasets  # pylint: disable=g-import-not-at-top; slow to import

    raw = datasets.load_digits()
    idx = split_indices(raw.target, split)
    images = scale_levels(raw.images[idx].astype(np.int64), NUM_LEVELS)[..., None]
    return ArrayDataset(
        images=images,
        labels=raw.target[idx].astype(np.int32),
        num_levels=NUM_LEVELS,
        num_classes=10,
        name="digits",
    )
