"""DDIM: time grids, the step against the paper's alpha_bar form and DDPM, sampling and inversion."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff import ddim, ddpm
from gendiff.parameterization import from_x0_eps
from gendiff.paths import DiscreteVPPath, EDMPath, VEPath, VPPath
from gendiff.utils import right_broadcast

T = 1000
PATH = DiscreteVPPath.from_schedule("linear", T)
ALPHA_BAR = np.concatenate(
    [[1.0], np.cumprod(1 - np.asarray(PATH.betas, np.float64))]
)  # [i] = step i
MU, DATA_STD = jnp.array([0.5, -0.3, 0.1]), 0.4


def gaussian_eps(path, mu, data_std):
    """E[eps | x_t] for x_0 ~ N(mu, data_std^2 I): sigma (x - alpha mu) / (alpha^2 s^2 + sigma^2)."""

    def model_fn(x, t):
        a, s = right_broadcast(path.alpha(t), x), right_broadcast(path.sigma(t), x)
        return s * (x - a * mu) / (a**2 * data_std**2 + s**2)

    return model_fn


def gaussian_flow(path, x, t_from, t_to, mu, data_std):
    """The exact probability-flow map of N(mu, s^2 I) data: (x - alpha mu) / sqrt(v) is conserved,
    v = alpha^2 s^2 + sigma^2 (the flow is affine between the Gaussian marginals)."""
    t_from, t_to = jnp.asarray(t_from), jnp.asarray(t_to)
    std = lambda t: jnp.sqrt(path.alpha(t) ** 2 * data_std**2 + path.sigma(t) ** 2)
    return path.alpha(t_to) * mu + std(t_to) / std(t_from) * (x - path.alpha(t_from) * mu)


def wiggly_eps(x, t):
    """An arbitrary smooth model output, for identities that hold for any model."""
    return jnp.tanh(x) * (1.0 + right_broadcast(t, x)) - 0.3


def _roundtrip_error(model_fn, path, x0, num_steps, spacing="uniform", iterations=0):
    x_T = ddim.ddim_invert(
        model_fn,
        path,
        x0,
        num_steps=num_steps,
        spacing=spacing,
        fixed_point_iterations=iterations,
    )
    back = ddim.ddim_sample(
        None, model_fn, path, x0.shape, num_steps=num_steps, spacing=spacing, x_init=x_T
    )
    return float(jnp.linalg.norm(back - x0) / jnp.linalg.norm(x0))


# ----------------------------------------------------------------------------- time grids


def test_discrete_grids_follow_the_paper_and_lin_et_al():
    def steps(n, spacing):
        grid = np.asarray(ddim.timesteps(PATH, n, spacing), np.float64) * T
        np.testing.assert_allclose(grid, np.round(grid), atol=1e-3)  # integer steps i / T
        return np.round(grid).astype(int)

    # DDIM's code: 0-based timesteps 0, 100, ..., 900 are our steps 1, 101, ..., 901.
    np.testing.assert_array_equal(
        steps(10, "uniform"), [901, 801, 701, 601, 501, 401, 301, 201, 101, 1, 0]
    )
    # Lin et al. (2024): round(arange(T, 0, -T / N)), starting exactly at T.
    np.testing.assert_array_equal(
        steps(10, "trailing"), [1000, 900, 800, 700, 600, 500, 400, 300, 200, 100, 0]
    )
    np.testing.assert_array_equal(steps(3, "trailing"), [1000, 667, 333, 0])
    np.testing.assert_array_equal(steps(3, "uniform"), [667, 334, 1, 0])
    k = np.arange(9, -1, -1)
    np.testing.assert_array_equal(
        steps(10, "quadratic"), np.append(1 + np.floor(999 * (k / 9) ** 2), 0)
    )
    for spacing in ddim.SPACINGS:
        np.testing.assert_array_equal(steps(T, spacing), np.arange(T, -1, -1))  # DDPM's chain
        for n in (1, 2, 7, 60, 400, 999):
            grid = steps(n, spacing)
            assert grid.shape == (n + 1,) and grid[-1] == 0 and grid[0] <= T
            assert np.all(np.diff(grid) < 0), (spacing, n)
            if spacing not in ("uniform", "leading"):
                assert grid[0] == T


def test_continuous_grids_span_t_min_to_t_max():
    for path in (VPPath(), VEPath(), EDMPath()):
        for spacing in ddim.SPACINGS:
            grid = np.asarray(ddim.timesteps(path, 8, spacing))
            assert grid.dtype == np.float32 and grid.shape == (9,)
            assert grid[0] == pytest.approx(path.t_max) and grid[-1] == pytest.approx(path.t_min)
            assert np.all(np.diff(grid) < 0)
    path = VPPath()
    frac = (np.asarray(ddim.timesteps(path, 8, "quadratic")) - path.t_min) / (1 - path.t_min)
    np.testing.assert_allclose(frac, (np.arange(8, -1, -1) / 8) ** 2, atol=1e-6)
    uniform = ddim.timesteps(path, 8, "uniform")
    np.testing.assert_allclose(np.diff(uniform), -(1 - path.t_min) / 8, rtol=1e-5)
    np.testing.assert_array_equal(ddim.timesteps(path, 8, "trailing"), uniform)


def test_bad_arguments_raise_naming_what_was_expected():
    x = jnp.zeros((2, 3))
    s, t = jnp.full(2, 0.4), jnp.full(2, 0.5)
    for eta in (-0.1, 1.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"eta must be finite and in \[0, 1\]"):
            ddim.ddim_step(jax.random.key(0), wiggly_eps, PATH, x, s, t, eta=eta)
        with pytest.raises(ValueError, match="eta"):
            ddim.ddim_sample(jax.random.key(0), wiggly_eps, PATH, (2, 3), num_steps=5, eta=eta)
    with pytest.raises(ValueError, match="key may be None only when eta"):
        ddim.ddim_step(None, wiggly_eps, PATH, x, s, t, eta=0.5)
    for n in (0, -3, 2.5):
        with pytest.raises(ValueError, match="num_steps must be a positive integer"):
            ddim.timesteps(VPPath(), n)
    with pytest.raises(ValueError, match="num_steps must be <= T = 1000"):
        ddim.ddim_invert(wiggly_eps, PATH, x, num_steps=1001)
    with pytest.raises(
        ValueError, match=r"expected one of \('uniform', 'time', 'logsnr', 'karras'"
    ):
        ddim.ddim_sample(jax.random.key(0), wiggly_eps, PATH, (2, 3), num_steps=5, spacing="linear")
    with pytest.raises(ValueError, match=r"x_init must have shape \(2, 3\)"):
        ddim.ddim_sample(None, wiggly_eps, PATH, (2, 3), num_steps=5, x_init=jnp.zeros((3, 3)))


# ----------------------------------------------------------------------------- one step


def _paper_tables(i_t, i_s, eta):
    """eq. 16's sigma_tau(eta)^2 and the eq. 12 coefficients from the alpha_bar table, float64."""
    ab_t, ab_s = ALPHA_BAR[i_t], ALPHA_BAR[i_s]
    var = eta**2 * (1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)
    return ab_t, ab_s, var


