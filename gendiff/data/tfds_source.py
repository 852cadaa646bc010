"""MNIST, Fashion-MNIST and CIFAR-10 through ``tfds.data_source`` (no TensorFlow needed).

``tfds.data_source`` reads the ArrayRecord files of a prepared dataset (preparing them
first when ``data_dir`` lacks them and the network allows). These datasets are small
(at most 70,000 images of at most 32x32x3 bytes), so every record of the split is read
into one NumPy array. Records are read one at a time (``source[i]``): that is also the
access path that ``tfds.testing.mock_data`` fakes correctly (its batched
``__getitems__`` mock fails in tensorflow-datasets 4.9.10).

``tensorflow_datasets`` is imported only when a dataset is loaded, as importing it is slow.
"""

from __future__ import annotations

import os

import numpy as np

from gendiff.data.dataset import ArrayDataset, scale_levels

NAMES = ("mnist", "fashion_mnist", "cifar10")
NUM_LEVELS = 256
NUM_CLASSES = 10


def load_tfds(
    name: str, split: str = "train", data_dir: str | os.PathLike | None = None
) -> ArrayDataset:
    """Loads a whole split of a TFDS image dataset as (N, H, W, C) images in [-1, 1].

    Args:
      name: one of :data:`NAMES`.
      split: any TFDS split string, e.g. 'train', 'test' or 'train[:10%]'.
      data_dir: TFDS data directory; None uses TFDS's default (``$TFDS_DATA_DIR`` or
        ``~/tensorflow_datasets``).

    Returns:
      ArrayDataset with int32 labels, num_classes=10 and num_levels=256.

    Example:
      >>> load_tfds("mnist", "test").images.shape  # doctest: +SKIP
      (10000, 28, 28, 1)
    """
    if name not in NAMES:
        raise ValueError(f"unknown TFDS dataset {name!r}; valid names: {', '.join(NAMES)}")
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

    source = tfds.data_source(name, split=split, data_dir=data_dir)
    records = [source[i] for i in range(len(source))]
    pixels = np.stack([r["image"] for r in records])  # (N, H, W, C) uint8
    labels = np.array([r["label"] for r in records], dtype=np.int32)
    return ArrayDataset(
        images=scale_levels(pixels, NUM_LEVELS),
        labels=labels,
        num_levels=NUM_LEVELS,
        num_classes=NUM_CLASSES,
        name=name,
    )
