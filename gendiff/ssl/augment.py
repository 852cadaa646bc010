"""Image augmentations in JAX for small images: random crop, shift, small rotation, noise, cutout.

Each augmentation is written for one (H, W, C) image and its own PRNG key, and the batch version
splits one key per example and vmaps, so every example is transformed differently and the whole
pipeline compiles to one program. Every augmentation is the identity at zero strength
(crop_min_scale = 1, max_shift = 0, max_degrees = 0, noise_std = 0, cutout_size = 0), and keeps
the image's shape and dtype. Resampling (crop, rotation) is bilinear with zeros outside the
image for the rotation and the edge pixel for the crop's half-pixel overhang; a pixel centre
maps to a pixel centre exactly at zero strength.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp


def _check_image(image: jax.Array, *, floating: bool) -> jax.Array:
    image = jnp.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must have shape (height, width, channels), got {image.shape}.")
    if floating and not jnp.issubdtype(image.dtype, jnp.floating):
        raise ValueError(f"this augmentation needs a floating image, got dtype {image.dtype}.")
    return image


def _resample(image: jax.Array, rows: jax.Array, cols: jax.Array, mode: str) -> jax.Array:
    # Bilinear interpolation of each channel at (rows, cols); outside the image zeros
    # ("constant") or the nearest edge pixel ("nearest").
    def channel(x):
        return jax.scipy.ndimage.map_coordinates(x, [rows, cols], order=1, mode=mode, cval=0.0)

    out = jax.vmap(channel, in_axes=2, out_axes=2)(image.astype(jnp.float32))
    return out.astype(image.dtype)


def random_shift(key: jax.Array, image: jax.Array, max_shift: int) -> jax.Array:
    """Translates by integer offsets uniform in [-max_shift, max_shift] per axis, zero fill.

    Equivalently: pad by max_shift zeros and take a random crop of the original size (the
    random crop of CIFAR-style training). Works on integer images too.

    Args:
      key: PRNG key.
      image: (H, W, C) image.
      max_shift: largest shift in pixels, >= 0.

    Returns:
      The shifted image, same shape and dtype.

    Example:
      >>> random_shift(jax.random.key(0), jnp.ones((4, 4, 1)), 0).sum()
      Array(16., dtype=float32)
    """
    image = _check_image(image, floating=False)
    s = int(max_shift)
    if s < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}.")
    if s == 0:
        return image
    h, w, c = image.shape
    padded = jnp.pad(image, ((s, s), (s, s), (0, 0)))
    offsets = jax.random.randint(key, (2,), 0, 2 * s + 1)
    return jax.lax.dynamic_slice(padded, (offsets[0], offsets[1], 0), (h, w, c))


def random_crop(key: jax.Array, image: jax.Array, min_scale: float) -> jax.Array:
    """Crops a random square-aspect region of area fraction s ~ U[min_scale, 1] and resizes it
    back to the full size (bilinear): a random resized crop with the aspect ratio kept.

    Args:
      key: PRNG key.
      image: (H, W, C) floating image.
      min_scale: smallest area fraction, in (0, 1]; 1 is the identity.

    Returns:
      The cropped and resized image, same shape and dtype.

    Example:
      >>> x = jnp.arange(16.0).reshape(4, 4, 1)
      >>> bool(jnp.all(random_crop(jax.random.key(0), x, 1.0) == x))
      True
    """
    image = _check_image(image, floating=True)
    if not 0.0 < float(min_scale) <= 1.0:
        raise ValueError(f"min_scale must lie in (0, 1], got {min_scale}.")
    h, w, _ = image.shape
    key_s, key_r, key_c = jax.random.split(key, 3)
    side = jnp.sqrt(jax.random.uniform(key_s, (), minval=float(min_scale), maxval=1.0))
    ch, cw = side * h, side * w
    top = jax.random.uniform(key_r, ()) * (h - ch)
    left = jax.random.uniform(key_c, ()) * (w - cw)
    # Output pixel centre i + 1/2 maps to top + (i + 1/2) ch / h in input pixel units.
    rows = top + (jnp.arange(h) + 0.5) * (ch / h) - 0.5
    cols = left + (jnp.arange(w) + 0.5) * (cw / w) - 0.5
    rr, cc = jnp.meshgrid(rows, cols, indexing="ij")
    # The outermost output centres can fall up to half an input pixel outside the image;
    # they take the edge pixel, not a blend with zeros.
    return _resample(image, rr, cc, "nearest")


def random_rotation(key: jax.Array, image: jax.Array, max_degrees: float) -> jax.Array:
    """Rotates about the image centre by an angle uniform in [-max_degrees, max_degrees].

    Args:
      key: PRNG key.
      image: (H, W, C) floating image.
      max_degrees: largest angle in degrees, in [0, 180].

    Returns:
      The rotated image (bilinear, zeros where no input pixel maps), same shape and dtype.

    Example:
      >>> x = jnp.arange(9.0).reshape(3, 3, 1)
      >>> bool(jnp.all(random_rotation(jax.random.key(0), x, 0.0) == x))
      True
    """
    image = _check_image(image, floating=True)
    if not 0.0 <= float(max_degrees) <= 180.0:
        raise ValueError(f"max_degrees must lie in [0, 180], got {max_degrees}.")
    h, w, _ = image.shape
    limit = math.radians(float(max_degrees))
    theta = jax.random.uniform(key, (), minval=-limit, maxval=limit)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = jnp.meshgrid(jnp.arange(h) - cy, jnp.arange(w) - cx, indexing="ij")
    # Inverse map: the output pixel at offset (y, x) reads the input at R(-theta)(y, x).
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    rows = cos * yy + sin * xx + cy
    cols = -sin * yy + cos * xx + cx
    return _resample(image, rows, cols, "constant")


def gaussian_noise(key: jax.Array, image: jax.Array, std: float) -> jax.Array:
    """Adds N(0, std^2) noise to every pixel.

    Args:
      key: PRNG key.
      image: (H, W, C) floating image.
      std: noise standard deviation, >= 0.

    Returns:
      The noisy image, same shape and dtype.

    Example:
      >>> gaussian_noise(jax.random.key(0), jnp.zeros((2, 2, 1)), 0.0).sum()
      Array(0., dtype=float32)
    """
    image = _check_image(image, floating=True)
    if not float(std) >= 0.0:
        raise ValueError(f"std must be >= 0, got {std}.")
    noise = jax.random.normal(key, image.shape, jnp.float32)
    return (image.astype(jnp.float32) + float(std) * noise).astype(image.dtype)


def cutout(key: jax.Array, image: jax.Array, size: int, fill: float = 0.0) -> jax.Array:
    """Sets a size x size square, centred at a uniformly random pixel, to `fill`.

    The square may extend past the border (then less is cut), as in DeVries & Taylor (2017).
    Works on integer images too.

    Args:
      key: PRNG key.
      image: (H, W, C) image.
      size: side of the square in pixels, >= 0.
      fill: value written into the square.

    Returns:
      The image with the square filled, same shape and dtype.

    References:
      DeVries & Taylor, "Improved regularization of convolutional neural networks with
      cutout", 2017.

    Example:
      >>> int(cutout(jax.random.key(0), jnp.ones((8, 8, 1)), 0).sum())
      64
    """
    image = _check_image(image, floating=False)
    size = int(size)
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}.")
    if size == 0:
        return image
    h, w, _ = image.shape
    centre = jax.random.randint(key, (2,), 0, jnp.array([h, w]))
    top, left = centre[0] - size // 2, centre[1] - size // 2
    r = jnp.arange(h)[:, None] - top
    c = jnp.arange(w)[None, :] - left
    inside = (r >= 0) & (r < size) & (c >= 0) & (c < size)
    return jnp.where(inside[..., None], jnp.asarray(fill, image.dtype), image)


def augment_image(
    key: jax.Array,
    image: jax.Array,
    *,
    crop_min_scale: float = 1.0,
    max_shift: int = 0,
    max_degrees: float = 0.0,
    cutout_size: int = 0,
    noise_std: float = 0.0,
) -> jax.Array:
    """Applies crop, rotation, shift, cutout and noise, in that order, to one image.

    Each step uses its own key, ``jax.random.fold_in(key, step)``; a step at zero strength
    is skipped (the identity).

    Args:
      key: PRNG key of this example.
      image: (H, W, C) image (floating, unless only shift and cutout are used).
      crop_min_scale, max_shift, max_degrees, cutout_size, noise_std: the strengths of
        :func:`random_crop`, :func:`random_shift`, :func:`random_rotation`, :func:`cutout`
        and :func:`gaussian_noise`.

    Returns:
      The augmented image, same shape and dtype.

    Example:
      >>> x = jnp.ones((8, 8, 1))
      >>> bool(jnp.all(augment_image(jax.random.key(0), x) == x))  # all strengths zero
      True
    """
    if float(crop_min_scale) != 1.0:
        image = random_crop(jax.random.fold_in(key, 0), image, crop_min_scale)
    if float(max_degrees) != 0.0:
        image = random_rotation(jax.random.fold_in(key, 1), image, max_degrees)
    if int(max_shift) != 0:
        image = random_shift(jax.random.fold_in(key, 2), image, max_shift)
    if int(cutout_size) != 0:
        image = cutout(jax.random.fold_in(key, 3), image, cutout_size)
    if float(noise_std) != 0.0:
        image = gaussian_noise(jax.random.fold_in(key, 4), image, noise_std)
    return _check_image(image, floating=False)


@functools.partial(
    jax.jit,
    static_argnames=("crop_min_scale", "max_shift", "max_degrees", "cutout_size", "noise_std"),
)
def augment_batch(
    key: jax.Array,
    images: jax.Array,
    *,
    crop_min_scale: float = 1.0,
    max_shift: int = 0,
    max_degrees: float = 0.0,
    cutout_size: int = 0,
    noise_std: float = 0.0,
) -> jax.Array:
    """:func:`augment_image` on a (B, H, W, C) batch, one key per example, jitted and vmapped.

    Args:
      key: PRNG key; example b uses ``jax.random.split(key, B)[b]``.
      images: (B, H, W, C) images.
      crop_min_scale, max_shift, max_degrees, cutout_size, noise_std: as in
        :func:`augment_image` (static: each setting compiles once).

    Returns:
      (B, H, W, C) augmented images, same dtype.

    Example:
      >>> x = jnp.ones((3, 8, 8, 1))
      >>> y = augment_batch(jax.random.key(0), x, cutout_size=4)
      >>> y.shape, y.dtype, y.sum(axis=(1, 2, 3)).tolist() != [64.0] * 3
      ((3, 8, 8, 1), dtype('float32'), True)
    """
    if images.ndim != 4:
        raise ValueError(
            f"images must have shape (batch, height, width, channels), got {images.shape}."
        )
    one = functools.partial(
        augment_image,
        crop_min_scale=crop_min_scale,
        max_shift=max_shift,
        max_degrees=max_degrees,
        cutout_size=cutout_size,
        noise_std=noise_std,
    )
    return jax.vmap(one)(jax.random.split(key, images.shape[0]), images)
