"""Denoising score matching (one level, NCSN, score SDE) against closed forms on Gaussian data.

For x ~ N(mu, Sigma) noised to x~ = x + sigma eps ~ N(mu, C), C = Sigma + sigma^2 I, and any
model s: J_DSM(s) = 1/2 E||s - grad log p_sigma||^2 + D / (2 sigma^2) - 1/2 tr(C^-1), since
E[eps / sigma | x~] = -grad log p_sigma(x~) and E||grad log p_sigma||^2 = tr(C^-1).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import GAUSS_D as D
from conftest import GAUSS_M as M
from conftest import GAUSS_MU as MU
from conftest import GAUSS_P as P
from conftest import GAUSS_SIGMA as SIGMA
from conftest import GAUSS_SIGMA_INV as SIGMA_INV
from conftest import assert_within_standard_errors as _assert_close
from conftest import gaussian_monte_carlo as _monte_carlo
from conftest import linear_score as _linear_score

from gendiff import score
from gendiff.ddpm import denoising_loss
from gendiff.paths import VPPath
from gendiff.utils import right_broadcast


def _dsm_constant(sigma):
    return D / (2 * sigma**2) - 0.5 * np.trace(np.linalg.inv(SIGMA + sigma**2 * np.eye(D)))


def test_denoising_score_matching_is_minimal_at_the_noised_score():
    sigma = 0.5
    c_inv = np.linalg.inv(SIGMA + sigma**2 * np.eye(D))
    best = _monte_carlo(
        lambda k, x: score.denoising_score_matching(k, _linear_score(c_inv, MU), x, sigma)[0]
    )
    _assert_close(best, _dsm_constant(sigma))
    # The clean-data score is the wrong model for noised data: it scores higher, by its ESM.
    wrong = _monte_carlo(
        lambda k, x: score.denoising_score_matching(k, _linear_score(SIGMA_INV, MU), x, sigma)[0]
    )
    gap = 0.5 * np.trace((c_inv - SIGMA_INV) @ (SIGMA + sigma**2 * np.eye(D)) @ (c_inv - SIGMA_INV))
    _assert_close(wrong, _dsm_constant(sigma) + gap)
    assert wrong[0] - best[0] > 10 * (wrong[1] + best[1])


def _noise_conditional_score(cov, mu):
    """s(x, sigma) = -(cov + sigma^2 I)^-1 (x - mu), the exact score of the noised Gaussian."""
    cov, mu = jnp.asarray(cov, jnp.float32), jnp.asarray(mu, jnp.float32)

    def score_fn(x, sigma):
        c = cov + sigma[:, None, None] ** 2 * jnp.eye(x.shape[-1])
        return -jnp.linalg.solve(c, (x - mu)[..., None])[..., 0]

    return score_fn


def test_ncsn_loss_at_the_noised_scores_matches_closed_form():
    sigmas = score.geometric_sigmas(2.0, 0.1, 5)
    score_fn = _noise_conditional_score(SIGMA, MU)
    estimate = _monte_carlo(lambda k, x: score.ncsn_loss(k, score_fn, x, sigmas)[0])
    # (1/L) sum_i sigma_i^2 [D / (2 sigma_i^2) - 1/2 tr(C_i^-1)].
    expected = np.mean([s**2 * _dsm_constant(s) for s in np.asarray(sigmas, np.float64)])
    _assert_close(estimate, expected)



def test_noise_conditional_score_divides_by_sigma_and_maps_sigma_to_unit_time():
    seen = {}

    def model_fn(x, t):
        seen["t"] = t
        return jnp.ones_like(x)

    score_fn = score.noise_conditional_score(model_fn, sigma_max=10.0, sigma_min=0.01)
    out = score_fn(jnp.zeros((3, 2)), jnp.array([10.0, 0.1, 0.01]))
    np.testing.assert_allclose(out[:, 0], [0.1, 10.0, 100.0], rtol=1e-6)
    np.testing.assert_allclose(seen["t"], [1.0, 1 / 3, 0.0], atol=1e-6)
    with pytest.raises(ValueError, match="0 < sigma_min < sigma_max"):
        score.noise_conditional_score(model_fn, sigma_max=0.01, sigma_min=10.0)

def test_ncsn_loss_with_one_level_is_sigma_squared_times_dsm():
    sigma = 0.3
    score_fn = _noise_conditional_score(SIGMA, MU)
    estimate = _monte_carlo(lambda k, x: score.ncsn_loss(k, score_fn, x, jnp.array([sigma]))[0])
    _assert_close(estimate, sigma**2 * _dsm_constant(sigma))


def _vp_score(path, cov, mu):
    """Exact score of q_t = N(alpha_t mu, alpha_t^2 Sigma + sigma_t^2 I)."""
    cov, mu = jnp.asarray(cov, jnp.float32), jnp.asarray(mu, jnp.float32)

    def score_fn(x, t):
        a, s = path.alpha(t)[:, None, None], path.sigma(t)[:, None, None]
        c = a**2 * cov + s**2 * jnp.eye(x.shape[-1])
        return -jnp.linalg.solve(c, (x - a[..., 0] * mu)[..., None])[..., 0]

    return score_fn


def _vp_expected(path, weight, num=20001):
    """E_{t ~ U(t_min, 1)} weight(t) / sigma_t^2 (D - sigma_t^2 tr(C_t^-1)) by the midpoint rule."""
    edges = np.linspace(path.t_min, 1.0, num)
    t = 0.5 * (edges[1:] + edges[:-1])
    log_a = -0.25 * t**2 * (path.beta_max - path.beta_min) - 0.5 * t * path.beta_min
    a2 = np.exp(2 * log_a)
    s2 = 1 - a2
    tr = np.array([np.trace(np.linalg.inv(x * SIGMA + y * np.eye(D))) for x, y in zip(a2, s2)])
    return np.mean(weight(t, s2) / s2 * (D - s2 * tr))


def test_score_sde_loss_at_the_true_score_matches_closed_form():
    path = VPPath()
    score_fn = _vp_score(path, SIGMA, MU)
    estimate = _monte_carlo(lambda k, x: score.score_sde_loss(k, score_fn, x, path)[0])
    _assert_close(estimate, _vp_expected(path, lambda t, s2: s2))


def test_score_sde_loss_likelihood_weighting_matches_closed_form():
    path = VPPath(t_min=0.1)
    score_fn = _vp_score(path, SIGMA, MU)
    estimate = _monte_carlo(
        lambda k, x: score.score_sde_loss(k, score_fn, x, path, weighting="likelihood")[0]
    )
    beta = lambda t: path.beta_min + t * (path.beta_max - path.beta_min)  # g^2 on the VP SDE
    _assert_close(estimate, _vp_expected(path, lambda t, s2: beta(t)))


def test_score_sde_loss_is_dim_times_ddpm_eps_loss():
    path = VPPath()
    score_fn = _vp_score(path, P, M)  # any model; converted to eps = -sigma_t s
    eps_fn = lambda x, t: -right_broadcast(path.sigma(t), x) * score_fn(x, t)
    x = jax.random.normal(jax.random.key(0), (256, D))
    key = jax.random.key(1)
    ddpm_loss = denoising_loss(key, eps_fn, x, path)[0]
    np.testing.assert_allclose(
        score.score_sde_loss(key, score_fn, x, path)[0], D * ddpm_loss, rtol=1e-5
    )
    custom = score.score_sde_loss(key, score_fn, x, path, weighting=lambda t: path.sigma(t) ** 2)[0]
    np.testing.assert_allclose(custom, D * ddpm_loss, rtol=1e-5)
