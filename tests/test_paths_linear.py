"""The EDM and rectified-flow paths, and the log-SNR inverse every sampler in lambda relies on."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.paths import (
    DiscreteVPPath,
    EDMPath,
    GaussianPath,
    RectifiedFlowPath,
    SubVPPath,
    VEPath,
    VPPath,
)

PATHS = [
    VPPath(),
    SubVPPath(),
    VEPath(),
    DiscreteVPPath.from_schedule("cosine", 1000),
    EDMPath(),
    RectifiedFlowPath(t_min=1e-3, t_max=0.999),
]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: type(p).__name__)
def test_t_from_log_snr_inverts_log_snr(path: GaussianPath):
    t = jnp.linspace(path.t_min, path.t_max, 37)[1:-1]
    np.testing.assert_allclose(path.t_from_log_snr(path.log_snr(t)), t, atol=2e-6)


def test_t_from_log_snr_matches_the_vp_closed_form():
    # lambda = -log(e^{2 int beta/2} - 1), so int_0^t beta = log(1 + e^{-lambda}) solves a quadratic.
    path = VPPath()
    lam = jnp.linspace(-8.0, 8.0, 9)
    db = path.beta_max - path.beta_min
    closed = (-path.beta_min + jnp.sqrt(path.beta_min**2 + 2 * db * jnp.log1p(jnp.exp(-lam)))) / db
    np.testing.assert_allclose(path.t_from_log_snr(lam), closed, rtol=1e-5)


def test_t_from_log_snr_clips_outside_the_range():
    path = EDMPath()
    t = path.t_from_log_snr(jnp.array([100.0, -100.0]))
    np.testing.assert_allclose(t, [path.t_min, path.t_max], rtol=1e-6)


def test_edm_path_is_sigma_equals_sigma_max_t():
    path = EDMPath(sigma_min=0.002, sigma_max=80.0)
    t = jnp.array([0.25, 1.0])
    np.testing.assert_allclose(path.sigma(t), [20.0, 80.0])
    np.testing.assert_allclose(path.alpha(t), [1.0, 1.0])
    assert path.t_min == pytest.approx(0.002 / 80.0)
    # VE-type SDE: f = 0 and g^2 = d sigma^2 / dt = 2 sigma_max^2 t.
    np.testing.assert_allclose(path.drift_coeff(t), [0.0, 0.0])
    np.testing.assert_allclose(path.diffusion_sq(t), 2 * 80.0**2 * t, rtol=1e-6)


@pytest.mark.parametrize("sigma_min", [0.0, 1e-2])
def test_rectified_flow_velocity_is_the_straight_line(sigma_min):
    path = RectifiedFlowPath(sigma_min=sigma_min)
    t = jnp.array([0.1, 0.6])
    x0, eps = jnp.array([[1.0, -2.0], [0.5, 3.0]]), jnp.array([[0.3, 0.7], [-1.0, 2.0]])
    # Finite difference of the marginal against the closed-form derivatives.
    h = 1e-3
    fd = (path.marginal(x0, t + h, eps) - path.marginal(x0, t - h, eps)) / (2 * h)
    velocity = -x0 + (1 - sigma_min) * eps
    np.testing.assert_allclose(fd, velocity, atol=2e-3)
    np.testing.assert_allclose(
        path.d_alpha(t)[:, None] * x0 + path.d_sigma(t)[:, None] * eps, velocity, rtol=1e-6
    )
    assert float(path.sigma(jnp.array(0.0))) == pytest.approx(sigma_min)


def test_rectified_flow_prior_is_standard_normal():
    x = RectifiedFlowPath().prior_sample(jax.random.PRNGKey(0), (20000, 2))
    np.testing.assert_allclose(jnp.std(x, 0), [1.0, 1.0], atol=0.03)


def test_rectified_flow_rejects_bad_parameters():
    with pytest.raises(ValueError, match="sigma_min"):
        RectifiedFlowPath(sigma_min=1.0)
    with pytest.raises(ValueError, match="t_min < t_max"):
        RectifiedFlowPath(t_max=1.5)


def test_new_paths_pass_through_jit():
    for path in (EDMPath(), RectifiedFlowPath()):
        f = jax.jit(lambda p, t: p.sigma(t) + p.alpha(t))
        np.testing.assert_allclose(f(path, jnp.array([0.5])), path.sigma(0.5) + path.alpha(0.5))
