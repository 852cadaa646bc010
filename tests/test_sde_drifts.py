"""The SDE drifts of a Gaussian path against closed forms for Gaussian data."""

import jax
import jax.numpy as jnp
import numpy as np

from gendiff import sde
from gendiff.paths import DiscreteVPPath, VPPath
from gendiff.utils import right_broadcast


def _gaussian_score(path, data_std):
    """grad log p_t for x_0 ~ N(0, s^2 I): p_t = N(0, (alpha^2 s^2 + sigma^2) I)."""

    def score_fn(x, t):
        var = path.alpha(t) ** 2 * data_std**2 + path.sigma(t) ** 2
        return -x / right_broadcast(var, x)

    return score_fn


def test_probability_flow_preserves_the_marginal_variance():
    # For p_t = N(0, v(t) I), the PF-ODE velocity is x v'(t) / (2 v(t)), so each x scales like sqrt(v).
    path, s = VPPath(), 0.5
    t = jnp.array([0.1, 0.4, 0.9])
    x = jnp.ones((3, 2))
    velocity = sde.probability_flow_drift(path, _gaussian_score(path, s), x, t)
    v = lambda tt: path.alpha(tt) ** 2 * s**2 + path.sigma(tt) ** 2
    dv = jax.vmap(jax.grad(v))(t)
    # At t = 0.9 the two terms nearly cancel (velocity ~ 2e-3), hence the absolute tolerance.
    np.testing.assert_allclose(
        velocity, right_broadcast(dv / (2 * v(t)), x) * x, rtol=1e-4, atol=1e-5
    )


def test_reverse_drift_is_forward_drift_minus_g2_score():
    path = DiscreteVPPath.from_schedule("linear", 1000)
    t = jnp.array([0.3, 0.7])
    x = jnp.arange(4.0).reshape(2, 2)
    score = _gaussian_score(path, 1.0)
    expected = right_broadcast(path.drift_coeff(t), x) * x - right_broadcast(
        path.diffusion_sq(t), x
    ) * score(x, t)
    np.testing.assert_allclose(sde.reverse_drift(path, score, x, t), expected, rtol=1e-6)
    np.testing.assert_allclose(sde.diffusion(path, t) ** 2, path.diffusion_sq(t), rtol=1e-6)


def test_score_from_an_eps_model_is_minus_eps_over_sigma():
    path = VPPath()
    t = jnp.array([0.2, 0.8])
    x = jnp.ones((2, 3))
    eps_model = lambda x, t: 2.0 * x
    score = sde.score_fn_from_model(path, eps_model, "eps")(x, t)
    np.testing.assert_allclose(score, -2.0 * x / right_broadcast(path.sigma(t), x), rtol=1e-6)
