"""Langevin and annealed Langevin dynamics against known stationary laws."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff import score

MU = np.array([1.0, -0.5])
SIGMA = np.array([[1.0, 0.6], [0.6, 0.8]])
PREC = np.linalg.inv(SIGMA)
CHAINS = 4000


def _gaussian_score(x):
    return -(x - jnp.asarray(MU, jnp.float32)) @ jnp.asarray(PREC, jnp.float32)


def _run_gaussian(step_size, num_steps):
    x_init = jnp.zeros((CHAINS, 2))
    x = score.langevin_dynamics(
        jax.random.key(0), _gaussian_score, x_init, step_size=step_size, num_steps=num_steps
    )
    return np.asarray(x, np.float64)


def test_langevin_with_small_step_samples_the_gaussian():
    x = _run_gaussian(0.01, 2000)
    np.testing.assert_allclose(x.mean(0), MU, atol=0.05)
    np.testing.assert_allclose(np.cov(x.T), SIGMA, atol=0.06)


def test_langevin_with_large_step_has_the_exact_discretisation_bias():
    # y = x - mu follows y' = (I - a P) y + sqrt(2a) z, whose stationary covariance C solves
    # C = (I - a P) C (I - a P) + 2a I, i.e. C = (P - a P^2 / 2)^-1.
    step = 0.2
    x = _run_gaussian(step, 500)
    biased = np.linalg.inv(PREC - 0.5 * step * PREC @ PREC)
    np.testing.assert_allclose(x.mean(0), MU, atol=0.05)
    np.testing.assert_allclose(np.cov(x.T), biased, atol=0.06)
    assert np.abs(biased - SIGMA).max() > 2 * 0.06  # far from Sigma, so the check is sharp


# A 1-D mixture 0.8 N(-4, 0.5^2) + 0.2 N(4, 0.5^2); noised by sigma it stays a mixture with
# component variances 0.25 + sigma^2.
WEIGHTS, MEANS, STD = np.array([0.8, 0.2]), np.array([-4.0, 4.0]), 0.5


def _mixture_score(x, sigma):
    var = STD**2 + sigma[:, None] ** 2  # (batch, 1)
    log_comp = jnp.log(WEIGHTS) - 0.5 * (x - MEANS) ** 2 / var - 0.5 * jnp.log(var)
    resp = jax.nn.softmax(log_comp, axis=-1)  # (batch, 2)
    return jnp.sum(resp * (MEANS - x) / var, axis=-1, keepdims=True)


SIGMAS = score.geometric_sigmas(10.0, 0.1, 10)


def test_annealed_langevin_recovers_mixture_weights_and_moments():
    key_init, key = jax.random.split(jax.random.key(1))
    x_init = jax.random.uniform(key_init, (CHAINS, 1), minval=-8.0, maxval=8.0)
    x = score.annealed_langevin_dynamics(
        key, _mixture_score, x_init, SIGMAS, eps=5e-4, num_steps_per_level=400
    )
    x = np.asarray(x, np.float64)[:, 0]
    right = x > 0
    assert abs(right.mean() - WEIGHTS[1]) < 0.03  # 4.7 standard errors
    np.testing.assert_allclose([x[~right].mean(), x[right].mean()], MEANS, atol=0.06)
    # After the final denoising step each mode has std^2 / sqrt(std^2 + sigma_L^2) ~= 0.49.
    np.testing.assert_allclose([x[~right].std(), x[right].std()], STD, atol=0.05)
    mean = WEIGHTS @ MEANS
    variance = WEIGHTS @ (STD**2 + MEANS**2) - mean**2
    np.testing.assert_allclose(x.mean(), mean, atol=0.25)
    np.testing.assert_allclose(x.var(), variance, rtol=0.05)


def test_plain_langevin_from_uniform_start_misses_the_mixture_weights():
    # Without annealing each chain stays in the mode it started near (Song & Ermon 2019, §3.2).
    key_init, key = jax.random.split(jax.random.key(1))
    x_init = jax.random.uniform(key_init, (CHAINS, 1), minval=-8.0, maxval=8.0)
    clean_score = lambda x: _mixture_score(x, jnp.zeros(x.shape[0]))
    x = score.langevin_dynamics(key, clean_score, x_init, step_size=5e-3, num_steps=1000)
    assert abs(float(jnp.mean(x > 0)) - 0.5) < 0.05


@pytest.mark.parametrize("step_rule", ["scaled", "fixed"])
def test_annealed_step_sizes_follow_the_step_rule(step_rule):
    # With a zero score x is a sum of independent N(0, 2 alpha_i) steps, K per level.
    sigmas, eps, steps = jnp.array([4.0, 2.0, 1.0]), 0.01, 20
    x = score.annealed_langevin_dynamics(
        jax.random.key(0),
        lambda x, sigma: jnp.zeros_like(x),
        jnp.zeros((20000, 1)),
        sigmas,
        eps=eps,
        num_steps_per_level=steps,
        step_rule=step_rule,
    )
    alphas = eps * np.array([16.0, 4.0, 1.0]) if step_rule == "scaled" else eps * np.ones(3)
    np.testing.assert_allclose(float(jnp.var(x)), 2 * steps * alphas.sum(), rtol=0.04)


def test_jit_and_eager_agree():
    x_init = jnp.linspace(-6.0, 6.0, 64)[:, None]
    key = jax.random.key(2)
    run = functools.partial(
        score.annealed_langevin_dynamics,
        score_fn=_mixture_score,
        sigmas=SIGMAS,
        eps=1e-3,
        num_steps_per_level=5,
    )
    eager = run(key, x_init=x_init)
    jitted = jax.jit(lambda k, x: run(k, x_init=x))(key, x_init)
    np.testing.assert_allclose(eager, jitted, rtol=1e-5, atol=1e-5)
    plain = functools.partial(
        score.langevin_dynamics, score_fn=_gaussian_score, step_size=0.1, num_steps=7
    )
    x2 = jnp.zeros((16, 2))
    np.testing.assert_allclose(
        plain(key, x_init=x2), jax.jit(plain)(key, x_init=x2), rtol=1e-5, atol=1e-6
    )


def test_bad_inputs_raise():
    key, x = jax.random.key(0), jnp.zeros((4, 1))
    f = lambda x, sigma: -x
    kwargs = dict(eps=1e-3, num_steps_per_level=2)
    with pytest.raises(ValueError, match="strictly decreasing"):
        score.annealed_langevin_dynamics(key, f, x, jnp.array([0.1, 1.0]), **kwargs)
    with pytest.raises(ValueError, match="strictly decreasing"):
        score.annealed_langevin_dynamics(key, f, x, jnp.array([1.0, 1.0]), **kwargs)
    with pytest.raises(ValueError, match="sigmas must be positive"):
        score.annealed_langevin_dynamics(key, f, x, jnp.array([1.0, 0.0]), **kwargs)
    with pytest.raises(ValueError, match="eps must be positive"):
        score.annealed_langevin_dynamics(key, f, x, SIGMAS, eps=0.0, num_steps_per_level=2)
    with pytest.raises(ValueError, match="num_steps_per_level"):
        score.annealed_langevin_dynamics(key, f, x, SIGMAS, eps=1e-3, num_steps_per_level=0)
    with pytest.raises(ValueError, match="Unknown step_rule"):
        score.annealed_langevin_dynamics(key, f, x, SIGMAS, step_rule="linear", **kwargs)
    with pytest.raises(ValueError, match="step_size must be positive"):
        score.langevin_dynamics(key, lambda x: -x, x, step_size=-0.1, num_steps=3)
    with pytest.raises(ValueError, match="num_steps"):
        score.langevin_dynamics(key, lambda x: -x, x, step_size=0.1, num_steps=0)
