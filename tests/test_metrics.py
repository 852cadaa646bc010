"""Tests for the Fréchet distance, sliced Wasserstein distance and MMD."""

import itertools
import math

import jax
import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from gendiff.metrics import (
    frechet_distance,
    frechet_distance_from_features,
    gaussian_statistics,
    mmd_rbf,
    sliced_wasserstein,
)

# --- Fréchet distance -------------------------------------------------------------------------


def _correlated_features(rng, n, dim, shift):
    mixing = rng.normal(size=(dim, dim)) / math.sqrt(dim)
    return rng.normal(size=(n, dim)) @ mixing + shift


def _reference_fd(f1, f2):
    """The standard FID formula with scipy's matrix square root, in float64."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    diff = mu1 - mu2
    return diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean)


def test_gaussian_statistics_match_numpy_unbiased_covariance():
    f = _correlated_features(np.random.default_rng(0), 300, 16, 2.0)
    mu, sigma = gaussian_statistics(f)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, f.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(f, rowvar=False, ddof=1), rtol=1e-10, atol=1e-13)


def test_frechet_distance_matches_scipy_sqrtm_formula():
    rng = np.random.default_rng(1)
    f1 = _correlated_features(rng, 500, 64, 0.0)
    f2 = 1.5 * _correlated_features(rng, 500, 64, rng.normal(size=64))
    expected = _reference_fd(f1, f2)
    assert expected > 1.0
    assert frechet_distance_from_features(f1, f2) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_is_zero_for_identical_statistics_even_if_rank_deficient():
    # 40 samples in 64 dimensions: the covariance has rank 39.
    mu, sigma = gaussian_statistics(_correlated_features(np.random.default_rng(2), 40, 64, 1.0))
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9 * np.trace(sigma))


def test_frechet_distance_closed_form_for_diagonal_covariances():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.1, 3.0, size=10), rng.uniform(0.1, 3.0, size=10)
    mu1, mu2 = rng.normal(size=10), rng.normal(size=10)
    # Commuting covariances: Tr(S1 + S2 - 2 (S1 S2)^{1/2}) = sum (sqrt(a) - sqrt(b))^2.
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2) + np.sum((mu1 - mu2) ** 2)
    got = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_is_symmetric():
    rng = np.random.default_rng(4)
    s1 = gaussian_statistics(_correlated_features(rng, 200, 32, 0.0))
    s2 = gaussian_statistics(2.0 * _correlated_features(rng, 200, 32, 1.0))
    assert frechet_distance(*s1, *s2) == pytest.approx(frechet_distance(*s2, *s1), rel=1e-9)


def test_frechet_distance_rejects_bad_input():
    mu, sigma = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="same shape"):
        frechet_distance(mu, sigma, np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        frechet_distance(mu, sigma, mu, np.eye(4))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(mu, sigma, np.array([0.0, np.nan, 0.0]), sigma)
    with pytest.raises(ValueError, match="symmetric"):
        frechet_distance(mu, sigma, mu, np.triu(np.ones((3, 3))))
    with pytest.raises(ValueError, match="feature dimension"):
        frechet_distance_from_features(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        gaussian_statistics(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"\(num_samples, dim\)"):
        gaussian_statistics(np.zeros(10))


# --- Sliced Wasserstein distance ---------------------------------------------------------------


def test_swd_of_a_shifted_cloud_averages_the_projected_shift():
    # y = x + c: every projection is shifted by theta.c, so SW_2^2 = E (theta.c)^2 = |c|^2 / d.
    x = jax.random.normal(jax.random.key(0), (300, 3))
    c = np.array([1.0, -2.0, 0.5])
    swd = sliced_wasserstein(jax.random.key(1), x, x + c, num_projections=20000)
    # Var (theta.c)^2 = |c|^4 * 2(d-1) / (d^2 (d+2)); the tolerance is about 5 standard errors.
    assert float(swd) ** 2 == pytest.approx(np.sum(c**2) / 3, rel=0.03)


def test_swd_in_one_dimension_is_the_exact_shift():
    x = jax.random.normal(jax.random.key(0), (100, 1))
    for p in (1, 2, 3):
        assert float(sliced_wasserstein(jax.random.key(1), x, x - 0.7, 8, p)) == pytest.approx(
            0.7, rel=1e-5
        )


def test_swd_matches_w2_between_one_dimensional_gaussians():
    # Quantile-placed samples of N(m1, s1^2) and N(m2, s2^2): W2 = sqrt((m1 - m2)^2 + (s1 - s2)^2).
    z = scipy.stats.norm.ppf((np.arange(4000) + 0.5) / 4000)
    m1, s1, m2, s2 = 0.3, 1.0, -0.5, 2.5
    x, y = (m1 + s1 * z)[:, None], (m2 + s2 * z)[::-1, None]
    swd = sliced_wasserstein(jax.random.key(0), x, y, num_projections=4)
    assert float(swd) == pytest.approx(math.hypot(m1 - m2, s1 - s2), rel=2e-3)


def test_swd_with_unequal_sizes_matches_independent_one_dimensional_computations():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(6, 1)), rng.normal(1.0, 2.0, size=(10, 1))
    # p = 1 against scipy.
    w1 = scipy.stats.wasserstein_distance(x[:, 0], y[:, 0])
    assert float(sliced_wasserstein(jax.random.key(0), x, y, 4, p=1)) == pytest.approx(w1, rel=1e-5)
    # p = 2 by replicating both clouds to lcm(6, 10) = 30 equally weighted points.
    xs, ys = np.sort(np.repeat(x[:, 0], 5)), np.sort(np.repeat(y[:, 0], 3))
    w2 = np.sqrt(np.mean((xs - ys) ** 2))
    assert float(sliced_wasserstein(jax.random.key(0), x, y, 4, p=2)) == pytest.approx(w2, rel=1e-5)


def test_swd_is_zero_between_a_cloud_and_its_duplicate():
    # Repeating every point leaves the empirical measure unchanged.
    x = jax.random.normal(jax.random.key(0), (50, 4))
    y = np.concatenate([x, x[::-1]], axis=0)
    assert float(sliced_wasserstein(jax.random.key(1), x, y)) == pytest.approx(0.0, abs=1e-6)


def test_swd_runs_under_jit():
    x = jax.random.normal(jax.random.key(0), (64, 2))
    y = x * 2.0 + 1.0
    eager = sliced_wasserstein(jax.random.key(1), x, y)
    jitted = jax.jit(lambda a, b: sliced_wasserstein(jax.random.key(1), a, b))(x, y)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6)


def test_swd_rejects_bad_input():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="same point dimension"):
        sliced_wasserstein(key, np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"\(num_points, dim\)"):
        sliced_wasserstein(key, np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        sliced_wasserstein(key, np.full((5, 2), np.nan), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="num_projections"):
        sliced_wasserstein(key, np.zeros((5, 2)), np.zeros((5, 2)), num_projections=0)
    with pytest.raises(ValueError, match="p must be"):
        sliced_wasserstein(key, np.zeros((5, 2)), np.zeros((5, 2)), p=0.5)


# --- MMD ----------------------------------------------------------------------------------------


def _brute_force_mmd2(x, y, bandwidths):
    def k(a, b):
        return sum(np.exp(-np.sum((a - b) ** 2) / (2 * s**2)) for s in bandwidths)

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def test_mmd_matches_brute_force_double_loop():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.2, size=(5, 3))
    bandwidths = (0.5, 1.3)
    expected = _brute_force_mmd2(x, y, bandwidths)
    assert float(mmd_rbf(x, y, bandwidths)) == pytest.approx(expected, abs=1e-5)
    # Median heuristic: s_med = median distance over distinct pairs of the pooled sample.
    z = np.concatenate([x, y])
    s_med = np.median([np.linalg.norm(a - b) for a, b in itertools.combinations(z, 2)])
    expected = _brute_force_mmd2(x, y, (0.5 * s_med, s_med, 2.0 * s_med))
    assert float(mmd_rbf(x, y)) == pytest.approx(expected, abs=1e-5)


def test_mmd_is_centred_at_zero_for_one_distribution_and_positive_for_a_shift():
    keys = jax.random.split(jax.random.key(0), 40)
    null = np.array(
        [
            float(
                mmd_rbf(
                    jax.random.normal(keys[i], (100, 2)), jax.random.normal(keys[i + 20], (100, 2))
                )
            )
            for i in range(20)
        ]
    )
    # Unbiased: fluctuates around 0 (some estimates negative), mean within 4 standard errors.
    assert np.any(null < 0)
    assert abs(null.mean()) < 4 * null.std() / math.sqrt(len(null))
    x, y = jax.random.normal(keys[0], (100, 2)), jax.random.normal(keys[20], (100, 2)) + 1.0
    assert float(mmd_rbf(x, y)) > null.mean() + 10 * null.std()


def test_mmd_rejects_bad_input():
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match="bandwidths"):
        mmd_rbf(x, x, bandwidths=[1.0, -1.0])
    with pytest.raises(ValueError, match="bandwidths"):
        mmd_rbf(x, x, bandwidths=[])
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd_rbf(x[:1], x)
    with pytest.raises(ValueError, match="same point dimension"):
        mmd_rbf(x, np.zeros((5, 3)))
