"""Every sampler of gendiff.samplers.SAMPLERS on closed forms.

For data N(mu, s^2 I) noised along a path x_t = alpha x_0 + sigma eps, the marginal is
N(alpha mu, v I) with v = alpha^2 s^2 + sigma^2, the exact noise prediction is

  eps*(x, t) = sigma (x - alpha mu) / v,

and the probability-flow ODE moves every point affinely: (x - alpha mu) / sqrt(v) is conserved.
With the exact model a sampler's gap to these closed forms is its own error: discretisation for
the ODE solvers (which must fall at the solver's order), discretisation plus Monte Carlo for the
stochastic ones. x0*(x, t) = mu + alpha s^2 (x - alpha mu) / v is the model's x_0 prediction, the
output of a sampler with denoise_final=True.
"""

import math
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.parameterization import from_x0_eps
from gendiff.paths import DiscreteVPPath, EDMPath, RectifiedFlowPath, VEPath, VPPath
from gendiff.samplers import (
    DETERMINISTIC,
    SAMPLERS,
    dpm_solver_pp_sample,
    karras_sigmas,
    singlestep_orders,
    time_grid,
)
from gendiff.utils import right_broadcast

MU, S = np.array([0.5, -0.3]), 0.5
PATHS = {
    "vp": VPPath(),
    "ve": VEPath(sigma_max=10.0),
    "rf": RectifiedFlowPath(t_min=1e-3, t_max=0.999),
}
NUM = 20_000
STOCHASTIC = tuple(name for name in SAMPLERS if name not in DETERMINISTIC)


def gaussian_model(path, prediction="eps", mu=MU, s=S):
    """The exact model of data N(mu, s^2 I) on ``path``, in the given parameterisation."""

    def model_fn(x, t):
        alpha, sigma = right_broadcast(path.alpha(t), x), right_broadcast(path.sigma(t), x)
        eps = sigma * (x - alpha * mu) / (alpha**2 * s**2 + sigma**2)
        return from_x0_eps(path, (x - sigma * eps) / alpha, eps, t, prediction)

    return model_fn


def coefficients(path, t):
    t = jnp.asarray(t, jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)
    return float(path.alpha(t)), float(path.sigma(t))


def variance(path, t, s=S):
    alpha, sigma = coefficients(path, t)
    return alpha**2 * s**2 + sigma**2


def exact_flow(path, x_T, mu=MU, s=S, denoise=False):
    """The probability-flow map from x_T at t_max to t_min (denoise: then x0* at t_min)."""
    x_T = np.asarray(x_T, np.float64)
    a_T, _ = coefficients(path, path.t_max)
    a, _ = coefficients(path, path.t_min)
    v, v_T = variance(path, path.t_min, s), variance(path, path.t_max, s)
    x = a * mu + math.sqrt(v / v_T) * (x_T - a_T * mu)
    return mu + a * s**2 / v * (x - a * mu) if denoise else x


def marginal_draw(path, key, num=NUM):
    """x_{t_max} drawn from the exact marginal (no prior mismatch)."""
    a_T, _ = coefficients(path, path.t_max)
    z = jax.random.normal(key, (num, 2))
    return (a_T * MU + math.sqrt(variance(path, path.t_max)) * z).astype(jnp.float32)


def expected_std(path):
    """The std of x0*(x_{t_min}): alpha s^2 / sqrt(v) at t_min."""
    a, _ = coefficients(path, path.t_min)
    return a * S**2 / math.sqrt(variance(path, path.t_min))


