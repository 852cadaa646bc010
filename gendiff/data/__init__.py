"""Datasets: toy 2-D distributions, sklearn digits, MNIST IDX files, TFDS images, synthetic
sequence tasks (:mod:`gendiff.data.tasks`) and source/target domains for domain adaptation
(:mod:`gendiff.data.domains`).

:func:`load` returns any of them as an in-memory :class:`ArrayDataset`; batches come
from the stateless :class:`EpochBatcher` and :func:`get_batch`.

Example:
  >>> from gendiff import data
  >>> ds = data.load("toy2d/two_moons", "test")
  >>> batcher = data.EpochBatcher(len(ds), batch_size=128, seed=0)
  >>> data.get_batch(ds, batcher.indices(0))["image"].shape
  (128, 2)
"""

from __future__ import annotations

import os

import jax
import numpy as np

from gendiff.data import domains, tasks, toy2d
from gendiff.data.batching import EpochBatcher, get_batch
from gendiff.data.dataset import ArrayDataset, validate_images
from gendiff.data.digits import load_digits
from gendiff.data.gaussian_mixture import (
    PACGAN_MIXTURES,
    pacgan_mixture,
    sample_gaussian_mixture,
)
from gendiff.data.mnist_idx import load_mnist_idx, load_mnist_t10k_split
from gendiff.data.sources import (
    ArrayBatches,
    BatchSource,
    FullBatch,
    GeneratedBatches,
    GrainBatches,
    IndexedBatches,
    WithStep,
)
from gendiff.data.tfds_source import NAMES as TFDS_NAMES
from gendiff.data.tfds_source import load_tfds

__all__ = [
    "ArrayBatches",
    "ArrayDataset",
    "BatchSource",
    "EpochBatcher",
    "FullBatch",
    "GeneratedBatches",
    "GrainBatches",
    "IndexedBatches",
    "NAMES",
    "PACGAN_MIXTURES",
    "domains",
    "get_batch",
    "load",
    "pacgan_mixture",
    "sample_gaussian_mixture",
    "tasks",
    "toy2d",
    "validate_images",
    "WithStep",
]

NAMES = ("digits", "mnist_idx", "mnist_idx_t10k", *TFDS_NAMES, *(f"toy2d/{n}" for n in toy2d.NAMES))

# 'toy2d/<name>': a fixed sample per split, (number of points, seed).
TOY2D_SPLITS = {"train": (10_000, 0), "test": (2_000, 1)}


def load(
    name: str, split: str = "train", data_dir: str | os.PathLike | None = None
) -> ArrayDataset:
    """Loads a dataset by name.

    Args:
      name: one of :data:`NAMES`:
        'digits' (sklearn 8x8 digits, fixed stratified split; ``data_dir`` unused);
        'mnist_idx' (IDX files in ``data_dir``, required);
        'mnist_idx_t10k' (only the t10k IDX files in ``data_dir``: 8,000 'train' and 2,000
        'test' images by a fixed permutation, see :func:`load_mnist_t10k_split`);
        'mnist', 'fashion_mnist', 'cifar10' (through ``tfds.data_source``; ``data_dir``
        is the TFDS data directory, None for TFDS's default);
        'toy2d/<distribution>' (10,000 train points drawn with seed 0, 2,000 test
        points with seed 1; ``data_dir`` unused).
      split: 'train' or 'test' (TFDS datasets accept any TFDS split string).
      data_dir: see ``name``.

    Returns:
      The dataset as an :class:`ArrayDataset`.

    Raises:
      ValueError: unknown name or split, or 'mnist_idx' without ``data_dir``.

    Example:
      >>> load("digits", "test").images.shape
      (359, 8, 8, 1)
    """
    if name == "digits":
        return load_digits(split)
    if name == "mnist_idx":
        if data_dir is None:
            raise ValueError("'mnist_idx' needs data_dir, the directory holding the IDX files")
        return load_mnist_idx(data_dir, split)
    if name == "mnist_idx_t10k":
        if data_dir is None:
            raise ValueError(
                "'mnist_idx_t10k' needs data_dir, the directory holding the t10k IDX files"
            )
        return load_mnist_t10k_split(data_dir, split)
    if name in TFDS_NAMES:
        return load_tfds(name, split, data_dir)
    if name.startswith("toy2d/") and name in NAMES:
        return _load_toy2d(name.removeprefix("toy2d/"), split)
    raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(NAMES)}")


def _load_toy2d(distribution: str, split: str) -> ArrayDataset:
    if split not in TOY2D_SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(TOY2D_SPLITS)}")
    num_points, seed = TOY2D_SPLITS[split]
    points = toy2d.sample(jax.random.key(seed), distribution, num_points)
    return ArrayDataset(np.asarray(points), None, None, None, name=f"toy2d/{distribution}")
