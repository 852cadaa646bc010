"""Flow matching and reflow against the closed forms of Gaussian data.

For data x_0 ~ N(mu, s^2 I) and noise x_1 ~ N(0, I) on a path x_t = alpha x_0 + sigma x_1 the
pair (x_0, x_1) and x_t are jointly Gaussian, so the optimal velocity
v*(x, t) = E[alpha' x_0 + sigma' x_1 | x_t = x] is affine in x, the flow it generates is known
in closed form, and so is the minimum of the flow matching loss.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gendiff.flow_matching import (
    coupled_flow_matching_loss,
    flow_matching_loss,
    flow_sample,
    reflow_pairs,
    straightness,
)
from gendiff.nets import MLPDenoiser
from gendiff.paths import RectifiedFlowPath, VPPath
from gendiff.sde.drifts import probability_flow_drift
from gendiff.sde.ode import solve_ode, solve_probability_flow
from gendiff.utils import right_broadcast

MU = jnp.array([1.0, -0.5])
S = 0.5
PATHS = {"rf": RectifiedFlowPath(), "ot": RectifiedFlowPath(sigma_min=0.2), "vp": VPPath()}


def _coefficients(path, t, x):
    return [right_broadcast(f(t), x) for f in (path.alpha, path.sigma, path.d_alpha, path.d_sigma)]


def marginal_variance(path, t):
    """v(t) = alpha^2 s^2 + sigma^2, the per-coordinate variance of x_t."""
    return path.alpha(t) ** 2 * S**2 + path.sigma(t) ** 2


def optimal_velocity(path):
    """v*(x, t) = alpha' E[x_0 | x] + sigma' E[x_1 | x], by Gaussian conditioning."""

    def velocity(x, t):
        alpha, sigma, d_alpha, d_sigma = _coefficients(path, t, x)
        residual = x - alpha * MU  # x_t - E x_t
        var = right_broadcast(marginal_variance(path, t), x)
        x0_mean = MU + alpha * S**2 / var * residual  # Cov(x_0, x_t) / Var(x_t)
        x1_mean = sigma / var * residual  # Cov(x_1, x_t) / Var(x_t)
        return d_alpha * x0_mean + d_sigma * x1_mean

    return velocity


def gaussian_score(path):
    """grad log p_t(x) = -(x - alpha mu) / v(t)."""
    return lambda x, t: (
        -(x - right_broadcast(path.alpha(t), x) * MU)
        / right_broadcast(marginal_variance(path, t), x)
    )


def exact_flow(path, x_init):
    """The state at t_min of the flow of v* from x_init at t_max: the affine map between the
    marginals, x(t) = alpha(t) mu + sqrt(v(t) / v(t_max)) (x_init - alpha(t_max) mu)."""
    t0, t1 = (jnp.full((1,), t) for t in (path.t_min, path.t_max))
    scale = jnp.sqrt(marginal_variance(path, t0) / marginal_variance(path, t1))
    return path.alpha(t0) * MU + scale * (x_init - path.alpha(t1) * MU)


def minimum_loss(path, num_points=200_001):
    """E_t of the conditional variance of the target per coordinate,
    Var(alpha' x_0 + sigma' x_1 | x_t) = s^2 (alpha' sigma - alpha sigma')^2 / v(t)
    (Lagrange's identity), by the trapezoidal rule over t ~ U[t_min, t_max]."""
    t = jnp.linspace(path.t_min, path.t_max, num_points)
    gap = path.d_alpha(t) * path.sigma(t) - path.alpha(t) * path.d_sigma(t)
    integrand = np.asarray(S**2 * gap**2 / marginal_variance(path, t), np.float64)
    return np.trapezoid(integrand, np.asarray(t, np.float64)) / (path.t_max - path.t_min)


def gaussian_data(key, n):
    return MU + S * jax.random.normal(key, (n, 2))


def test_minimum_loss_on_the_straight_path_is_the_hand_derived_integral():
    # On alpha = 1 - t, sigma = t the gap alpha' sigma - alpha sigma' is -1, so the minimum is
    # int_0^1 s^2 / ((1 + s^2) t^2 - 2 s^2 t + s^2) dt; completing the square,
    # = s (arctan(1 / s) + arctan(s)) = s pi / 2.
    np.testing.assert_allclose(minimum_loss(PATHS["rf"]), S * np.pi / 2, rtol=1e-5)


@pytest.mark.parametrize("path_name", ["rf", "ot", "vp"])
def test_loss_at_the_optimal_field_is_the_conditional_variance(path_name):
    path = PATHS[path_name]
    x0 = gaussian_data(jax.random.key(0), 200_000)
    key = jax.random.key(1)
    optimal = optimal_velocity(path)
    loss, metrics = jax.jit(lambda: flow_matching_loss(key, optimal, x0, path))()
    np.testing.assert_allclose(loss, minimum_loss(path), rtol=0.02)
    assert metrics["loss"] == loss
    # A constant offset c adds c^2 (per coordinate) to the loss in expectation.
    shifted = lambda x, t: optimal(x, t) + 0.3
    loss_shifted, _ = flow_matching_loss(key, shifted, x0, path)
    np.testing.assert_allclose(loss_shifted - loss, 0.09, atol=0.01)


@pytest.mark.parametrize(
    "path_name,solver,num_steps",
    [("rf", "rk4", 20), ("rf", "dopri5", 1), ("ot", "heun", 50), ("vp", "rk4", 100)],
)
def test_exact_field_maps_the_prior_to_the_data(path_name, solver, num_steps):
    path = PATHS[path_name]
    x_init = path.prior_sample(jax.random.key(0), (64, 2))
    x = flow_sample(
        None,
        optimal_velocity(path),
        path,
        (64, 2),
        solver=solver,
        num_steps=num_steps,
        x_init=x_init,
        rtol=1e-6,
        atol=1e-6,
    )
    np.testing.assert_allclose(x, exact_flow(path, x_init), atol=2e-4)


def test_euler_samples_of_the_exact_field_have_the_data_moments():
    path = PATHS["rf"]
    x = jax.jit(
        lambda key: flow_sample(key, optimal_velocity(path), path, (20_000, 2), num_steps=100)
    )(jax.random.key(3))
    np.testing.assert_allclose(jnp.mean(x, axis=0), MU, atol=0.02)
    np.testing.assert_allclose(jnp.std(x, axis=0), S, rtol=0.03)


@pytest.mark.parametrize("path_name", ["rf", "ot", "vp"])
def test_optimal_velocity_is_the_probability_flow_drift(path_name):
    # Two independent computations: E[u | x_t] by conditioning, and f x - g^2 / 2 grad log p_t.
    path = PATHS[path_name]
    x = jax.random.normal(jax.random.key(0), (256, 2)) * 2.0
    t = jax.random.uniform(jax.random.key(1), (256,), minval=0.01, maxval=0.95)
    np.testing.assert_allclose(
        optimal_velocity(path)(x, t),
        probability_flow_drift(path, gaussian_score(path), x, t),
        rtol=1e-4,
        atol=1e-4,
    )


@pytest.mark.parametrize("solver", ["euler", "heun", "rk4", "tsit5"])
def test_solve_ode_agrees_with_solve_probability_flow(solver):
    path = PATHS["vp"]
    x1 = path.prior_sample(jax.random.key(0), (32, 2))
    kwargs = dict(solver=solver, num_steps=30, rtol=1e-6, atol=1e-6)
    through_score = solve_probability_flow(
        x1, gaussian_score(path), path, 1.0, path.t_min, **kwargs
    )
    # The conditioning keyword reaches the velocity; scale=1 is the optimal field.
    scaled = lambda x, t, scale: scale * optimal_velocity(path)(x, t)
    direct = solve_ode(x1, scaled, 1.0, path.t_min, scale=1.0, **kwargs)
    np.testing.assert_allclose(direct, through_score, rtol=1e-4, atol=1e-4)


def test_reflow_pairs_of_the_exact_flow_are_straight():
    path = PATHS["rf"]
    shape = (512, 2)
    x0, x1 = reflow_pairs(
        jax.random.key(0), optimal_velocity(path), path, shape, solver="rk4", num_steps=50
    )
    # The exact flow couples the Gaussians by their monotone (optimal transport) map.
    np.testing.assert_allclose(x0, MU + S * x1, atol=1e-4)

    # 1-rectified flow: x_t = (1 - t) mu + r(t) x_1 with r = sqrt(v), so v - d = (r' - (1 - s)) x_1
    # and S = |x_1|^2 (int_0^1 r'^2 dt - (1 - s)^2) > 0: its paths curve.
    t = np.linspace(0.0, 1.0, 200_001)
    r_dot = (t - (1 - t) * S**2) / np.sqrt((1 - t) ** 2 * S**2 + t**2)
    per_unit = np.trapezoid(r_dot**2, t) - (1 - S) ** 2
    s_before = straightness(optimal_velocity(path), path, x1, solver="rk4", num_steps=200)
    np.testing.assert_allclose(s_before, jnp.sum(x1**2, axis=1) * per_unit, rtol=1e-3, atol=1e-5)
    assert per_unit > 0.05

    # Reflow: for these pairs x_1 is a function of x_t, so the coupled loss is minimised to 0 by
    # the straight field x_1 - x_0 = (1 - s) x_1 - mu with x_1 = (x_t - (1 - t) mu) / ((1 - t) s + t).
    def straight(x, t):
        t = t[:, None]
        return (1 - S) * (x - (1 - t) * MU) / ((1 - t) * S + t) - MU

    loss, _ = coupled_flow_matching_loss(jax.random.key(1), straight, x0, x1, path)
    assert loss < 1e-8
    independent, _ = coupled_flow_matching_loss(
        jax.random.key(1), straight, x0, jax.random.permutation(jax.random.key(2), x1), path
    )
    assert independent > 0.1  # the same field does not fit a crossing coupling
    s_after = straightness(straight, path, x1, solver="euler", num_steps=4)
    np.testing.assert_allclose(s_after, 0.0, atol=1e-4)
    # Hence a single Euler step of the reflowed field is exact.
    one_step = flow_sample(None, straight, path, shape, num_steps=1, x_init=x1)
    np.testing.assert_allclose(one_step, x0, atol=1e-4)


def test_straightness_of_euler_is_the_mean_squared_gap_to_the_chord():
    # For a fixed-step Euler trajectory S is (1/N) sum_i ||d - v_i||^2 exactly; check it on a
    # field with a known trajectory, dx/dt = t (velocity independent of x).
    path = PATHS["rf"]
    x1 = jnp.zeros((3, 1))
    s = straightness(
        lambda x, t: jnp.broadcast_to(t[:, None], x.shape), path, x1, solver="euler", num_steps=4
    )
    v = np.array([1.0, 0.75, 0.5, 0.25])  # the Euler nodes t_i
    np.testing.assert_allclose(s, np.mean((v.mean() - v) ** 2), rtol=1e-5)


def test_a_small_mlp_trained_with_flow_matching_recovers_the_gaussian():
    path = PATHS["rf"]
    net = MLPDenoiser(hidden=32, depth=1, time_scale=1.0, emb_dim=16)
    params = net.init(jax.random.key(0), jnp.zeros((1, 2)), jnp.zeros((1,)))
    tx = optax.adam(3e-3)

    @jax.jit
    def train(params, key):
        def step(carry, key):
            params, opt = carry
            key_data, key_loss = jax.random.split(key)
            loss_fn = lambda p: flow_matching_loss(
                key_loss, lambda x, t: net.apply(p, x, t), gaussian_data(key_data, 256), path
            )[0]
            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt = tx.update(grads, opt)
            return (optax.apply_updates(params, updates), opt), loss

        (params, _), losses = jax.lax.scan(
            step, (params, tx.init(params)), jax.random.split(key, 300)
        )
        return params, losses

    params, losses = train(params, jax.random.key(1))
    x = flow_sample(
        jax.random.key(2),
        lambda x, t: net.apply(params, x, t),
        path,
        (4000, 2),
        solver="rk4",
        num_steps=10,
    )
    np.testing.assert_allclose(jnp.mean(x, axis=0), MU, atol=0.1)
    np.testing.assert_allclose(jnp.std(x, axis=0), S, rtol=0.15)
    # Training brought the loss near its minimum s pi / 2 = 0.79, from E||x1 - x0||^2 / 2 = 1.875.
    assert float(jnp.mean(losses[-100:])) < 0.9


def test_bad_arguments_are_rejected():
    path, key = PATHS["rf"], jax.random.key(0)
    zero = lambda x, t: jnp.zeros_like(x)
    with pytest.raises(ValueError, match="Unknown ODE solver 'rk45'.*dopri5"):
        flow_sample(key, zero, path, (2, 2), solver="rk45")
    with pytest.raises(ValueError, match="num_steps must be a positive integer"):
        flow_sample(key, zero, path, (2, 2), num_steps=0)
    with pytest.raises(ValueError, match="num_steps must be a positive integer"):
        reflow_pairs(key, zero, path, (2, 2), solver="euler", num_steps=-1)
    with pytest.raises(ValueError, match="Unknown ODE solver"):
        straightness(zero, path, jnp.zeros((2, 2)), solver="ralston", num_steps=2)
    with pytest.raises(ValueError, match="x_init must have shape \\(2, 2\\)"):
        flow_sample(key, zero, path, (2, 2), x_init=jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match="x0 and x1 must have the same shape"):
        coupled_flow_matching_loss(key, zero, jnp.zeros((4, 2)), jnp.zeros((4, 3)), path)
