"""Source and target domains for domain adaptation (DANN, Ganin et al. 2016).

* Rotated moons: the labelled 'two_moons' points (label = the moon) as the source domain,
  and a fresh sample rotated about the origin (the data's mean) as the target domain; the
  inter-twinning moons problem of Ganin et al. (2016), section 5.1, with 30 degrees.
* Textured digits: sklearn's 8x8 digits blended onto random colour textures, an offline
  stand-in for MNIST-M (Ganin et al. 2016, section 5.2.2, where MNIST digits are blended
  onto patches of BSDS500 photographs). The blend is MNIST-M's: every channel of the output
  is ``|texture - digit|`` with both in [0, 1], so strokes show as the inverted texture. The
  textures are drawn here: a smooth sinusoidal mix of two random colours plus pixel noise.
  The source domain is the same digits in grey, repeated over three channels.

Every generator is deterministic given its seed (NumPy ``default_rng``, or a JAX key made
from the seed).
"""

from __future__ import annotations

import math

import jax
import numpy as np

from gendiff.data.dataset import ArrayDataset
from gendiff.data.digits import load_digits
from gendiff.data.toy2d import two_moons_with_labels

__all__ = [
    "TEXTURE_NOISE",
    "blend_on_textures",
    "colour_textures",
    "grey_to_rgb",
    "rotate",
    "rotated_moons",
    "textured_digits",
]

TEXTURE_NOISE = 0.08  # std of the per-pixel noise of the textures, in [0, 1] units
_SPLIT_STREAM = {"train": 0, "test": 1}


def _check_seed(seed) -> int:
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    return int(seed)


def rotate(points, degrees: float) -> np.ndarray:
    """Rotates 2-D points counter-clockwise about the origin.

    Args:
      points: (n, 2).
      degrees: the angle.

    Returns:
      (n, 2) float32.

    Example:
      >>> rotate(np.array([[1.0, 0.0]]), 90.0).round(6).tolist()
      [[0.0, 1.0]]
    """
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {points.shape}.")
    if not math.isfinite(degrees):
        raise ValueError(f"degrees must be finite, got {degrees}.")
    a = math.radians(degrees)
    rotation = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return (points @ rotation.T).astype(np.float32)


def rotated_moons(num: int, seed: int, degrees: float = 0.0) -> ArrayDataset:
    """Labelled two moons (standardised as 'toy2d/two_moons'), rotated by ``degrees``.

    Args:
      num: number of points (> 0).
      seed: the sample's seed (a JAX key is made from it).
      degrees: rotation about the origin, counter-clockwise (0 = the source domain).

    Returns:
      ArrayDataset of points (num, 2) with labels 0 (upper moon) and 1 (lower moon).

    Example:
      >>> ds = rotated_moons(100, seed=0, degrees=30.0)
      >>> ds.images.shape, ds.num_classes
      ((100, 2), 2)
    """
    if not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"num must be a positive integer, got {num!r}.")
    points, labels = two_moons_with_labels(jax.random.key(_check_seed(seed)), int(num))
    return ArrayDataset(
        rotate(np.asarray(points), degrees),
        np.asarray(labels, np.int32),
        None,
        2,
        name=f"moons_rotated_{degrees:g}",
    )