def test_eta1_noise_is_ho_beta_tilde_and_eta_scales_it():
    i = np.array([1, 2, 10, 500, 999, 1000])
    s, t = jnp.asarray((i - 1) / T), jnp.asarray(i / T)
    beta = np.asarray(PATH.betas, np.float64)[i - 1]
    beta_tilde = (1 - ALPHA_BAR[i - 1]) / (1 - ALPHA_BAR[i]) * beta  # Ho et al. (2020), eq. 7
    c = np.asarray(ddim.ddim_noise_std(PATH, s, t, 1.0), np.float64)
    np.testing.assert_allclose(c**2, beta_tilde, rtol=3e-4, atol=1e-12)
    # Respaced steps t -> t - 37 and eta = 0.3: eq. 16 of Song et al. (2021).
    i_s = np.maximum(i - 37, 0)
    c = np.asarray(ddim.ddim_noise_std(PATH, jnp.asarray(i_s / T), t, 0.3), np.float64)
    np.testing.assert_allclose(c**2, _paper_tables(i, i_s, 0.3)[2], rtol=3e-4, atol=1e-12)


def test_eta1_step_spread_is_the_posterior_variance():
    n = 40_000
    x_t = jnp.broadcast_to(jnp.array([0.3, -1.2]), (n, 2))
    s, t = jnp.full(n, 0.55), jnp.full(n, 0.6)
    step = jax.jit(lambda key, x, s, t: ddim.ddim_step(key, wiggly_eps, PATH, x, s, t, eta=1.0))
    samples = step(jax.random.key(1), x_t, s, t)
    expected = float(ddpm.posterior_variance(PATH, s[:1], t[:1])[0])
    np.testing.assert_allclose(samples.var(axis=0), expected, rtol=0.03)
    mean = ddim.ddim_mean(wiggly_eps, PATH, x_t[:1], s[:1], t[:1], eta=1.0)
    np.testing.assert_allclose(samples.mean(axis=0), mean[0], atol=4 * np.sqrt(expected / n))


