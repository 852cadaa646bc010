"""Test-suite settings shared by the unit tests (tests/conftest.py) and the docstring examples
(gendiff/conftest.py). Not part of the public API."""

from __future__ import annotations

import gzip
import os

import jax
import numpy as np


def use_persistent_compilation_cache() -> str:
    """Turns on JAX's persistent compilation cache for every program, and exports the settings
    as environment variables so that subprocesses (CLI runs, multi-process runs) share it.

    The directory is ``$JAX_COMPILATION_CACHE_DIR`` (default ``~/.cache/gendiff-tests/jax``).
    Every program is cached: the suite compiles thousands of small ones, each a few tenths of
    a second, and an entry is a few kB.

    Equinox's runtime checks (inside every diffrax solve) are host callbacks by default, and
    JAX never caches a program that holds one: here they are set to return NaN instead
    (``EQX_ON_ERROR=nan``, unless already set), so the adaptive solvers' programs are cached
    too. It takes effect where equinox is imported after this call (the test processes import
    it lazily, with diffrax).

    Returns:
      The cache directory.
    """
    os.environ.setdefault("EQX_ON_ERROR", "nan")
    cache_dir = os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "gendiff-tests", "jax"
    )
    settings = {
        "jax_compilation_cache_dir": cache_dir,
        "jax_persistent_cache_min_compile_time_secs": 0.0,
        "jax_persistent_cache_min_entry_size_bytes": 0,
    }
    for name, value in settings.items():
        os.environ[name.upper()] = str(value)  # inherited by subprocesses
        jax.config.update(name, value)
    return cache_dir


def write_idx(path, array: np.ndarray, type_code: int = 0x08, compress: bool = False) -> None:
    """Writes an IDX file (MNIST's format) byte by byte: magic 00 00 TT DD, big-endian sizes,
    big-endian data; gzipped when ``compress``."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        s.to_bytes(4, "big") for s in array.shape
    )
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    with open(path, "wb") as f:
        f.write(gzip.compress(payload) if compress else payload)


def write_digits_as_mnist_t10k(directory, num: int = 10_000, seed: int = 0) -> None:
    """A stand-in for MNIST's t10k files made of the 8x8 digits: each upscaled 3x to 24x24,
    placed at a random offset in a 28x28 frame, ``num`` of them, as IDX files in ``directory``
    (for tests of MNIST code paths without the real files)."""
    from gendiff import data

    digits = data.load("digits", "train")
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(digits.images), num)
    small = (digits.images[rows, ..., 0] + 1.0) * 127.5  # [-1, 1] -> [0, 255]
    big = np.repeat(np.repeat(small, 3, axis=1), 3, axis=2)
    images = np.zeros((num, 28, 28), np.uint8)
    offsets = rng.integers(0, 5, (num, 2))
    for i, (dy, dx) in enumerate(offsets):
        images[i, dy : dy + 24, dx : dx + 24] = np.round(big[i]).astype(np.uint8)
    os.makedirs(directory, exist_ok=True)
    write_idx(os.path.join(directory, "t10k-images-idx3-ubyte"), images)
    write_idx(
        os.path.join(directory, "t10k-labels-idx1-ubyte"), digits.labels[rows].astype(np.uint8)
    )