def run(name, path, nfe, x_init, **kwargs):
    fn = lambda key, x: SAMPLERS[name](
        key, gaussian_model(path), path, x.shape, nfe=nfe, x_init=x, return_stats=True, **kwargs
    )
    return jax.jit(fn)(jax.random.key(1), x_init)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_smallest_budgets_run_or_are_refused_clearly(name):
    """NFE 1, 2 and 3: each is either refused with a ValueError before tracing, or runs to a
    finite result spending at most that many evaluations (the smallest budgets take paths of the
    code, e.g. zero Heun steps, that generous budgets never reach)."""
    path, x_init = PATHS["vp"], jnp.zeros((4, 2), jnp.float32)
    options = {"rtol": 1e-2, "atol": 1e-2} if name == "ode_adaptive" else {}
    for nfe in (1, 2, 3):
        try:
            jax.eval_shape(lambda k, x: SAMPLERS[name](
                k, gaussian_model(path), path, x.shape, nfe=nfe, x_init=x, **options),
                jax.random.key(0), x_init)  # fmt: skip
        except ValueError as error:
            assert "nfe" in str(error).lower() or "budget" in str(error).lower(), error
            continue
        if name == "ode_adaptive":
            continue  # its tolerance decides the steps at run time (tested elsewhere)
        x, stats = run(name, path, nfe, x_init, **options)
        assert bool(jnp.all(jnp.isfinite(x))) and int(stats["nfe"]) <= nfe, (nfe, stats)


# ----------------------------------------------------------------------------- moments

# A generous budget per sampler: the stochastic ones converge at weak order 1.
GENEROUS = {name: 500 for name in STOCHASTIC} | {name: 100 for name in DETERMINISTIC}
GENEROUS |= {"ode_adaptive": 2000, "ode_euler": 1000, "ddim": 200, "dpm_solver_1": 200}
GENEROUS |= {"edm_heun": 200}


@pytest.mark.parametrize("path_name", list(PATHS))
@pytest.mark.parametrize("name", list(SAMPLERS))
def test_every_sampler_reproduces_the_gaussian(name, path_name):
    path = PATHS[path_name]
    x, stats = run(name, path, GENEROUS[name], marginal_draw(path, jax.random.key(0)))
    assert x.shape == (NUM, 2) and x.dtype == jnp.float32
    assert int(stats["nfe"]) <= GENEROUS[name]
    mean, std = np.asarray(x.mean(0), np.float64), np.asarray(x.std(0), np.float64)
    target = expected_std(path)
    print(f"{name} {path_name}: mean-mu {mean - MU}, std/s {std / target}, nfe {stats['nfe']}")
    np.testing.assert_array_less(np.abs(mean - MU), 3 * target / math.sqrt(NUM))
    np.testing.assert_allclose(std, target, rtol=0.02)


def test_samplers_agree_at_1000_nfe_with_denoise_final():
    # From the prior (no x_init), each with its own key: every difference is Monte Carlo error.
    path, names = PATHS["vp"], ("ancestral", "ddim", "pc", "dpm_solver_pp_2m", "edm_heun")
    moments = {}
    for i, name in enumerate(names):
        sample = jax.jit(lambda key: SAMPLERS[name](key, gaussian_model(path), path, (NUM, 2), nfe=1000))  # fmt: skip
        x = np.asarray(sample(jax.random.key(10 + i)), np.float64)
        moments[name] = (x.mean(0), x.std(0))
        print(f"{name:18s} mean {x.mean(0)}, std {x.std(0)}")
    se_mean = S / math.sqrt(NUM)
    se_std = S / math.sqrt(2 * NUM)
    for a in names:
        for b in names:
            np.testing.assert_array_less(
                np.abs(moments[a][0] - moments[b][0]), 3 * math.sqrt(2) * se_mean + 2e-3
            )
            np.testing.assert_array_less(
                np.abs(moments[a][1] - moments[b][1]), 3 * math.sqrt(2) * se_std + 2e-3
            )


# ----------------------------------------------------------------------------- the exact map


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_samplers_follow_the_exact_flow_map(name):
    path = PATHS["vp"]
    x_T = marginal_draw(path, jax.random.key(2), 64)
    nfe = 2000 if name == "ode_adaptive" else 400
    for denoise_final in (True, False):
        x, _ = run(name, path, nfe, x_T, denoise_final=denoise_final)
        exact = exact_flow(path, x_T, denoise=denoise_final)
        np.testing.assert_allclose(
            x, exact, atol=2e-2 if name in ("ddim", "ode_euler", "dpm_solver_1") else 2e-3
        )