@pytest.mark.parametrize("path", [PATH, VPPath()], ids=["discrete", "vp"])
@pytest.mark.parametrize("clip_x0", [False, True])
def test_eta1_mean_is_ddpm_posterior_mean(path, clip_x0):
    k1, k2 = jax.random.split(jax.random.key(2))
    x_t = 1.5 * jax.random.normal(k1, (5, 4))
    t = jnp.array([0.05, 0.2, 0.5, 0.8, 1.0])
    s = jnp.maximum(t - jax.random.uniform(k2, (5,), maxval=0.2), 0.0 if path is PATH else 1e-3)
    # A v-predicting model whose eps is wiggly_eps: the mean must not depend on the parameterisation.
    x0_hat = (x_t - right_broadcast(path.sigma(t), x_t) * wiggly_eps(x_t, t)) / right_broadcast(
        path.alpha(t), x_t
    )
    v_model = lambda x, tt: from_x0_eps(path, x0_hat, wiggly_eps(x, tt), tt, "v")
    if clip_x0:
        x0_hat = jnp.clip(x0_hat, -1, 1)
    expected = ddpm.posterior_mean(path, x0_hat, x_t, s, t)
    for model_fn, prediction in [(wiggly_eps, "eps"), (v_model, "v")]:
        mean = jax.jit(
            lambda x: ddim.ddim_mean(
                model_fn, path, x, s, t, eta=1.0, prediction=prediction, clip_x0=clip_x0
            )
        )(x_t)
        np.testing.assert_allclose(mean, expected, atol=3e-5)


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_step_is_the_papers_eq12_with_alpha_bar(eta):
    i_t = np.array([1000, 901, 540, 100, 38, 1])
    i_s = np.array([900, 801, 500, 1, 0, 0])
    t, s = jnp.asarray(i_t / T, jnp.float32), jnp.asarray(i_s / T, jnp.float32)
    x_t = jax.random.normal(jax.random.key(3), (6, 3))
    key = jax.random.key(4)
    x_s = ddim.ddim_step(key if eta else None, wiggly_eps, PATH, x_t, s, t, eta=eta)

    ab_t, ab_s, var = (a[:, None] for a in _paper_tables(i_t, i_s, eta))
    x64, eps = np.asarray(x_t, np.float64), np.asarray(wiggly_eps(x_t, t), np.float64)
    z = np.asarray(jax.random.normal(key, x_t.shape), np.float64)
    # x_{t-1} = sqrt(ab_{t-1}) (x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t)
    #           + sqrt(1 - ab_{t-1} - sigma_t^2) eps + sigma_t z        (Song et al. 2021, eq. 12)
    expected = (
        np.sqrt(ab_s) * (x64 - np.sqrt(1 - ab_t) * eps) / np.sqrt(ab_t)
        + np.sqrt(1 - ab_s - var) * eps
        + np.sqrt(var) * z
    )
    np.testing.assert_allclose(x_s, expected, atol=5e-5)


def test_point_mass_data_make_one_step_and_inversion_exact():
    # x_0 = mu always: eps(x, t) = (x - alpha mu) / sigma is constant along the flow.
    path = VPPath()
    model_fn = lambda x, t: (
        (x - right_broadcast(path.alpha(t), x) * MU) / right_broadcast(path.sigma(t), x)
    )
    x_t = jax.random.normal(jax.random.key(5), (4, 3))
    t, s = jnp.array([1.0, 0.7, 0.3, 0.05]), jnp.array([0.001, 0.2, 0.29, 0.001])
    expected = jax.vmap(lambda x, a, b: gaussian_flow(path, x, a, b, MU, 0.0))(x_t, t, s)
    # From t = 1, x0_hat = (x - sigma eps) / alpha amplifies float32 rounding by 1 / alpha(1) ~ 150.
    np.testing.assert_allclose(ddim.ddim_step(None, model_fn, path, x_t, s, t), expected, atol=5e-5)
    x0 = MU + 0.2 * jax.random.normal(jax.random.key(6), (4, 3))
    assert _roundtrip_error(model_fn, path, x0, 3) < 1e-5


