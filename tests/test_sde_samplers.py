"""SDE and ODE machinery of Gaussian paths against closed forms: the probability-flow ODE of
Gaussian data, the solvers' orders, forward simulation, encoding and decoding of a mixture (whose
noised score is exact by autodiff), and the per-example Langevin corrector."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.data.gaussian_mixture import gaussian_mixture_log_prob, sample_gaussian_mixture
from gendiff.data.toy2d import eight_gaussians_mixture
from gendiff.paths import SubVPPath, VEPath, VPPath
from gendiff.sde.euler_maruyama import simulate_forward
from gendiff.sde.ode import ode_sample, solve_probability_flow
from gendiff.sde.pc_sampler import langevin_corrector, pc_sample
from gendiff.utils import right_broadcast

MEANS, _, WEIGHTS = eight_gaussians_mixture()
STDS = jnp.full((8,), 0.2)
PATHS = {"vp": VPPath(), "subvp": SubVPPath(), "ve": VEPath()}


def mixture_score(path):
    """grad log p_t of the noised mixture, t of shape (batch,)."""

    def score_one(x, t):
        alpha, sigma = path.alpha(t), path.sigma(t)
        stds = jnp.sqrt(alpha**2 * STDS**2 + sigma**2)
        return jax.grad(gaussian_mixture_log_prob)(x, alpha * MEANS, stds, WEIGHTS)

    return jax.vmap(score_one)


@pytest.fixture(scope="module")
def reference():
    """Samples of the mixture (a tuple, first entry the samples)."""
    return (sample_gaussian_mixture(jax.random.key(1), MEANS, STDS, WEIGHTS, 2000),)


# The samplers' moments on Gaussian data, for every sampler and three paths, are checked against
# closed forms in tests/test_samplers.py (through gendiff.samplers.SAMPLERS).


def gaussian_score(path, data_std):
    """grad log p_t for data N(0, s^2 I): p_t = N(0, v(t) I), v = alpha^2 s^2 + sigma^2."""

    def variance(t):
        return path.alpha(t) ** 2 * data_std**2 + path.sigma(t) ** 2

    return (lambda x, t: -x / right_broadcast(variance(t), x)), variance


@pytest.mark.parametrize(
    "solver,num_steps,path_name",
    [("rk4", 50, "vp"), ("rk4", 50, "subvp"), ("rk4", 50, "ve"), ("dopri5", 1, "ve")],
)
def test_probability_flow_matches_the_gaussian_closed_form(solver, num_steps, path_name):
    # For p_t = N(0, v(t) I) the flow scales every point: x(t) = x(1) sqrt(v(t) / v(1)).
    path = PATHS[path_name]
    score, variance = gaussian_score(path, data_std=0.5)
    x1 = path.prior_sample(jax.random.key(0), (64, 2))
    x = solve_probability_flow(
        x1,
        score,
        path,
        path.t_max,
        path.t_min,
        solver=solver,
        num_steps=num_steps,
        rtol=1e-6,
        atol=1e-6,
    )
    expected = x1 * jnp.sqrt(variance(path.t_min) / variance(path.t_max))
    np.testing.assert_allclose(x, expected, rtol=1e-4)


def test_fixed_step_solvers_converge_at_their_order():
    path = VPPath()
    score, variance = gaussian_score(path, data_std=0.5)
    x1 = jnp.ones((1, 1))
    exact = jnp.sqrt(variance(path.t_min) / variance(path.t_max))

    def error(solver, num_steps):
        x = solve_probability_flow(
            x1, score, path, path.t_max, path.t_min, solver=solver, num_steps=num_steps
        )
        return abs(float(x[0, 0] - exact))

    # Halving the step divides the error by 2^order (rk4 is not yet asymptotic at 10 steps).
    assert 1.8 < error("euler", 100) / error("euler", 200) < 2.2
    assert 3.5 < error("heun", 50) / error("heun", 100) < 4.5
    assert 12.0 < error("rk4", 10) / error("rk4", 20) < 25.0


@pytest.mark.parametrize("path_name", list(PATHS))
def test_forward_simulation_matches_the_path_marginal(path_name):
    # Started from x(0) ~ q(x_0 | x0), x(t) ~ N(alpha(t) x0, sigma(t)^2 I) for every t.
    path, n = PATHS[path_name], 4000
    x0 = jnp.broadcast_to(jnp.array([0.5, -1.0]), (n, 2))
    x_start, _ = path.sample_marginal(jax.random.key(0), x0, jnp.zeros(n))
    ts, xs = jax.jit(simulate_forward, static_argnums=3)(jax.random.key(1), path, x_start, 500)
    assert xs.shape == (501, n, 2) and ts.shape == (501,)
    for i in (125, 250, 500):
        alpha, sigma = path.alpha(ts[i]), path.sigma(ts[i])
        mean, var = jnp.mean(xs[i], axis=0), jnp.var(xs[i], axis=0)
        np.testing.assert_allclose(mean, alpha * x0[0], atol=float(5 * sigma / np.sqrt(n)))
        np.testing.assert_allclose(var, jnp.full(2, sigma**2), rtol=0.08)


@pytest.mark.parametrize("solver,num_steps", [("rk4", 100), ("dopri5", 1)])
def test_encoding_then_decoding_returns_the_data(reference, solver, num_steps):
    path = VPPath()
    score = mixture_score(path)
    x0 = reference[0][:500]
    solve = jax.jit(
        lambda x, t0, t1: solve_probability_flow(
            x, score, path, t0, t1, solver=solver, num_steps=num_steps, rtol=1e-6, atol=1e-6
        )
    )
    z = solve(x0, path.t_min, path.t_max)
    # The latents are distributed as the prior N(0, I) (to within sampling error).
    np.testing.assert_allclose(jnp.std(z), 1.0, atol=0.1)
    np.testing.assert_allclose(solve(z, path.t_max, path.t_min), x0, atol=2e-3)


@pytest.mark.parametrize(
    "sample",
    [
        lambda key, score, path: pc_sample(
            key,
            score,
            path,
            (16, 2),
            num_steps=5,
            predictor="euler_maruyama",
            corrector="langevin",
            corrector_steps=2,
        ),
        lambda key, score, path: ode_sample(key, score, path, (16, 2), solver="heun", num_steps=5),
    ],
    ids=["pc", "ode"],
)
def test_jit_matches_eager(sample):
    path = VEPath(sigma_max=10.0)
    score, _ = gaussian_score(path, data_std=0.5)
    key = jax.random.key(5)
    eager = sample(key, score, path)
    np.testing.assert_allclose(
        jax.jit(sample, static_argnums=1)(key, score, path), eager, rtol=1e-4, atol=1e-5
    )
    assert np.all(np.isfinite(eager))


def test_bad_arguments_are_rejected():
    path, key = VPPath(), jax.random.key(0)
    score = lambda x, t: -x
    with pytest.raises(ValueError, match="euler_maruyama"):
        pc_sample(key, score, path, (2, 2), num_steps=5, predictor="heun")
    with pytest.raises(ValueError, match="langevin"):
        pc_sample(key, score, path, (2, 2), num_steps=5, corrector="hmc")
    with pytest.raises(ValueError, match="num_steps"):
        pc_sample(key, score, path, (2, 2), num_steps=0)
    with pytest.raises(ValueError, match="corrector_steps"):
        pc_sample(key, score, path, (2, 2), num_steps=5, corrector_steps=0)
    with pytest.raises(ValueError, match="rk4"):
        ode_sample(key, score, path, (2, 2), solver="rk45")
    with pytest.raises(ValueError, match="norms"):
        pc_sample(key, score, path, (2, 2), num_steps=5, step_rule="batch")
    with pytest.raises(ValueError, match="num_steps"):
        ode_sample(key, score, path, (2, 2), num_steps=0)
    with pytest.raises(ValueError, match="num_steps"):
        simulate_forward(key, path, jnp.zeros((2, 2)), 0)


@pytest.mark.parametrize("step_rule", ["noise", "norms"])
def test_langevin_corrector_steps_each_example_on_its_own(step_rule):
    # The step of example 0 does not change when its batch mates move far away.
    path, key = VPPath(), jax.random.key(7)
    score, _ = gaussian_score(path, data_std=0.5)
    x = jax.random.normal(jax.random.key(8), (6, 3))
    far = x.at[1:].multiply(50.0)
    s, t = jnp.full((6,), 0.4), jnp.full((6,), 0.5)
    run = lambda x: langevin_corrector(key, score, path, x, s, t, snr=0.16, num_steps=3, step_rule=step_rule)  # fmt: skip
    np.testing.assert_allclose(run(far)[0], run(x)[0], rtol=1e-6)
    assert not np.allclose(run(x)[0], x[0])
