"""Probability-flow log-likelihoods against the closed form for Gaussian data."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.paths import DiscreteVPPath, VPPath
from gendiff.sde.likelihood import bits_per_dim, log_likelihood


def _gaussian(path, mu, cov):
    """Score and log-density of p_t = N(alpha mu, alpha^2 cov + sigma^2 I) for x_0 ~ N(mu, cov)."""

    eigvals, eigvecs = jnp.linalg.eigh(cov)  # cov = Q diag(lambda) Q^T, diagonalises every C_t

    def marginal_cov(t):
        a, s = path.alpha(t), path.sigma(t)
        return a[:, None, None] ** 2 * cov + s[:, None, None] ** 2 * jnp.eye(mu.shape[0])

    def score_fn(x, t):
        # -C_t^{-1} (x - alpha mu) with C_t^{-1} = Q diag(1 / (alpha^2 lambda + sigma^2)) Q^T.
        a, s = path.alpha(t)[:, None], path.sigma(t)[:, None]
        residual = (x - a * mu) @ eigvecs
        return -(residual / (a**2 * eigvals + s**2)) @ eigvecs.T

    def log_prob(x, t):
        t = jnp.full((x.shape[0],), t, jnp.float32)
        mean = path.alpha(t)[:, None] * mu
        return jax.vmap(jax.scipy.stats.multivariate_normal.logpdf)(x, mean, marginal_cov(t))

    return score_fn, log_prob


def _problem(dim, batch, mean_scale, seed=0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=dim) * mean_scale
    a = rng.normal(size=(dim, dim)) * 0.4
    cov = a @ a.T + 0.1 * np.eye(dim)  # full covariance: the Jacobian of the score is not diagonal
    x = rng.multivariate_normal(mu, cov, size=batch)
    return jnp.asarray(mu, jnp.float32), jnp.asarray(cov, jnp.float32), jnp.asarray(x, jnp.float32)


@pytest.mark.parametrize(
    "path", [VPPath(), DiscreteVPPath.from_schedule("linear", 1000)], ids=["vp", "discrete_vp"]
)
def test_log_likelihood_matches_the_gaussian_density_at_t_min(path):
    dim = 3
    mu, cov, x = _problem(dim, batch=8, mean_scale=0.2)
    score_fn, log_prob = _gaussian(path, mu, cov)
    out = log_likelihood(jax.random.key(0), score_fn, path, x)
    exact = log_prob(x, path.t_min)
    # The ODE part alone: int div v dt = log p_{t_min}(x) - log p_1(x_1), with the true p_1.
    np.testing.assert_allclose(
        out["delta_log_prob"], exact - log_prob(out["latent"], path.t_max), atol=1e-3 * dim
    )
    # End to end, with the N(0, sigma(1)^2 I) prior standing in for p_1 (alpha(1) ~ 0.0066).
    np.testing.assert_allclose(out["log_prob"], exact, atol=1e-3 * dim)
    np.testing.assert_allclose(out["log_prob"], out["prior_log_prob"] + out["delta_log_prob"])


def test_hutchinson_estimate_is_unbiased_and_vmaps_over_keys():
    path, dim, num_keys = VPPath(), 3, 256
    mu, cov, x = _problem(dim, batch=4, mean_scale=0.3, seed=1)
    score_fn, _ = _gaussian(path, mu, cov)
    exact = log_likelihood(jax.random.key(0), score_fn, path, x)["log_prob"]
    for probe in ("rademacher", "gaussian"):
        estimate = lambda key: log_likelihood(
            key, score_fn, path, x, divergence="hutchinson", probe=probe
        )["log_prob"]
        samples = jax.jit(jax.vmap(estimate))(jax.random.split(jax.random.key(1), num_keys))
        std_err = samples.std(axis=0) / math.sqrt(num_keys)
        assert np.all(samples.std(axis=0) > 0.05), "probes should make the estimate noisy"
        assert np.all(np.abs(samples.mean(axis=0) - exact) < 4 * std_err + 1e-3), probe


def test_jit_and_vmap_over_batches_agree_with_separate_calls():
    path = VPPath()
    mu, cov, x = _problem(2, batch=6, mean_scale=0.5, seed=2)
    score_fn, _ = _gaussian(path, mu, cov)
    tol = {"rtol": 1e-6, "atol": 1e-6}  # rounding may change the step sequence under vmap
    run = lambda x: log_likelihood(jax.random.key(0), score_fn, path, x, **tol)["log_prob"]
    stacked = jax.jit(jax.vmap(run))(x.reshape(2, 3, 2))
    jitted = jax.jit(run)
    separate = jnp.stack([jitted(x[:3]), jitted(x[3:])])
    np.testing.assert_allclose(stacked, separate, rtol=0, atol=1e-4)


def test_nfe_counts_every_score_evaluation():
    # Each example takes its own steps, so its nfe is what a solve of it alone evaluates.
    path = VPPath()
    mu, cov, x = _problem(2, batch=3, mean_scale=0.5, seed=3)
    score_fn, _ = _gaussian(path, mu, cov)
    calls = []

    def counting_score_fn(x, t):
        jax.debug.callback(lambda: calls.append(1))
        return score_fn(x, t)

    for solver in ("tsit5", "dopri8"):  # 6 and 13 new evaluations per step
        run = jax.jit(lambda x: log_likelihood(jax.random.key(0), counting_score_fn, path, x, solver=solver))  # fmt: skip
        for i in range(2):  # two examples, one program: the count is the run's, not the trace's
            calls.clear()
            out = run(x[i : i + 1])
            jax.block_until_ready(out)
            jax.effects_barrier()
            assert int(out["nfe"][0]) == len(calls) > 10, solver


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_each_example_is_the_same_alone_or_in_a_batch_of_64(x64):
    # Per-example step control: an example takes the same steps alone and among 64 (whose far-out
    # batch mates would force smaller steps on a shared step size), so only the rounding of
    # batched arithmetic differs: ~1e-6 relative in float32, ~1e-13 in float64.
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        path, dim = VPPath(), 3
        mu, cov, x = _problem(dim, batch=64, mean_scale=0.5, seed=4)
        mu, cov, x = mu.astype(dtype), cov.astype(dtype), x.astype(dtype)
        score_fn, _ = _gaussian(path, mu, cov)
        x = x.at[1:].multiply(3.0)
        run = jax.jit(lambda x: log_likelihood(jax.random.key(0), score_fn, path, x))
        batched = run(x)
        alone = [run(x[i : i + 1]) for i in range(4)]
        log_prob = jnp.concatenate([out["log_prob"] for out in alone])
        np.testing.assert_array_equal(batched["nfe"][:4], [int(out["nfe"][0]) for out in alone])
        err = np.abs(np.asarray(batched["log_prob"][:4] - log_prob, np.float64))
        print(f"{dtype.__name__}: alone vs batch of 64, max |difference| {err.max():.2e}, "
              f"relative {np.max(err / np.abs(np.asarray(log_prob))):.2e}")  # fmt: skip
        if x64:
            assert err.max() < 1e-10
        else:
            assert np.all(err < 1e-5 * np.maximum(1.0, np.abs(np.asarray(log_prob))))


def test_auto_divergence_is_exact_in_low_and_hutchinson_in_high_dimension():
    path = VPPath()
    for dim, expected, other in ((3, "exact", "hutchinson"), (20, "hutchinson", None)):
        mu, cov, x = _problem(dim, batch=2, mean_scale=0.2, seed=5)
        score_fn, _ = _gaussian(path, mu, cov)

        def run(div):
            fn = lambda x: log_likelihood(
                jax.random.key(1), score_fn, path, x, divergence=div, rtol=1e-3, atol=1e-3
            )["log_prob"]
            return jax.jit(fn)(x)

        auto = run("auto")
        np.testing.assert_array_equal(auto, run(expected))
        if other:  # the two estimates differ, so the equality above picks one
            assert not np.allclose(auto, run(other), atol=1e-3)


def test_a_model_of_any_parameterisation_gives_the_same_likelihood():
    path = VPPath()
    mu, cov, x = _problem(2, batch=4, mean_scale=0.5, seed=6)
    score_fn, _ = _gaussian(path, mu, cov)
    eps_fn = lambda y, t: -path.sigma(t)[:, None] * score_fn(y, t)
    by_score = log_likelihood(jax.random.key(0), score_fn, path, x)["log_prob"]
    by_eps = log_likelihood(jax.random.key(0), eps_fn, path, x, prediction="eps")["log_prob"]
    np.testing.assert_allclose(by_eps, by_score, atol=1e-4)


def test_bits_per_dim_matches_the_expected_dequantised_gaussian_bound():
    # x_0 ~ N(0, s^2 I) and t_min tiny: E_u[-log N(x + u; 0, v)] = 1/2 log(2 pi v) +
    # (x^2 + delta^2 / 3) / (2 v) per dimension, minus log(2 delta) for the bin volume.
    path, dim, batch, num_levels = VPPath(t_min=1e-5), 2, 512, 9
    cov = 0.25 * jnp.eye(dim)
    score_fn, _ = _gaussian(path, jnp.zeros(dim), cov)
    grid = jnp.linspace(-1.0, 1.0, num_levels)
    x = jax.random.choice(jax.random.key(0), grid, (batch, dim))
    out = bits_per_dim(jax.random.key(1), score_fn, path, x, num_levels=num_levels)

    delta = 1.0 / (num_levels - 1)
    t_min = jnp.array(path.t_min)
    v = path.alpha(t_min) ** 2 * 0.25 + path.sigma(t_min) ** 2
    per_dim = 0.5 * jnp.log(2 * jnp.pi * v) + (x**2 + delta**2 / 3) / (2 * v) - jnp.log(2 * delta)
    expected = per_dim.sum(axis=1) / (dim * math.log(2.0))
    err = out["bpd"] - expected  # zero-mean: only the draw of u remains
    assert abs(float(err.mean())) < 4 * float(err.std()) / math.sqrt(batch)
    assert float(err.std()) > 0  # u was really drawn
    np.testing.assert_allclose(out["bpd"], out["nll"] / (dim * math.log(2.0)), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"divergence": "trace"}, "divergence"),
        ({"probe": "normal"}, "probe"),
        ({"solver": "rk4"}, "solver"),
        ({"prediction": "noise"}, "prediction"),
        ({"rtol": 0.0}, "rtol"),
        ({"num_probes": 0}, "num_probes"),
    ],
)
def test_bad_options_raise_clear_errors(kwargs, match):
    score_fn = lambda x, t: -x
    with pytest.raises(ValueError, match=match):
        log_likelihood(jax.random.key(0), score_fn, VPPath(), jnp.zeros((2, 3)), **kwargs)
    with pytest.raises(ValueError, match="shape"):
        log_likelihood(jax.random.key(0), score_fn, VPPath(), jnp.zeros((3,)))
    with pytest.raises(TypeError, match="floating"):
        log_likelihood(jax.random.key(0), score_fn, VPPath(), jnp.zeros((2, 3), jnp.int32))
    with pytest.raises(ValueError, match="num_levels"):
        bits_per_dim(jax.random.key(0), score_fn, VPPath(), jnp.zeros((2, 3)), num_levels=1)
