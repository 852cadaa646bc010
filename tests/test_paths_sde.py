"""The sub-VP and VE paths against the closed forms of their SDEs (Song et al. 2021)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.paths import GaussianPath, SubVPPath, VEPath, VPPath

T = jnp.array([0.01, 0.2, 0.5, 0.8, 1.0])


def test_ve_sde_coefficients():
    path = VEPath(sigma_min=0.01, sigma_max=50.0)
    log_ratio = np.log(50.0 / 0.01)
    sigma = 0.01 * (50.0 / 0.01) ** np.asarray(T, np.float64)
    np.testing.assert_allclose(path.sigma(T), sigma, rtol=1e-5)
    np.testing.assert_array_equal(path.alpha(T), np.ones(T.shape))
    np.testing.assert_array_equal(path.drift_coeff(T), np.zeros(T.shape))
    # g^2 = d sigma^2 / dt = 2 sigma^2 log(sigma_max / sigma_min).
    np.testing.assert_allclose(path.diffusion_sq(T), 2 * sigma**2 * log_ratio, rtol=1e-5)


def test_sub_vp_sde_coefficients():
    path = SubVPPath(beta_min=0.1, beta_max=20.0)
    t = np.asarray(T, np.float64)
    beta = 0.1 + t * 19.9
    int_beta = 0.1 * t + 0.5 * 19.9 * t**2
    np.testing.assert_allclose(path.sigma(T), 1 - np.exp(-int_beta), rtol=1e-5)
    np.testing.assert_allclose(path.drift_coeff(T), -beta / 2, rtol=1e-5)
    # g^2 = beta(t) (1 - exp(-2 int_0^t beta)).
    np.testing.assert_allclose(path.diffusion_sq(T), beta * (1 - np.exp(-2 * int_beta)), rtol=1e-4)


def test_sub_vp_has_vp_signal_and_less_noise():
    vp, sub_vp = VPPath(), SubVPPath()
    np.testing.assert_allclose(sub_vp.alpha(T), vp.alpha(T), rtol=1e-6)
    assert np.all(np.asarray(sub_vp.sigma(T)) < np.asarray(vp.sigma(T)))


@pytest.mark.parametrize("path", [SubVPPath(), VEPath(sigma_max=10.0)], ids=["subvp", "ve"])
def test_log_snr_override_matches_alpha_and_sigma(path):
    np.testing.assert_allclose(path.log_snr(T), GaussianPath.log_snr(path, T), rtol=1e-4, atol=1e-4)


def test_ve_prior_has_std_sigma_max():
    x = VEPath(sigma_max=7.0).prior_sample(jax.random.key(0), (20000, 2))
    np.testing.assert_allclose(jnp.std(x), 7.0, rtol=0.02)


@pytest.mark.parametrize("path", [SubVPPath(), VEPath()], ids=["subvp", "ve"])
def test_paths_are_pytrees_through_jit(path):
    np.testing.assert_allclose(jax.jit(lambda p, t: p.sigma(t))(path, T), path.sigma(T), rtol=1e-6)
