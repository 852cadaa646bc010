"""Tests for gendiff.ssl.augment: per-example keys, identity at zero strength, shapes and dtypes,
jit against no-jit, and what each augmentation does to a known image."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff import ssl

STRENGTHS = {
    "crop": dict(crop_min_scale=0.5),
    "shift": dict(max_shift=2),
    "rotation": dict(max_degrees=15.0),
    "cutout": dict(cutout_size=3),
    "noise": dict(noise_std=0.1),
}
ZERO = dict(crop_min_scale=1.0, max_shift=0, max_degrees=0.0, cutout_size=0, noise_std=0.0)


def _images(batch=6, h=8, w=8, c=2, dtype=jnp.float32):
    return jax.random.uniform(jax.random.key(0), (batch, h, w, c)).astype(dtype)


@pytest.mark.parametrize("name", list(STRENGTHS))
def test_per_example_keys_give_different_results(name):
    x = jnp.broadcast_to(_images(1), (6, 8, 8, 2))  # six copies of one image
    y = np.asarray(ssl.augment_batch(jax.random.key(1), x, **STRENGTHS[name]))
    assert len({yi.tobytes() for yi in y}) == 6
    assert not np.array_equal(y[0], np.asarray(x[0]))
    # The same key gives the same result; the batch uses split(key)[b] for example b.
    keys = jax.random.split(jax.random.key(1), 6)
    one = ssl.augment_image(keys[3], x[3], **STRENGTHS[name])
    np.testing.assert_allclose(y[3], one, rtol=1e-6, atol=1e-6)


def test_identity_at_zero_strength():
    x = _images()
    np.testing.assert_array_equal(ssl.augment_batch(jax.random.key(2), x, **ZERO), x)
    k = jax.random.key(3)
    for b in range(x.shape[0]):
        np.testing.assert_array_equal(ssl.random_crop(k, x[b], 1.0), x[b])
        np.testing.assert_array_equal(ssl.random_rotation(k, x[b], 0.0), x[b])
        np.testing.assert_array_equal(ssl.random_shift(k, x[b], 0), x[b])
        np.testing.assert_array_equal(ssl.gaussian_noise(k, x[b], 0.0), x[b])
        np.testing.assert_array_equal(ssl.cutout(k, x[b], 0), x[b])


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_shapes_and_dtypes_are_kept(dtype):
    x = _images(4, 8, 6, 3, dtype)
    every = dict(crop_min_scale=0.6, max_shift=1, max_degrees=10.0, cutout_size=2, noise_std=0.05)
    y = ssl.augment_batch(jax.random.key(4), x, **every)
    assert y.shape == x.shape and y.dtype == x.dtype
    xi = (255 * _images(4)).astype(jnp.uint8)  # integer images: shift and cutout only
    yi = ssl.augment_batch(jax.random.key(4), xi, max_shift=2, cutout_size=3)
    assert yi.shape == xi.shape and yi.dtype == jnp.uint8


@pytest.mark.parametrize("name", list(STRENGTHS))
def test_jit_equals_no_jit(name):
    x = _images()
    jitted = ssl.augment_batch(jax.random.key(5), x, **STRENGTHS[name])
    with jax.disable_jit():
        eager = ssl.augment_batch(jax.random.key(5), x, **STRENGTHS[name])
    np.testing.assert_allclose(jitted, eager, rtol=1e-5, atol=1e-5)


def test_shift_moves_the_content_by_whole_pixels():
    x = jnp.zeros((9, 9, 1)).at[4, 4, 0].set(1.0)
    for seed in range(10):
        y = np.asarray(ssl.random_shift(jax.random.key(seed), x, 2))[..., 0]
        (r,), (c,) = np.nonzero(y)
        assert abs(r - 4) <= 2 and abs(c - 4) <= 2 and y.sum() == 1.0


def test_rotation_turns_a_point_about_the_centre():
    # One bright pixel 3 rows above the centre of a 9x9 image; every rotation keeps it at
    # distance 3 from the centre (bilinear spread, so use the intensity-weighted centroid).
    x = jnp.zeros((9, 9, 1)).at[1, 4, 0].set(1.0)
    angles = []
    for seed in range(8):
        y = np.asarray(ssl.random_rotation(jax.random.key(seed), x, 30.0))[..., 0]
        rr, cc = np.mgrid[0:9, 0:9]
        r, c = (y * rr).sum() / y.sum() - 4, (y * cc).sum() / y.sum() - 4
        assert math.hypot(r, c) == pytest.approx(3.0, abs=0.15)
        angles.append(math.degrees(math.atan2(c, -r)))
    assert max(abs(a) for a in angles) <= 30.5 and len({round(a, 3) for a in angles}) == 8


def test_crop_zooms_in_and_noise_has_its_std():
    # A crop of a horizontal ramp, resized back, is still a ramp; its slope per output pixel is
    # the crop's side over the image's, sqrt(s) in [sqrt(0.25), 1].
    ramp = jnp.broadcast_to(jnp.arange(16.0)[None, :, None], (16, 16, 1))
    for seed in range(5):
        y = np.asarray(ssl.random_crop(jax.random.key(seed), ramp, 0.25))[..., 0]
        slope = np.diff(y, axis=1)
        assert np.allclose(slope, slope[0, 0], atol=1e-4) and 0.5 - 1e-5 <= slope[0, 0] <= 1.0 + 1e-5
    z = np.asarray(ssl.gaussian_noise(jax.random.key(6), jnp.zeros((64, 64, 4)), 0.3))
    assert z.std() == pytest.approx(0.3, rel=0.03) and abs(z.mean()) < 0.01


def test_cutout_zeroes_a_square_that_may_cross_the_border():
    sizes = set()
    for seed in range(30):
        y = np.asarray(ssl.cutout(jax.random.key(seed), jnp.ones((8, 8, 2)), 4))
        holes = y[..., 0] == 0
        rows, cols = np.nonzero(holes)
        assert np.array_equal(holes[..., None].repeat(2, -1), y == 0)  # all channels
        assert holes[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
        assert np.ptp(rows) < 4 and np.ptp(cols) < 4
        sizes.add(int(holes.sum()))
    assert 16 in sizes and min(sizes) < 16  # full squares inside, clipped ones at the border


def test_bad_input():
    x = _images()
    with pytest.raises(ValueError, match="min_scale must lie in"):
        ssl.random_crop(jax.random.key(0), x[0], 0.0)
    with pytest.raises(ValueError, match="max_degrees must lie in"):
        ssl.random_rotation(jax.random.key(0), x[0], -5.0)
    with pytest.raises(ValueError, match="max_shift must be >= 0"):
        ssl.random_shift(jax.random.key(0), x[0], -1)
    with pytest.raises(ValueError, match="needs a floating image"):
        ssl.gaussian_noise(jax.random.key(0), jnp.zeros((4, 4, 1), jnp.uint8), 0.1)
    with pytest.raises(ValueError, match=r"image must have shape \(height, width, channels\)"):
        ssl.cutout(jax.random.key(0), x, 2)
    with pytest.raises(ValueError, match=r"images must have shape \(batch, height, width, channels\)"):
        ssl.augment_batch(jax.random.key(0), x[0], max_shift=1)