# ----------------------------------------------------------------------------- sampling


def test_eta0_converges_to_the_exact_probability_flow_of_gaussian_data():
    path = VPPath()
    model_fn = gaussian_eps(path, MU, DATA_STD)
    x_T = jax.random.normal(jax.random.key(7), (256, 3))
    exact = gaussian_flow(path, x_T, path.t_max, path.t_min, MU, DATA_STD)
    errors = {}
    for n in (100, 1000):
        x = ddim.ddim_sample(None, model_fn, path, x_T.shape, num_steps=n, x_init=x_T)
        errors[n] = float(jnp.max(jnp.abs(x - exact)))
    print(f"DDIM eta=0 vs exact Gaussian probability flow, max abs error: {errors}")
    assert errors[1000] < 1e-2
    assert errors[100] / errors[1000] > 8  # first order: error ~ 1 / N


def test_eta1_full_grid_is_ddpm_ancestral_sampling():
    path = DiscreteVPPath.from_schedule("linear", 100)
    model_fn = gaussian_eps(path, MU, DATA_STD)
    key, shape = jax.random.key(8), (64, 3)
    x = ddim.ddim_sample(key, model_fn, path, shape, num_steps=100, eta=1.0)
    expected = ddpm.ancestral_sample(key, model_fn, path, shape, clip_x0=False)
    np.testing.assert_allclose(x, expected, atol=1e-4)


def test_inversion_round_trip_error_shrinks_with_steps():
    path = PATH
    model_fn = gaussian_eps(path, MU, DATA_STD)
    x0 = MU + DATA_STD * jax.random.normal(jax.random.key(9), (256, 3))
    errors = {n: _roundtrip_error(model_fn, path, x0, n, "trailing") for n in (10, 40, 160)}
    print(f"DDIM inversion round trip on {type(path).__name__}, relative error: {errors}")
    assert errors[10] > errors[40] > errors[160]
    assert errors[10] / errors[160] > 8  # ~ 1 / N: 16x more steps
    assert errors[160] < 0.05


def test_fixed_point_inversion_decodes_back_exactly():
    model_fn = gaussian_eps(PATH, MU, DATA_STD)
    x0 = MU + DATA_STD * jax.random.normal(jax.random.key(9), (256, 3))
    errors = {k: _roundtrip_error(model_fn, PATH, x0, 40, "trailing", k) for k in (0, 2, 8)}
    print(f"DDIM inversion round trip at 40 steps vs fixed-point iterations: {errors}")
    assert errors[0] > 10 * errors[2] > 10 * errors[8]
    assert errors[8] < 1e-4
    with pytest.raises(ValueError, match="fixed_point_iterations"):
        ddim.ddim_invert(model_fn, PATH, x0, num_steps=4, fixed_point_iterations=-1)


def test_jit_and_vmap_agree_with_eager():
    path = DiscreteVPPath.from_schedule("linear", 100)
    model_fn = gaussian_eps(path, MU, DATA_STD)
    jitted = jax.jit(
        ddim.ddim_sample,
        static_argnums=(1, 3),
        static_argnames=("num_steps", "spacing", "prediction", "clip_x0"),
    )
    sample = lambda key, eta: jitted(
        key, model_fn, path, (8, 3), num_steps=20, eta=eta, spacing="quadratic"
    )
    keys = jax.random.split(jax.random.key(10), 3)
    eager = ddim.ddim_sample(
        keys[0], model_fn, path, (8, 3), num_steps=20, eta=0.5, spacing="quadratic"
    )
    np.testing.assert_allclose(sample(keys[0], 0.5), eager, atol=1e-5)
    batched = jax.vmap(sample, in_axes=(0, None))(keys, 0.5)
    for k in range(3):
        np.testing.assert_allclose(batched[k], sample(keys[k], 0.5), atol=1e-5)
    assert not np.allclose(batched[0], batched[1])
