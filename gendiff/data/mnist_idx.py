"""MNIST-format IDX files from a local directory (MNIST, Fashion-MNIST and the like).

IDX layout: a 4-byte magic number (two zero bytes, a type code, the number of
dimensions d), then d big-endian uint32 sizes, then the values in row-major order,
big-endian. Files may be gzip-compressed (detected from their first bytes, not their
name). A split 'train' or 'test' reads ``{prefix}-images-idx3-ubyte[.gz]`` and
``{prefix}-labels-idx1-ubyte[.gz]`` with prefix 'train' or 't10k'.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from gendiff.data.dataset import ArrayDataset, scale_levels

SPLIT_PREFIXES = {"train": "train", "test": "t10k"}
NUM_LEVELS = 256
# 'mnist_idx_t10k': the 10,000 t10k images divided by one fixed permutation.
T10K_SPLIT_SEED = 0
T10K_NUM_TRAIN = 8_000

# IDX type code -> element dtype (big-endian).
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads one IDX file (plain or gzip) into an array of the shape its header gives.

    Raises:
      ValueError: bad magic number, unknown type code, or a size that does not match the
        header.

    Example:
      >>> read_idx("t10k-labels-idx1-ubyte.gz").shape  # doctest: +SKIP
      (10000,)
    """
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == _GZIP_MAGIC:
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file; magic number {data[:4].hex()} should be 0000TTDD with a type "
            f"code TT in {{{', '.join(f'{t:02x}' for t in _IDX_DTYPES)}}} and DD dimensions"
        )
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(f"{path}: truncated header; {ndim} dimensions need {header_size} bytes")
    shape = tuple(int(s) for s in np.frombuffer(data[4:header_size], dtype=">u4"))
    expected = header_size + dtype.itemsize * int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(
            f"{path}: header says shape {shape} of {dtype} ({expected} bytes in all); "
            f"the file has {len(data)} bytes"
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header_size)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def load_mnist_idx(data_dir: str | os.PathLike, split: str = "train") -> ArrayDataset:
    """Loads MNIST-format IDX images and labels as (N, H, W, 1) images in [-1, 1].

    Args:
      data_dir: directory holding the IDX files.
      split: 'train' (train-*) or 'test' (t10k-*).

    Returns:
      ArrayDataset named 'mnist_idx' with int32 labels, num_classes=10, num_levels=256.

    Raises:
      FileNotFoundError: a file is missing (the message lists the names tried).
      ValueError: unknown split, malformed files, or images and labels that disagree.

    Example:
      >>> load_mnist_idx("/path/to/mnist", "test").images.shape  # doctest: +SKIP
      (10000, 28, 28, 1)
    """
    if split not in SPLIT_PREFIXES:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLIT_PREFIXES)}")
    prefix = SPLIT_PREFIXES[split]
    pixels = read_idx(_find(data_dir, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find(data_dir, f"{prefix}-labels-idx1-ubyte"))
    if pixels.dtype != np.uint8 or pixels.ndim != 3:
        raise ValueError(
            f"{split} images: expected uint8 (N, H, W); got {pixels.dtype} {pixels.shape}"
        )
    if labels.dtype != np.uint8 or labels.shape != pixels.shape[:1]:
        raise ValueError(
            f"{split} labels: expected uint8 ({len(pixels)},) to match the images; "
            f"got {labels.dtype} {labels.shape}"
        )
    return ArrayDataset(
        images=scale_levels(pixels, NUM_LEVELS)[..., None],
        labels=labels.astype(np.int32),
        num_levels=NUM_LEVELS,
        num_classes=10,
        name="mnist_idx",
    )


def load_mnist_t10k_split(data_dir: str | os.PathLike, split: str = "train") -> ArrayDataset:
    """The t10k images of an IDX directory, divided into 8,000 'train' and 2,000 'test' images.

    For machines that hold only the MNIST test set: one permutation drawn with
    ``numpy.random.default_rng(T10K_SPLIT_SEED)`` orders the t10k examples; the first
    ``T10K_NUM_TRAIN`` are 'train', the rest 'test'. Figures measured on it are not
    comparable with figures trained on the 60,000 training images; say so when reporting.

    Args:
      data_dir: directory holding ``t10k-images-idx3-ubyte[.gz]`` and the labels file.
      split: 'train' or 'test'.

    Returns:
      ArrayDataset named 'mnist_idx_t10k' (28x28x1 images in [-1, 1], int32 labels).

    Raises:
      ValueError: unknown split, or fewer t10k examples than the 8,000 'train' images need.

    Example:
      >>> load_mnist_t10k_split("/path/to/mnist", "test").images.shape  # doctest: +SKIP
      (2000, 28, 28, 1)
    """
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; valid splits: train, test")
    full = load_mnist_idx(data_dir, "test")
    if len(full) <= T10K_NUM_TRAIN:
        raise ValueError(
            f"mnist_idx_t10k needs more than {T10K_NUM_TRAIN} t10k examples in {data_dir}; "
            f"found {len(full)}"
        )
    order = np.random.default_rng(T10K_SPLIT_SEED).permutation(len(full))
    rows = order[:T10K_NUM_TRAIN] if split == "train" else order[T10K_NUM_TRAIN:]
    return ArrayDataset(
        images=full.images[rows],
        labels=full.labels[rows],
        num_levels=NUM_LEVELS,
        num_classes=10,
        name="mnist_idx_t10k",
    )


def _find(data_dir: str | os.PathLike, stem: str) -> str:
    candidates = [os.path.join(data_dir, stem + ext) for ext in (".gz", "")]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"no IDX file {stem}[.gz] in {data_dir}; tried {', '.join(candidates)}")
