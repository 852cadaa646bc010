"""Training each score-matching loss with Adam on 2-D Gaussian data recovers its mean and covariance.

The model is linear, s(x) = -P (x - m) with P = A A^T positive definite, the family that
contains the true score -Sigma^-1 (x - mu); the noise-conditional losses use the exact
noised-Gaussian family built from S = A A^T, which contains the truth at S = Sigma.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gendiff import score
from gendiff.paths import VPPath

MU = np.array([1.0, -0.5])
SIGMA = np.array([[1.0, 0.6], [0.6, 0.8]])
BATCH, STEPS = 512, 400
PATH = VPPath()
SIGMAS = score.geometric_sigmas(1.0, 0.05, 5)


def _matrix(params):
    a = params["a"]
    return a @ a.T


def _linear(params):
    return lambda x: -(x - params["m"]) @ _matrix(params).T


def _noise_conditional(params):
    """s(x, sigma) = -(S + sigma^2 I)^-1 (x - m)."""

    def score_fn(x, sigma):
        c = _matrix(params) + sigma[:, None, None] ** 2 * jnp.eye(2)
        return -jnp.linalg.solve(c, (x - params["m"])[..., None])[..., 0]

    return score_fn


def _vp(params):
    """s(x_t, t) = -(alpha_t^2 S + sigma_t^2 I)^-1 (x_t - alpha_t m)."""

    def score_fn(x, t):
        a, s = PATH.alpha(t)[:, None], PATH.sigma(t)[:, None]
        c = a[..., None] ** 2 * _matrix(params) + s[..., None] ** 2 * jnp.eye(2)
        return -jnp.linalg.solve(c, (x - a * params["m"])[..., None])[..., 0]

    return score_fn


_TRUE_SCORE = lambda x: (
    -(x - jnp.asarray(MU, jnp.float32)) @ jnp.asarray(np.linalg.inv(SIGMA), jnp.float32)
)

# name -> (loss(key, params, x), what A A^T should converge to).
CASES = {
    "esm": (lambda k, p, x: score.explicit_score_matching(k, _linear(p), x, _TRUE_SCORE), "prec"),
    "ism_exact": (lambda k, p, x: score.implicit_score_matching(k, _linear(p), x), "prec"),
    "ism_hutchinson": (
        lambda k, p, x: score.implicit_score_matching(k, _linear(p), x, trace="hutchinson"),
        "prec",
    ),
    "ssm": (lambda k, p, x: score.sliced_score_matching(k, _linear(p), x), "prec"),
    "ssm_vr": (
        lambda k, p, x: score.sliced_score_matching(k, _linear(p), x, variance_reduced=True),
        "prec",
    ),
    "dsm": (lambda k, p, x: score.denoising_score_matching(k, _linear(p), x, 0.1), "noised_prec"),
    "ncsn": (lambda k, p, x: score.ncsn_loss(k, _noise_conditional(p), x, SIGMAS), "cov"),
    "score_sde": (lambda k, p, x: score.score_sde_loss(k, _vp(p), x, PATH), "cov"),
}


def _train(loss_fn):
    chol = jnp.asarray(np.linalg.cholesky(SIGMA), jnp.float32)
    optimizer = optax.adam(optax.cosine_decay_schedule(0.05, STEPS))
    params = {"a": jnp.eye(2), "m": jnp.zeros(2)}

    def step(carry, key):
        params, opt_state = carry
        key_x, key_loss = jax.random.split(key)
        x = jnp.asarray(MU, jnp.float32) + jax.random.normal(key_x, (BATCH, 2)) @ chol.T
        grads = jax.grad(lambda p: loss_fn(key_loss, p, x)[0])(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    keys = jax.random.split(jax.random.key(0), STEPS)
    (params, _), _ = jax.jit(lambda c: jax.lax.scan(step, c, keys))(
        (params, optimizer.init(params))
    )
    return params


@pytest.mark.parametrize("name", sorted(CASES))
def test_training_recovers_mean_and_covariance(name):
    loss_fn, target = CASES[name]
    params = _train(loss_fn)
    matrix = np.asarray(_matrix(params), np.float64)
    # Covariance the trained model describes; DSM's optimum is the noised data's precision.
    cov = {"prec": np.linalg.inv(matrix), "noised_prec": np.linalg.inv(matrix) - 0.01 * np.eye(2)}
    cov = cov.get(target, matrix)
    print(name, cov.round(3).tolist(), np.asarray(params["m"]).round(3).tolist())
    np.testing.assert_allclose(params["m"], MU, atol=0.08)
    np.testing.assert_allclose(cov, SIGMA, atol=0.08)
