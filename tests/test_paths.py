"""Gaussian paths and parameterisation conversions against closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff import parameterization
from gendiff.paths import (
    DiscreteVPPath,
    GaussianPath,
    VPPath,
    cosine_betas,
    linear_betas,
    make_betas,
)

T = 1000


@pytest.fixture(params=["linear", "cosine"])
def discrete_path(request):
    return DiscreteVPPath.from_schedule(request.param, T)


def test_linear_schedule_endpoints():
    betas = linear_betas(T)
    assert betas[0] == pytest.approx(1e-4) and betas[-1] == pytest.approx(0.02)


def test_cosine_schedule_matches_alpha_bar_formula():
    betas = cosine_betas(T)
    alpha_bar = np.cumprod(1 - betas)
    t = np.arange(1, T + 1) / T
    s = 0.008
    expected = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2 / np.cos(s / (1 + s) * np.pi / 2) ** 2
    # Equal wherever the beta clip at 0.999 has not acted (all but the very last steps).
    np.testing.assert_allclose(alpha_bar[:-5], expected[:-5], rtol=1e-10)


def test_unknown_schedule_names_options():
    with pytest.raises(ValueError, match="linear"):
        make_betas("quadratic-ish", 10)
    with pytest.raises(ValueError, match="cosine schedule"):
        make_betas("linear", 10)


def test_discrete_path_exact_at_integer_steps(discrete_path):
    alpha_bar = np.cumprod(1 - np.asarray(discrete_path.betas, np.float64))
    i = np.arange(1, T + 1)
    t = jnp.asarray(i / T, jnp.float32)
    np.testing.assert_allclose(discrete_path.alpha(t) ** 2, alpha_bar, rtol=2e-5)
    np.testing.assert_allclose(discrete_path.sigma(t) ** 2, 1 - alpha_bar, rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(
        discrete_path.log_snr(t), np.log(alpha_bar / (1 - alpha_bar)), rtol=1e-4, atol=1e-4
    )
    assert float(discrete_path.alpha(jnp.array(0.0))) == 1.0


def test_discrete_path_matches_the_float64_table_to_1e6_in_float32(discrete_path):
    # Every step's alpha_bar, beta and posterior variance beta-tilde against the float64 table:
    # t = i / T is snapped onto step i, and beta, beta-tilde come from log-SNR gaps free of
    # cancellation (the direct 1 - alpha^2 loses up to 1e-3 relative at the first steps).
    from gendiff.ddpm.posterior import posterior_variance, transition_variance

    schedules = [make_betas(name, T) for name in ("linear", "cosine")]
    betas = next(b for b in schedules if np.allclose(b, discrete_path.betas, rtol=1e-6))
    alpha_bar = np.concatenate([[1.0], np.cumprod(1.0 - betas)])
    beta_tilde = (1.0 - alpha_bar[:-1]) / (1.0 - alpha_bar[1:]) * betas
    i = np.arange(1, T + 1)
    t, s = jnp.asarray(i / T, jnp.float32), jnp.asarray((i - 1) / T, jnp.float32)
    rel = lambda a, b: np.max(np.abs(np.asarray(a, np.float64) / b - 1.0))
    assert rel(discrete_path.alpha(t) ** 2, alpha_bar[1:]) < 1e-6
    assert rel(discrete_path.sigma(t) ** 2, 1.0 - alpha_bar[1:]) < 1e-6
    assert rel(transition_variance(discrete_path, s, t), betas) < 1e-6
    assert rel(posterior_variance(discrete_path, s[1:], t[1:]), beta_tilde[1:]) < 1e-6
    assert float(posterior_variance(discrete_path, s[:1], t[:1])[0]) == 0.0
    with jax.enable_x64(True):
        t64 = jnp.asarray(i / T, jnp.float64)
        assert rel(discrete_path.alpha(t64) ** 2, alpha_bar[1:]) < 1e-10
        assert rel(posterior_variance(discrete_path, t64[:-1], t64[1:]), beta_tilde[1:]) < 1e-10


def test_discrete_path_sample_t_is_uniform_over_integer_steps():
    path = DiscreteVPPath.from_schedule("cosine", 10)
    t = path.sample_t(jax.random.key(0), 50_000)
    steps = np.asarray(path.step_index(t))
    np.testing.assert_allclose(np.asarray(t) * 10, steps, atol=1e-5)
    counts = np.bincount(steps, minlength=11)
    assert counts[0] == 0
    np.testing.assert_allclose(counts[1:] / 50_000, 0.1, atol=0.01)


def test_two_forward_steps_compose():
    # q(x_2 | x_0) = N(sqrt(a_1 a_2) x_0, (1 - a_1 a_2) I)  (F1:797-806, corrected).
    path = DiscreteVPPath.from_betas([0.1, 0.3, 0.5])
    a1, a2 = 0.9, 0.7
    t2 = jnp.array(2 / 3)
    np.testing.assert_allclose(path.alpha(t2), np.sqrt(a1 * a2), rtol=1e-6)
    np.testing.assert_allclose(path.sigma(t2) ** 2, 1 - a1 * a2, rtol=1e-6)
    # Monte Carlo: two Markov steps have the same first two moments as the marginal.
    k1, k2 = jax.random.split(jax.random.key(1))
    x0 = 1.5
    x1 = np.sqrt(a1) * x0 + np.sqrt(0.1) * jax.random.normal(k1, (200_000,))
    x2 = np.sqrt(a2) * x1 + np.sqrt(0.3) * jax.random.normal(k2, (200_000,))
    assert abs(float(x2.mean()) - np.sqrt(a1 * a2) * x0) < 0.01
    assert abs(float(x2.var()) - (1 - a1 * a2)) < 0.01


def test_vp_path_sde_coefficients():
    path = VPPath()
    t = jnp.linspace(0.01, 1.0, 7)
    beta = 0.1 + t * 19.9
    np.testing.assert_allclose(path.drift_coeff(t), -beta / 2, rtol=1e-5)
    np.testing.assert_allclose(path.diffusion_sq(t), beta, rtol=1e-4)
    # The closed forms VPPath writes out equal the generic derivation from alpha and sigma.
    np.testing.assert_allclose(GaussianPath.drift_coeff(path, t), -beta / 2, rtol=1e-5)
    np.testing.assert_allclose(GaussianPath.diffusion_sq(path, t), beta, rtol=1e-4)
    np.testing.assert_allclose(path.alpha(t) ** 2 + path.sigma(t) ** 2, 1.0, rtol=1e-6)


def test_discrete_linear_path_approaches_vp_sde():
    # beta_i ~= beta(i/T) / T: the discrete chain is the Euler scheme of the VP SDE, so
    # log alpha_bar = sum log(1 - beta_i) = -int beta - O(sum beta_i^2 / 2); sum beta_i^2 ~= 0.134.
    t = jnp.linspace(0.05, 1.0, 20)
    discrete = 2 * jnp.log(DiscreteVPPath.from_schedule("linear", T).alpha(t))
    continuous = 2 * jnp.log(VPPath().alpha(t))
    assert float(jnp.max(jnp.abs(discrete - continuous))) < 0.5 * 0.134 * 1.1
    np.testing.assert_allclose(discrete, continuous, rtol=0.02)


def test_path_is_a_pytree_through_jit(discrete_path):
    t = jnp.array([0.1, 0.7])
    f = jax.jit(lambda p, t: p.sigma(t))
    np.testing.assert_allclose(f(discrete_path, t), discrete_path.sigma(t), rtol=1e-6)
    leaves = jax.tree_util.tree_leaves(discrete_path)
    assert len(leaves) == 3  # betas and the hi + lo pair of log alpha_bar


@pytest.mark.parametrize(
    "path", [DiscreteVPPath.from_schedule("linear", T), VPPath()], ids=["discrete", "vp"]
)
@pytest.mark.parametrize("prediction", parameterization.PREDICTIONS)
def test_parameterisations_round_trip(path, prediction):
    k1, k2 = jax.random.split(jax.random.key(2))
    x0 = jax.random.normal(k1, (5, 3))
    eps = jax.random.normal(k2, (5, 3))
    t = jnp.array([0.02, 0.2, 0.5, 0.8, 0.99])
    x_t = path.marginal(x0, t, eps)
    pred = parameterization.from_x0_eps(path, x0, eps, t, prediction)
    x0_back, eps_back = parameterization.to_x0_eps(path, pred, x_t, t, prediction)
    np.testing.assert_allclose(x0_back, x0, atol=2e-3)
    np.testing.assert_allclose(eps_back, eps, atol=2e-4)


def test_v_and_velocity_closed_forms():
    path = VPPath()
    x0, eps, t = jnp.ones((1, 2)), 2 * jnp.ones((1, 2)), jnp.array([0.3])
    a, s = path.alpha(t)[0], path.sigma(t)[0]
    v = parameterization.from_x0_eps(path, x0, eps, t, "v")
    np.testing.assert_allclose(v, a * 2 - s * 1, rtol=1e-6)
    # velocity = d/dt x_t; compare with a central finite difference of the path.
    u = parameterization.from_x0_eps(path, x0, eps, t, "velocity")
    h = 1e-3
    fd = (path.marginal(x0, t + h, eps) - path.marginal(x0, t - h, eps)) / (2 * h)
    np.testing.assert_allclose(u, fd, rtol=1e-3)
    # score of q(x_t | x_0) is -(x_t - a x_0) / s^2 = -eps / s.
    score = parameterization.from_x0_eps(path, x0, eps, t, "score")
    np.testing.assert_allclose(score, -eps / s, rtol=1e-6)


def test_unknown_prediction_is_rejected():
    with pytest.raises(ValueError, match="eps"):
        parameterization.convert(
            VPPath(), jnp.ones((1, 2)), jnp.ones((1, 2)), jnp.ones(1), "noise", "x0"
        )
