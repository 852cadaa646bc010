"""Fast samplers of gendiff.samplers, run with the exact model of Gaussian data.

For data N(mu, s^2 I) the rescaled state x~ = x / alpha is N(mu, (s^2 + sigma~^2) I) with
sigma~ = sigma / alpha, the exact noise prediction is

  eps*(x, t) = sigma (x - alpha mu) / (alpha^2 s^2 + sigma^2) = sigma~ (x~ - mu) / (s^2 + sigma~^2),

and the probability-flow ODE dx~/dsigma~ = eps* has the closed-form solution

  x~(sigma~) = mu + (x~_T - mu) sqrt((s^2 + sigma~^2) / (s^2 + sigma~_T^2)),

so a sampler's distance to it is the sampler's own discretisation error.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.parameterization import from_x0_eps
from gendiff.paths import EDMPath, RectifiedFlowPath, VPPath
from gendiff.samplers import (
    SAMPLERS,
    dpm_solver_pp_sample,
    dpm_solver_sample,
    edm_heun_sample,
    karras_sigmas,
    karras_times,
    singlestep_orders,
    time_steps,
)
from gendiff.utils import right_broadcast

MU, S = np.array([1.0, -0.5]), 0.5
PATHS = {"vp": VPPath(), "edm": EDMPath()}
SHAPE = (64, 2)


def gaussian_model(path, prediction="eps"):
    """The exact model of data N(MU, S^2 I) on ``path``, in the given parameterisation."""

    def model_fn(x, t):
        alpha, sigma = right_broadcast(path.alpha(t), x), right_broadcast(path.sigma(t), x)
        eps = sigma * (x - alpha * MU) / (alpha**2 * S**2 + sigma**2)
        return from_x0_eps(path, (x - sigma * eps) / alpha, eps, t, prediction)

    return model_fn


def scaled_sigma(path, t):
    t = jnp.float32(t)
    return float(path.sigma(t)) / float(path.alpha(t))


def exact_flow(path, x_T, t_end):
    """The probability-flow ODE solution at t_end from x_T at t_max (t_end=None: sigma~ = 0)."""
    x_T = np.asarray(x_T, np.float64)
    sigma_T = scaled_sigma(path, path.t_max)
    sigma_end = 0.0 if t_end is None else scaled_sigma(path, t_end)
    alpha_end = 1.0 if t_end is None else float(path.alpha(jnp.float32(t_end)))
    x_tilde = MU + (x_T / float(path.alpha(jnp.float32(path.t_max))) - MU) * np.sqrt(
        (S**2 + sigma_end**2) / (S**2 + sigma_T**2)
    )
    return alpha_end * x_tilde


def x_T_of(path):
    return path.prior_sample(jax.random.key(0), SHAPE)


def counting(model_fn):
    """model_fn that appends to the returned list at every evaluation it executes."""
    calls = []

    def counted(x, t):
        jax.debug.callback(lambda: calls.append(1))
        return model_fn(x, t)

    return counted, calls


def evaluations(calls):
    jax.effects_barrier()
    return len(calls)


# Each case runs n steps through SAMPLERS, which take a budget of model evaluations: name ->
# (SAMPLERS entry, the evaluations of n steps).
RUNNERS = {
    "heun": ("edm_heun", lambda n: 2 * n - 1),
    "dpm1": ("dpm_solver_1", lambda n: n),
    "dpm2": ("dpm_solver_2", lambda n: 2 * n),
    "dpm3": ("dpm_solver_3", lambda n: 3 * n - 1),  # n - 1 steps of order 3, one of order 2
    "pp2m": ("dpm_solver_pp_2m", lambda n: n),
}


# (sampler, path, model parameterisation, expected order, step counts n and 2n, error bound
# at 2n). Measured slopes log2(err(n) / err(2n)): heun 2.34 (vp) 2.45 (edm), dpm1 0.95,
# dpm2 2.12, dpm3 3.86, pp2m 1.96.
CONVERGENCE = [
    ("heun", "vp", "eps", 2, 8, 0.15),
    ("heun", "edm", "x0", 2, 8, 0.15),
    ("dpm1", "vp", "eps", 1, 16, 0.12),
    ("dpm2", "vp", "eps", 2, 8, 0.05),
    ("dpm3", "vp", "eps", 3, 6, 3e-3),
    ("pp2m", "vp", "v", 2, 32, 3e-3),
]


@pytest.mark.parametrize("sampler,path_name,prediction,order,n,bound", CONVERGENCE)
def test_error_falls_at_the_solver_order(sampler, path_name, prediction, order, n, bound):
    path = PATHS[path_name]
    model_fn, calls = counting(gaussian_model(path, prediction))
    x_T = x_T_of(path)
    exact = exact_flow(path, x_T, None if sampler == "heun" else path.t_min)
    name, nfe = RUNNERS[sampler]
    err = []
    for k in (n, 2 * n):
        calls.clear()
        run = lambda x: SAMPLERS[name](None, model_fn, path, SHAPE, nfe=nfe(k), prediction=prediction, x_init=x)  # fmt: skip
        err.append(np.max(np.abs(jax.jit(run)(x_T) - exact)))
        assert evaluations(calls) == nfe(k)
    slope = math.log2(err[0] / err[1])
    print(f"{sampler} {path_name}: errors {err}, slope {slope:.2f}")
    assert err[1] < bound, err
    assert order - 0.3 < slope < order + 1.0, slope


def test_dpm_solver_1_is_ddim_plain_jitted_and_vmapped():
    # x_s = alpha_s / alpha_t x_t - sigma_s (e^h - 1) eps(x_t, t), h = lambda_s - lambda_t, in
    # float64 on the same lambda-uniform grid.
    path, n = VPPath(), 6
    model_fn, x_T = gaussian_model(path), x_T_of(path)
    times = time_steps(path, n)
    alpha = np.asarray(path.alpha(times), np.float64)
    sigma = np.asarray(path.sigma(times), np.float64)
    lam = np.log(alpha / sigma)
    x = np.asarray(x_T, np.float64)
    for i in range(n):
        eps = sigma[i] * (x - alpha[i] * MU) / (alpha[i] ** 2 * S**2 + sigma[i] ** 2)
        x = alpha[i + 1] / alpha[i] * x - sigma[i + 1] * np.expm1(lam[i + 1] - lam[i]) * eps
    run = lambda x_T: dpm_solver_sample(None, model_fn, path, SHAPE, nfe=n, order=1, x_init=x_T)
    np.testing.assert_allclose(run(x_T), x, rtol=1e-4, atol=1e-5)
    batched = jax.jit(jax.vmap(run))(jnp.stack([x_T, -x_T]))
    np.testing.assert_allclose(batched[0], run(x_T), atol=1e-5)
    assert not np.allclose(batched[0], batched[1])


def test_dpm_solver_reaches_the_flow_on_a_rectified_flow_path():
    path = RectifiedFlowPath(t_min=1e-3, t_max=0.999)
    model_fn, x_T = gaussian_model(path, "velocity"), x_T_of(path)
    run = lambda x: dpm_solver_sample(None, model_fn, path, SHAPE, nfe=41, prediction="velocity", x_init=x)  # fmt: skip
    np.testing.assert_allclose(jax.jit(run)(x_T), exact_flow(path, x_T, path.t_min), atol=5e-3)


def test_karras_sigmas_follow_eq5():
    sigmas = np.asarray(karras_sigmas(10, 0.002, 80.0))
    assert sigmas.shape == (11,)
    np.testing.assert_allclose(sigmas[[0, 9, 10]], [80.0, 0.002, 0.0], rtol=1e-5)
    assert np.all(np.diff(sigmas) < 0)
    # rho = 1 spaces the levels linearly; rho = 2: the middle of 3 is ((sqrt 80 + sqrt .002) / 2)^2.
    np.testing.assert_allclose(
        karras_sigmas(6, 0.5, 3.0, rho=1.0), [3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.0], rtol=1e-6
    )
    np.testing.assert_allclose(karras_sigmas(3, 0.002, 80.0, rho=2.0)[1], 20.2005, rtol=1e-4)
    ending = np.asarray(karras_sigmas(3, 0.5, 3.0, rho=1.0, append_zero=False))
    np.testing.assert_allclose(ending, [3.0, 2.1666667, 1.3333333, 0.5], rtol=1e-6)


def test_karras_times_map_back_to_the_requested_sigmas():
    # EDMPath: sigma~ = 80 t, so the times are the levels over 80.
    edm = EDMPath()
    expected = karras_sigmas(12, 0.002, 80.0, append_zero=False) / 80.0
    np.testing.assert_allclose(karras_times(edm, 12), expected, rtol=1e-5)
    vp = VPPath()
    times = karras_times(vp, 12, rho=5.0)
    np.testing.assert_array_equal(times[np.array([0, -1])], np.float32([vp.t_max, vp.t_min]))
    assert np.all(np.diff(np.asarray(times)) < 0)
    levels = karras_sigmas(
        12, scaled_sigma(vp, vp.t_min), scaled_sigma(vp, vp.t_max), rho=5.0, append_zero=False
    )
    np.testing.assert_allclose(vp.sigma(times) / vp.alpha(times), levels, rtol=1e-4)


def test_time_steps_are_uniform_in_the_requested_variable():
    path = VPPath()
    lam = np.asarray(path.log_snr(time_steps(path, 8, "logsnr")), np.float64)
    np.testing.assert_allclose(np.diff(lam), (lam[-1] - lam[0]) / 8, rtol=1e-3)
    np.testing.assert_allclose(time_steps(path, 4, "time"), [1.0, 0.75025, 0.5005, 0.25075, 0.001])


def test_singlestep_orders_spend_every_evaluation():
    assert singlestep_orders(6, 3) == (3, 2, 1)
    assert singlestep_orders(7, 3) == (3, 3, 1)
    assert singlestep_orders(8, 3) == (3, 3, 2)
    assert singlestep_orders(5, 2) == (2, 2, 1)
    assert singlestep_orders(3, 1) == (1, 1, 1)
    for order in (1, 2, 3):
        for nfe in range(order, 30):
            orders = singlestep_orders(nfe, order)
            assert sum(orders) == nfe and max(orders) <= order


def test_dpm_solver_pp_clips_x0_and_is_exact_for_a_constant_x0():
    # A model whose x_0 prediction is the constant c has the exact flow
    # x_s = sigma_s / sigma_t x_t + c (alpha_s - sigma_s alpha_t / sigma_t); clipping makes c = 1.
    path = VPPath()
    x_T = x_T_of(path)
    ends = jnp.array([path.t_max, path.t_min], jnp.float32)
    (alpha_T, alpha_end), (sigma_T, sigma_end) = path.alpha(ends), path.sigma(ends)
    three = lambda x, t: jnp.full_like(x, 3.0)
    run = lambda x: dpm_solver_pp_sample(None, three, path, SHAPE, num_steps=5, prediction="x0", clip_x0=True, x_init=x)  # fmt: skip
    expected = sigma_end / sigma_T * x_T + (alpha_end - sigma_end * alpha_T / sigma_T)
    np.testing.assert_allclose(jax.jit(run)(x_T), expected, rtol=1e-4, atol=1e-5)


def test_churn_keeps_the_data_distribution():
    # With x_T fixed, only the churn noise makes the two keys' samples differ.
    path = EDMPath()
    model_fn = gaussian_model(path)
    x_T = path.prior_sample(jax.random.key(3), (4000, 2))
    sample = jax.jit(
        lambda key: edm_heun_sample(
            key, model_fn, path, x_T.shape, num_steps=64, s_churn=40.0, x_init=x_T
        )
    )
    x, y = sample(jax.random.key(4)), sample(jax.random.key(5))
    assert np.mean(np.abs(x - y)) > 0.1
    for z in (x, y):
        np.testing.assert_allclose(z.mean(0), MU, atol=0.03)
        np.testing.assert_allclose(z.std(0), [S, S], atol=0.03)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda m, p: dpm_solver_sample(jax.random.key(0), m, p, SHAPE, nfe=2, order=3), "nfe"),
        (lambda m, p: dpm_solver_sample(jax.random.key(0), m, p, SHAPE, nfe=8, order=4), "order"),
        (lambda m, p: dpm_solver_sample(jax.random.key(0), m, p, SHAPE, nfe=0, order=1), "nfe"),
        (lambda m, p: edm_heun_sample(jax.random.key(0), m, p, SHAPE, num_steps=0), "num_steps"),
        (lambda m, p: edm_heun_sample(jax.random.key(0), m, p, SHAPE, num_steps=4, rho=0.0), "rho"),
        (lambda m, p: dpm_solver_pp_sample(jax.random.key(0), m, p, SHAPE, num_steps=0), "num_steps"),
        (lambda m, p: dpm_solver_pp_sample(jax.random.key(0), m, p, SHAPE, num_steps=4, spacing="cos"), "spacing"),
        (lambda m, p: dpm_solver_pp_sample(jax.random.key(0), m, p, SHAPE, num_steps=4, prediction="noise"), "prediction"),
        (lambda m, p: dpm_solver_pp_sample(None, m, p, SHAPE, num_steps=4), "key"),
        (lambda m, p: dpm_solver_pp_sample(None, m, p, SHAPE, num_steps=4, x_init=jnp.zeros((3, 2))), "shape"),
        (lambda m, p: edm_heun_sample(None, m, p, SHAPE, num_steps=4, s_churn=1.0, x_init=jnp.zeros(SHAPE)), "key"),
        (lambda m, p: karras_sigmas(4, 80.0, 0.002), "sigma_min"),
        (lambda m, p: karras_times(p, 4, rho=-1.0), "rho"),
        (lambda m, p: dpm_solver_sample(jax.random.key(0), m, RectifiedFlowPath(), SHAPE, nfe=6), "t_max=0.999"),
        (lambda m, p: edm_heun_sample(jax.random.key(0), m, RectifiedFlowPath(), SHAPE, num_steps=4), "t_max=0.999"),
    ],
)  # fmt: skip
def test_bad_inputs_raise(call, match):
    path = VPPath()
    with pytest.raises(ValueError, match=match):
        call(gaussian_model(path), path)
