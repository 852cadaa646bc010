"""Tests of the toy 2-D samplers and the Gaussian-mixture density."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from gendiff.data import toy2d

N = 20_000


@pytest.fixture(scope="module")
def samples():
    return {name: np.asarray(toy2d.sample(jax.random.key(7), name, N)) for name in toy2d.NAMES}


@pytest.mark.parametrize("name", toy2d.NAMES)
def test_shape_dtype_and_standard_scale(samples, name):
    x = samples[name]
    assert x.shape == (N, 2) and x.dtype == np.float32
    # Population mean 0 and E|x|^2 = 2 by construction (closed-form moments).
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=0.04)
    assert abs(np.mean(np.sum(x**2, axis=1)) - 2.0) < 0.06


@pytest.mark.parametrize("name", toy2d.NAMES)
def test_determinism(samples, name):
    # The same key gives the same samples (sample is jit-compiled); another key gives others.
    np.testing.assert_array_equal(toy2d.sample(jax.random.key(7), name, N), samples[name])
    assert not np.allclose(toy2d.sample(jax.random.key(8), name, N)[:10], samples[name][:10])


def test_traceable_inside_a_caller_jit():
    mean_norm = jax.jit(
        lambda key: jnp.mean(jnp.linalg.norm(toy2d.sample(key, "circles", N), axis=1))
    )
    np.testing.assert_allclose(
        mean_norm(jax.random.key(0)), np.mean(toy2d.CIRCLES_RADII), atol=0.02
    )


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="swiss_roll.*pinwheel"):
        toy2d.sample(jax.random.key(0), "spiral", 10)


def test_eight_gaussians_clusters(samples):
    x = samples["eight_gaussians"]
    means, stds, _ = map(np.asarray, toy2d.eight_gaussians_mixture())
    nearest = np.argmin(np.sum((x[:, None] - means) ** 2, axis=-1), axis=1)
    counts = np.bincount(nearest, minlength=8)
    # Uniform assignment: chi-square with 7 dof, p > 0.001.
    assert stats.chisquare(counts).pvalue > 1e-3
    # Within a cluster each coordinate has std 0.1.
    np.testing.assert_allclose(np.std(x - means[nearest], axis=0), stds[0], rtol=0.03)


def test_circles_radii(samples):
    r = np.linalg.norm(samples["circles"], axis=1)
    inner_r, outer_r = toy2d.CIRCLES_RADII
    inner = r < (inner_r + outer_r) / 2
    assert abs(inner.mean() - 0.5) < 0.02
    np.testing.assert_allclose([r[inner].mean(), r[~inner].mean()], [inner_r, outer_r], atol=0.01)


def test_checkerboard_occupies_even_cells(samples):
    x = samples["checkerboard"]
    half = math.sqrt(3.0)
    assert np.all(np.abs(x) <= half + 1e-6)
    cells = np.clip(np.floor((x / half + 1) * 2), 0, 3).astype(int)  # (col, row) in {0..3}^2
    assert np.all((cells[:, 0] + cells[:, 1]) % 2 == 0)
    assert len(np.unique(cells[:, 0] * 4 + cells[:, 1])) == 8


def test_mixture_log_prob_matches_scipy():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(3, 3))
    stds = np.array([0.5, 1.0, 2.0])
    weights = np.array([0.2, 0.3, 0.5])
    x = rng.normal(size=(4, 5, 3))
    expected = np.log(
        sum(
            w * stats.multivariate_normal(m, s**2 * np.eye(3)).pdf(x)
            for m, s, w in zip(means, stds, weights)
        )
    )
    got = toy2d.gaussian_mixture_log_prob(x, means, stds, weights)
    assert got.shape == (4, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_eight_gaussians_density_integrates_to_one():
    grid = np.linspace(-2.5, 2.5, 301)
    xx, yy = np.meshgrid(grid, grid)
    density = np.exp(toy2d.eight_gaussians_log_prob(np.stack([xx, yy], axis=-1)))
    np.testing.assert_allclose(density.sum() * (grid[1] - grid[0]) ** 2, 1.0, atol=1e-3)


def test_eight_gaussians_sampler_agrees_with_log_prob(samples):
    # E[log p(X)] = -entropy. The modes are 10 stds apart, so the entropy is that of a
    # uniform choice among 8 plus that of one 2-D Gaussian: log 8 + log(2 pi e s^2).
    # The per-sample spread of log p is ~1, so the mean of 20,000 is good to ~0.01.
    log_p = toy2d.eight_gaussians_log_prob(samples["eight_gaussians"])
    entropy = math.log(8) + math.log(2 * math.pi * math.e * 0.1**2)
    assert abs(float(jnp.mean(log_p)) + entropy) < 0.03


def test_mixture_sampler_weights():
    means = jnp.array([[-10.0], [0.0], [10.0]])
    weights = jnp.array([0.1, 0.3, 0.6])
    x = toy2d.sample_gaussian_mixture(jax.random.key(0), means, jnp.ones(3), weights, 20_000)
    component = np.digitize(np.asarray(x[:, 0]), [-5.0, 5.0])
    np.testing.assert_allclose(np.bincount(component) / 20_000, weights, atol=0.015)


def test_mixture_shape_errors():
    with pytest.raises(ValueError, match="stds"):
        toy2d.gaussian_mixture_log_prob(
            jnp.zeros((2, 2)), jnp.zeros((3, 2)), jnp.ones(2), jnp.ones(3) / 3
        )
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        toy2d.gaussian_mixture_log_prob(
            jnp.zeros((2, 3)), jnp.zeros((3, 2)), jnp.ones(3), jnp.ones(3) / 3
        )