# (name, path, prediction, spacing, expected order, budgets whose step counts are K and 2K).
# DPM-Solver-3 budgets 3k + 2 end with one order-2 step (not an order-1 step) at both K and 2K.
ORDERS = [
    ("ddim", "vp", "eps", "logsnr", 1, (16, 32)),
    ("ode_euler", "vp", "eps", "time", 1, (64, 128)),
    ("ode_heun", "vp", "x0", "time", 2, (32, 64)),
    ("ode_rk4", "vp", "eps", "time", 4, (40, 80)),
    ("edm_heun", "vp", "eps", "karras", 2, (16, 32)),
    ("edm_heun", "ve", "x0", "karras", 2, (16, 32)),
    ("dpm_solver_1", "vp", "eps", "logsnr", 1, (16, 32)),
    ("dpm_solver_2", "vp", "eps", "logsnr", 2, (16, 32)),
    ("dpm_solver_3", "vp", "eps", "logsnr", 3, (11, 23)),
    ("dpm_solver_pp_2m", "vp", "v", "logsnr", 2, (16, 32)),
    ("dpm_solver_pp_3m", "vp", "eps", "logsnr", 3, (16, 32)),
    ("dpm_solver_pp_3m", "rf", "velocity", "logsnr", 3, (16, 32)),
]


@pytest.mark.parametrize("name,path_name,prediction,spacing,order,budgets", ORDERS)
def test_ode_solvers_converge_at_their_order(name, path_name, prediction, spacing, order, budgets):
    path = PATHS[path_name]
    x_T = marginal_draw(path, jax.random.key(3), 64)
    exact = exact_flow(path, x_T)
    model = gaussian_model(path, prediction)
    errors = []
    for nfe in budgets:
        fn = lambda x: SAMPLERS[name](None, model, path, x.shape, nfe=nfe, prediction=prediction,
                                      x_init=x, denoise_final=False, spacing=spacing)  # fmt: skip
        errors.append(float(np.max(np.abs(np.asarray(jax.jit(fn)(x_T), np.float64) - exact))))
    slope = math.log2(errors[0] / errors[1])
    print(f"{name} {path_name}: errors {errors}, measured order {slope:.2f}")
    assert order - 0.35 < slope < order + 1.0, (errors, slope)


# ----------------------------------------------------------------------------- float64


POINT_MASS_EXACT = ("ddim", "edm_heun", "dpm_solver_1", "dpm_solver_2", "dpm_solver_3",
                    "dpm_solver_pp_2m", "dpm_solver_pp_3m")  # fmt: skip


@pytest.mark.parametrize("name", POINT_MASS_EXACT)
def test_exponential_integrators_are_exact_for_point_mass_data_in_float64(name):
    # Data = the point mu: x0* = mu is constant along every trajectory, which every exponential
    # integrator (and EDM's Heun in sigma~) integrates exactly: x(t_min) = alpha mu +
    # sigma / sigma_T (x_T - alpha_T mu). Only rounding remains: 1e-10 in float64.
    with jax.enable_x64(True):
        path = VPPath()
        x_T = jax.random.normal(jax.random.key(0), (16, 2), jnp.float64)
        mu = jnp.asarray([0.5, -0.3], jnp.float64)  # a float64 constant made under x64
        model = gaussian_model(path, "eps", mu=mu, s=0.0)
        fn = lambda x: SAMPLERS[name](None, model, path, x.shape, nfe=9, x_init=x, denoise_final=False)  # fmt: skip
        x = jax.jit(fn)(x_T)
        assert x.dtype == jnp.float64
        (a_T, s_T), (a, s) = coefficients(path, path.t_max), coefficients(path, path.t_min)
        exact = a * MU + s / s_T * (np.asarray(x_T, np.float64) - a_T * MU)
        np.testing.assert_allclose(x, exact, rtol=0, atol=1e-10)