def colour_textures(
    num: int, seed: int, height: int = 8, width: int = 8, max_level: float = 1.0
) -> np.ndarray:
    """Random smooth colour textures in [0, 1].

    Each texture mixes two colours c0, c1 ~ U[0, max_level]^3 by a plane wave
    s = (1 + sin(2 pi (f . (row, col)) / side + phase)) / 2 with a random frequency f of up
    to 1.5 cycles per image in each direction, plus N(0, TEXTURE_NOISE^2) pixel noise,
    clipped to [0, 1].

    Args:
      num: number of textures.
      seed: NumPy seed.
      height, width: texture size.
      max_level: the brightest colour channel value, in (0, 1]; below 1 the textures are
        darker on average (as photographs mostly are), and digits blended onto them stay
        brighter than their background more often.

    Returns:
      (num, height, width, 3) float32.

    Example:
      >>> t = colour_textures(4, seed=0)
      >>> t.shape, bool(t.min() >= 0 and t.max() <= 1)
      ((4, 8, 8, 3), True)
    """
    if not isinstance(num, (int, np.integer)) or num < 0:
        raise ValueError(f"num must be a non-negative integer, got {num!r}.")
    if not 0.0 < max_level <= 1.0:
        raise ValueError(f"max_level must lie in (0, 1], got {max_level}.")
    rng = np.random.default_rng(_check_seed(seed))
    c0, c1 = max_level * rng.uniform(size=(2, num, 1, 1, 3))
    freq = rng.uniform(-1.5, 1.5, size=(num, 2))
    phase = rng.uniform(0, 2 * np.pi, size=(num, 1, 1))
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    wave = freq[:, 0, None, None] * rows / height + freq[:, 1, None, None] * cols / width
    s = 0.5 * (1.0 + np.sin(2 * np.pi * wave + phase))[..., None]
    t = c0 * (1 - s) + c1 * s + TEXTURE_NOISE * rng.standard_normal((num, height, width, 3))
    return np.clip(t, 0.0, 1.0).astype(np.float32)


def grey_to_rgb(images) -> np.ndarray:
    """Grey images (N, H, W, 1) repeated over three channels, (N, H, W, 3).

    Example:
      >>> grey_to_rgb(np.zeros((2, 8, 8, 1))).shape
      (2, 8, 8, 3)
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"images must have shape (N, H, W, 1), got {images.shape}.")
    return np.repeat(images, 3, axis=-1)


def blend_on_textures(images, seed: int, max_level: float = 1.0) -> np.ndarray:
    """MNIST-M's blend of grey images in [-1, 1] onto fresh random colour textures.

    With the digit d = (x + 1) / 2 and a texture t of :func:`colour_textures`, both in
    [0, 1], the output is ``2 |t - d| - 1`` per channel.

    Args:
      images: (N, H, W, 1) in [-1, 1].
      seed: seed of the textures.
      max_level: see :func:`colour_textures`.

    Returns:
      (N, H, W, 3) float32 in [-1, 1].

    Example:
      >>> blend_on_textures(np.full((2, 8, 8, 1), -1.0), seed=0).shape
      (2, 8, 8, 3)
    """
    rgb = grey_to_rgb(images)
    if rgb.size and (rgb.min() < -1 or rgb.max() > 1):
        raise ValueError("images must lie in [-1, 1].")
    n, h, w, _ = rgb.shape
    t = colour_textures(n, seed, h, w, max_level)
    return (2.0 * np.abs(t - (rgb + 1.0) / 2.0) - 1.0).astype(np.float32)


def textured_digits(
    split: str, seed: int, max_level: float = 1.0, digits: ArrayDataset | None = None
) -> ArrayDataset:
    """One split of grey digits blended onto random colour textures (MNIST-M stand-in).

    The digits are ``digits`` (by default ``load_digits(split)``, the 8x8 digits; pass e.g.
    ``gendiff.data.load("mnist_idx_t10k", split, data_dir)`` for 28x28 MNIST), in the same
    order and with the same labels; the textures are drawn from
    ``default_rng([seed, split index])``, so the two splits get different textures.

    Args:
      split: 'train' or 'test'.
      seed: seed of the textures.
      max_level: the brightest texture colour (see :func:`colour_textures`).
      digits: grey images (N, H, W, 1) in [-1, 1] with labels; None = the 8x8 digits.

    Returns:
      ArrayDataset '<name>_textured' of (N, H, W, 3) images in [-1, 1].

    Example:
      >>> textured_digits("test", seed=0).images.shape
      (359, 8, 8, 3)
    """
    if split not in _SPLIT_STREAM:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(_SPLIT_STREAM)}")
    digits = load_digits(split) if digits is None else digits
    if digits.labels is None:
        raise ValueError(f"digits must carry labels; {digits.name!r} has none.")
    seed = _check_seed(seed)
    stream = int(np.random.default_rng([seed, _SPLIT_STREAM[split]]).integers(2**31))
    return ArrayDataset(
        blend_on_textures(digits.images, stream, max_level),
        digits.labels,
        None,
        digits.num_classes,
        name=f"{digits.name}_textured",
    )
