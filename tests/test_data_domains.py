"""gendiff.data.domains: rotated moons and digits on colour textures (deterministic, in range,
labels kept), and toy2d's labelled moons."""

import math

import jax
import numpy as np
import pytest

from gendiff.data import ArrayDataset, domains, load, toy2d


def test_labelled_moons_are_the_toy2d_points_and_the_labels_name_the_moon():
    key = jax.random.key(3)
    x, y = toy2d.two_moons_with_labels(key, 2000)
    np.testing.assert_array_equal(np.asarray(x), np.asarray(toy2d.sample(key, "two_moons", 2000)))
    x, y = np.asarray(x), np.asarray(y)
    assert y.dtype == np.int32 and set(np.unique(y)) == {0, 1}
    assert abs(y.mean() - 0.5) < 0.05  # each moon with probability 1/2
    # Raw upper moon (cos t, sin t) lies above the raw lower moon (1 - cos t, 1/2 - sin t):
    # after the shift and scale, label 0 has the larger mean height by 2 (2/pi) - 1/2 = 0.77
    # raw units (times the scale, about 1.2).
    gap = x[y == 0, 1].mean() - x[y == 1, 1].mean()
    assert 0.7 < gap < 1.1


def test_rotate_is_a_rotation():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(50, 2))
    r = domains.rotate(p, 30.0)
    np.testing.assert_allclose(np.linalg.norm(r, axis=1), np.linalg.norm(p, axis=1), rtol=1e-6)
    angle = np.arctan2(r[:, 1], r[:, 0]) - np.arctan2(p[:, 1], p[:, 0])
    np.testing.assert_allclose(np.cos(angle), math.cos(math.pi / 6), atol=1e-6)
    np.testing.assert_allclose(np.sin(angle), math.sin(math.pi / 6), atol=1e-6)  # counter-clockwise
    np.testing.assert_allclose(domains.rotate(r, -30.0), p, atol=1e-6)


def test_rotated_moons_deterministic_and_rotated_copy_of_the_source():
    a = domains.rotated_moons(300, seed=5, degrees=30.0)
    b = domains.rotated_moons(300, seed=5, degrees=30.0)
    src = domains.rotated_moons(300, seed=5)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, src.labels)
    np.testing.assert_allclose(a.images, domains.rotate(src.images, 30.0), atol=1e-6)
    assert a.num_classes == 2 and a.images.dtype == np.float32
    other = domains.rotated_moons(300, seed=6, degrees=30.0)
    assert not np.allclose(other.images, a.images)


def test_textures_deterministic_in_range_and_varied():
    t = domains.colour_textures(64, seed=1)
    np.testing.assert_array_equal(t, domains.colour_textures(64, seed=1))
    assert t.shape == (64, 8, 8, 3) and t.dtype == np.float32
    assert t.min() >= 0 and t.max() <= 1
    # Colours differ between textures far more than within one (the smooth two-colour mix).
    between = t.mean(axis=(1, 2)).std(axis=0).mean()
    assert between > 0.15, between
    assert not np.array_equal(t, domains.colour_textures(64, seed=2))
    # max_level scales the two colours: the clean texture (noise aside) stays below it.
    dark = domains.colour_textures(256, seed=1, max_level=0.5)
    assert dark.mean() == pytest.approx(0.25, abs=0.03)  # E U[0, 0.5] = 0.25
    assert np.quantile(dark, 0.99) < 0.5 + 3 * domains.TEXTURE_NOISE


def test_blend_is_mnist_m_absolute_difference():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(5, 8, 8, 1)).astype(np.float32)
    out = domains.blend_on_textures(x, seed=3)
    t = domains.colour_textures(5, seed=3)
    np.testing.assert_allclose(out, 2 * np.abs(t - (x + 1) / 2) - 1, atol=1e-6)
    # background (x = -1) shows the texture, a full stroke (x = 1) its inverse
    bg = domains.blend_on_textures(np.full((5, 8, 8, 1), -1.0, np.float32), seed=3)
    fg = domains.blend_on_textures(np.full((5, 8, 8, 1), 1.0, np.float32), seed=3)
    np.testing.assert_allclose((bg + 1) / 2, t, atol=1e-6)
    np.testing.assert_allclose((fg + 1) / 2, 1 - t, atol=1e-6)


def test_textured_digits_keep_the_digits_and_labels():
    test = domains.textured_digits("test", seed=0)
    grey = load("digits", "test")
    assert test.images.shape == (359, 8, 8, 3) and test.name == "digits_textured"
    np.testing.assert_array_equal(test.labels, grey.labels)
    np.testing.assert_array_equal(test.images, domains.textured_digits("test", seed=0).images)
    assert not np.array_equal(test.images, domains.textured_digits("test", seed=1).images)
    # The domain shift is large: background pixels move from -1 to a random colour.
    source = domains.grey_to_rgb(grey.images)
    assert np.abs(test.images - source).mean() > 0.5
    # Undoing the blend where the digit is known recovers a texture with the statistics of
    # colour_textures (mean 1/2): the digit is encoded, not lost.
    d = (grey.images + 1) / 2
    t = np.abs(np.where(d > 0.5, 1.0, 0.0) - (test.images + 1) / 2)
    clean = (d < 0.01) | (d > 0.99)  # pure background or full stroke
    assert abs(t[np.broadcast_to(clean, t.shape)].mean() - 0.5) < 0.05
    assert domains.grey_to_rgb(grey.images).shape == (359, 8, 8, 3)


def test_textured_digits_blend_any_grey_dataset():
    # 28x28 'digits' (an MNIST stand-in), generated: the blend keeps size, order and labels.
    rng = np.random.default_rng(0)
    grey = ArrayDataset(
        rng.uniform(-1, 1, (6, 28, 28, 1)).astype(np.float32),
        np.arange(6, dtype=np.int32) % 10,
        None,
        10,
        name="mnist_idx_t10k",
    )
    out = domains.textured_digits("train", seed=2, digits=grey)
    assert out.images.shape == (6, 28, 28, 3) and out.name == "mnist_idx_t10k_textured"
    np.testing.assert_array_equal(out.labels, grey.labels)
    # The blend of those images onto the split's own texture stream (seed 2, 'train').
    stream = int(np.random.default_rng([2, 0]).integers(2**31))
    np.testing.assert_allclose(out.images, domains.blend_on_textures(grey.images, stream))
    unlabelled = ArrayDataset(grey.images, None, None, None, name="unlabelled")
    with pytest.raises(ValueError, match="digits must carry labels"):
        domains.textured_digits("train", seed=0, digits=unlabelled)
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        domains.textured_digits("validation", seed=0, digits=grey)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"points must have shape \(n, 2\)"):
        domains.rotate(np.zeros((3, 3)), 10.0)
    with pytest.raises(ValueError, match="num must be a positive integer"):
        domains.rotated_moons(0, seed=0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        domains.colour_textures(3, seed=-1)
    with pytest.raises(ValueError, match=r"max_level must lie in \(0, 1\]"):
        domains.colour_textures(3, seed=0, max_level=0.0)
    with pytest.raises(ValueError, match=r"images must have shape \(N, H, W, 1\)"):
        domains.blend_on_textures(np.zeros((2, 8, 8, 3)), seed=0)
    with pytest.raises(ValueError, match=r"images must lie in \[-1, 1\]"):
        domains.blend_on_textures(np.full((2, 8, 8, 1), 2.0), seed=0)
    with pytest.raises(ValueError, match="unknown split"):
        domains.textured_digits("validation", seed=0)