def test_paths_and_grids_evaluate_in_the_dtype_of_t():
    with jax.enable_x64(True):
        t = jnp.linspace(0.1, 1.0, 5, dtype=jnp.float64)
        for path in (
            VPPath(),
            VEPath(),
            EDMPath(),
            RectifiedFlowPath(),
            DiscreteVPPath.from_schedule("cosine", 100),
        ):
            assert path.alpha(t).dtype == jnp.float64 and path.sigma(t).dtype == jnp.float64
            assert path.log_snr(t).dtype == jnp.float64
        # lambda(t(lambda)) = lambda to float64 accuracy: the bisection runs 64 halvings.
        lam = VPPath().log_snr(t)
        np.testing.assert_allclose(VPPath().t_from_log_snr(lam), t, rtol=1e-12)
        assert time_grid(VPPath(), 8, "logsnr", dtype=jnp.float64).dtype == jnp.float64
    assert VPPath().alpha(jnp.ones(2, jnp.bfloat16)).dtype == jnp.bfloat16


# ----------------------------------------------------------------------------- jit, vmap, pmap


STATIC = ("model_fn", "shape", "nfe", "prediction", "denoise_final", "clip_x0")


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_jit_compiles_once_per_configuration_and_vmaps_over_keys(name):
    path, model = PATHS["vp"], gaussian_model(PATHS["vp"])
    traces = []

    def counted(x, t):
        traces.append(1)  # runs only while tracing
        return model(x, t)

    nfe = 200 if name == "ode_adaptive" else 12
    sampler = jax.jit(SAMPLERS[name], static_argnames=STATIC)
    first = sampler(jax.random.key(0), model_fn=counted, path=path, shape=(4, 2), nfe=nfe)
    for seed in (1, 2):
        sampler(jax.random.key(seed), model_fn=counted, path=path, shape=(4, 2), nfe=nfe)
    assert sampler._cache_size() == 1
    traced = len(traces)
    sampler(jax.random.key(0), model_fn=counted, path=path, shape=(4, 2), nfe=nfe + 4)
    assert sampler._cache_size() == 2 and len(traces) > traced
    # vmap over keys: each key's sample equals its own unbatched run.
    keys = jax.random.split(jax.random.key(0), 3)
    batched = jax.vmap(lambda k: SAMPLERS[name](k, model, path, (4, 2), nfe=nfe))(keys)
    np.testing.assert_allclose(
        batched[1], SAMPLERS[name](keys[1], model, path, (4, 2), nfe=nfe), atol=1e-5, rtol=1e-5
    )
    assert np.all(np.isfinite(first))


@pytest.mark.parametrize(
    "name", ["ancestral", "ddim", "pc", "dpm_solver_pp_2m", "edm_heun", "ode_adaptive"]
)
def test_runs_under_pmap_and_with_a_bfloat16_model(name):
    path, model = PATHS["vp"], gaussian_model(PATHS["vp"])
    keys = jax.random.split(jax.random.key(0), jax.local_device_count())
    nfe = 200 if name == "ode_adaptive" else 20
    out = jax.pmap(lambda k: SAMPLERS[name](k, model, path, (8, 2), nfe=nfe))(keys)
    assert out.shape == (jax.local_device_count(), 8, 2)
    np.testing.assert_allclose(
        out[0], SAMPLERS[name](keys[0], model, path, (8, 2), nfe=nfe), atol=1e-5
    )

    def bf16_model(x, t):
        return model(x.astype(jnp.bfloat16), t.astype(jnp.bfloat16)).astype(jnp.bfloat16)

    x_init = marginal_draw(path, jax.random.key(1), 4000)
    x = jax.jit(lambda k: SAMPLERS[name](k, bf16_model, path, x_init.shape, nfe=GENEROUS[name], x_init=x_init))(jax.random.key(2))  # fmt: skip
    assert x.dtype == jnp.float32
    np.testing.assert_allclose(x.mean(0), MU, atol=0.05)
    np.testing.assert_allclose(x.std(0), expected_std(path), rtol=0.05)


def test_shards_over_four_devices():
    # Faked devices need the flag before jax is imported: run in a fresh interpreter.
    script = textwrap.dedent(
        """
        import jax, jax.numpy as jnp, numpy as np
        from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
        from gendiff.paths import VPPath
        from gendiff.samplers import SAMPLERS
        assert jax.device_count() == 4
        path = VPPath()
        model = lambda x, t: x * path.sigma(t)[:, None]  # eps of N(0, I) data
        sharding = NamedSharding(Mesh(np.array(jax.devices()), ("data",)), P("data"))
        x_init = jax.random.normal(jax.random.key(0), (16, 3))
        for name in ("dpm_solver_pp_2m", "ancestral", "pc"):
            run = jax.jit(lambda k, x: SAMPLERS[name](k, model, path, x.shape, nfe=10, x_init=x))
            sharded = run(jax.random.key(1), jax.device_put(x_init, sharding))
            assert sharded.sharding.is_equivalent_to(sharding, 2), sharded.sharding
            np.testing.assert_allclose(sharded, run(jax.random.key(1), x_init), atol=1e-5)
            pmapped = jax.pmap(lambda k: SAMPLERS[name](k, model, path, (4, 3), nfe=10))(
                jax.random.split(jax.random.key(2), 4))
            assert pmapped.shape == (4, 4, 3)
        print("ok")
        """
    )
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
    }
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]


# ----------------------------------------------------------------------------- details


def test_dpm_solver_pp_clips_x0_and_is_exact_for_a_constant_x0():
    # A model whose x_0 prediction is the constant c has the exact flow
    # x_s = sigma_s / sigma_t x_t + c (alpha_s - sigma_s alpha_t / sigma_t); clipping makes c = 1.
    path = VPPath()
    x_T = marginal_draw(path, jax.random.key(4), 64)
    (a_T, s_T), (a, s) = coefficients(path, path.t_max), coefficients(path, path.t_min)
    three = lambda x, t: jnp.full_like(x, 3.0)
    for method in ("2m", "3m"):
        run_ = lambda x: dpm_solver_pp_sample(None, three, path, x.shape, num_steps=5, method=method, prediction="x0", clip_x0=True, x_init=x)  # fmt: skip
        expected = s / s_T * np.asarray(x_T, np.float64) + (a - s * a_T / s_T)
        np.testing.assert_allclose(jax.jit(run_)(x_T), expected, rtol=1e-4, atol=1e-5)


def test_churn_keeps_the_data_distribution():
    path = EDMPath()
    x_T = marginal_draw(path, jax.random.key(3), 4000)
    sample = jax.jit(lambda key: SAMPLERS["edm_heun"](key, gaussian_model(path), path, x_T.shape, nfe=127, s_churn=40.0, x_init=x_T))  # fmt: skip
    x, y = sample(jax.random.key(4)), sample(jax.random.key(5))
    assert np.mean(np.abs(x - y)) > 0.1  # only the churn noise differs
    for z in (x, y):
        np.testing.assert_allclose(z.mean(0), MU, atol=0.03)
        np.testing.assert_allclose(z.std(0), [S, S], atol=0.03)


def test_karras_sigmas_and_grids():
    sigmas = np.asarray(karras_sigmas(10, 0.002, 80.0))
    np.testing.assert_allclose(sigmas[[0, 9, 10]], [80.0, 0.002, 0.0], rtol=1e-5)
    np.testing.assert_allclose(karras_sigmas(6, 0.5, 3.0, rho=1.0), [3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.0], rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(karras_sigmas(3, 0.002, 80.0, rho=2.0)[1], 20.2005, rtol=1e-4)
    # 'karras' times map back to eq. 5's levels of sigma~ = sigma / alpha on any path.
    for path in (EDMPath(), VPPath()):
        times = time_grid(path, 12, "karras", rho=5.0)
        levels = np.exp(-0.5 * np.asarray(path.log_snr(times[np.array([0, -1])]), np.float64))
        expected = karras_sigmas(12, levels[1], levels[0], rho=5.0, append_zero=False)
        np.testing.assert_allclose(path.sigma(times) / path.alpha(times), expected, rtol=1e-4)
    lam = np.asarray(VPPath().log_snr(time_grid(VPPath(), 8, "logsnr")), np.float64)
    np.testing.assert_allclose(np.diff(lam), (lam[-1] - lam[0]) / 8, rtol=1e-3)
    np.testing.assert_allclose(time_grid(VPPath(), 4), [1.0, 0.75025, 0.5005, 0.25075, 0.001])
    # On a DiscreteVPPath every spacing lands on distinct integer steps.
    discrete = DiscreteVPPath.from_schedule("linear", 100)
    for spacing in ("time", "logsnr", "karras", "quadratic", "trailing", "leading"):
        steps = np.asarray(time_grid(discrete, 40, spacing), np.float64) * 100
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)
        assert np.all(np.diff(np.round(steps)) < 0) and round(steps[-1]) == 1


def test_singlestep_orders_spend_every_evaluation():
    assert singlestep_orders(6, 3) == (3, 2, 1)
    assert singlestep_orders(7, 3) == (3, 3, 1)
    assert singlestep_orders(8, 3) == (3, 3, 2)
    for order in (1, 2, 3):
        for nfe in range(order, 30):
            orders = singlestep_orders(nfe, order)
            assert sum(orders) == nfe and max(orders) <= order


@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        ("heun_sampler", {"nfe": 10}, r"Unknown sampler 'heun_sampler'; expected one of \('ancestral'"),
        ("dpm_solver_3", {"nfe": 3}, r"nfe must be an integer >= 4 for 'dpm_solver_3'"),
        ("dpm_solver_3", {"nfe": 2, "denoise_final": False}, r"nfe must be an integer >= 3"),
        ("ode_rk4", {"nfe": 4}, r"nfe must be an integer >= 5 for 'ode_rk4'"),
        ("dpm_solver_pp_2m", {"nfe": 0}, r"nfe must be an integer >= 2 for 'dpm_solver_pp_2m'"),
        ("ddim", {"nfe": 10, "x_init": jnp.zeros((3, 2))}, r"x_init must have shape \(4, 2\), got \(3, 2\)"),
        ("ancestral", {"nfe": 10, "prediction": "noise"}, r"Unknown prediction type 'noise'; expected one of \('eps'"),
        ("pc", {"nfe": 10, "predictor": "heun"}, r"expected one of \('euler_maruyama'"),
        ("ode_adaptive", {"nfe": 100, "solver": "rk45"}, r"expected one of \('tsit5'"),
        ("dpm_solver_pp_2m", {"nfe": 10, "spacing": "cos"}, r"Unknown spacing 'cos'; expected one of \('time'"),
        ("edm_heun", {"nfe": 10, "path": RectifiedFlowPath()}, "t_max=0.999"),
    ],
)  # fmt: skip
def test_bad_inputs_raise_naming_what_was_expected(name, kwargs, match):
    path = kwargs.pop("path", VPPath())
    with pytest.raises(ValueError, match=match):
        SAMPLERS[name](jax.random.key(0), gaussian_model(VPPath()), path, (4, 2), **kwargs)


@pytest.mark.parametrize("name", ["ode_euler", "ode_heun", "ode_rk4"])
def test_velocity_models_run_on_rectified_flow_up_to_t_one(name):
    """At t = 1 alpha = 0, so the generic drift f x - g^2 s / 2 is infinite there; a velocity
    model's output is the drift itself. For data N(MU, S^2 I) the exact velocity makes every
    trajectory a straight line, x_0 = MU + S x_1, which any of these solvers follows exactly."""
    rf, mu = RectifiedFlowPath(), jnp.asarray(MU, jnp.float32)

    def velocity(x, t):
        t = t[:, None]
        z = (x - (1.0 - t) * mu) / ((1.0 - t) * S + t)
        return -mu + (1.0 - S) * z

    x1 = jax.random.normal(jax.random.key(0), (8, 2))
    x = SAMPLERS[name](None, velocity, rf, x1.shape, nfe=12, prediction="velocity",
                       x_init=x1, denoise_final=False)  # fmt: skip
    np.testing.assert_allclose(x, MU + S * np.asarray(x1), atol=1e-5)
