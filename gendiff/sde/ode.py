"""ODE solvers, and sampling and encoding with the probability-flow ODE
dx/dt = f(t) x - 1/2 g(t)^2 s(x, t).

:func:`solve_ode` integrates any dx/dt = v(x, t); the probability-flow ODE is one such v.
Fixed-step solvers ('euler', 'heun', 'rk4') take num_steps equal steps in one ``lax.scan``;
adaptive ones ('tsit5', 'dopri5') are diffrax's embedded Runge-Kutta pairs with a PID step-size
controller. The ODE can be solved in either direction: from t_max to t_min it maps prior noise to
data (sampling); from t_min to t_max it maps data to their latents (encoding), and the two are
inverse maps up to the solver's error (Song et al. 2021, §4.3).
"""

from __future__ import annotations

from typing import Callable

import diffrax
import jax
import jax.numpy as jnp

from gendiff.paths.base import GaussianPath
from gendiff.sde.drifts import probability_flow_drift
from gendiff.sde.grid import check_num_steps, time_grid

ScoreFn = Callable[..., jax.Array]
VelocityFn = Callable[..., jax.Array]

FIXED_STEP_SOLVERS = ("euler", "heun", "rk4")
ADAPTIVE_SOLVERS = {"tsit5": diffrax.Tsit5, "dopri5": diffrax.Dopri5}
SOLVERS = FIXED_STEP_SOLVERS + tuple(ADAPTIVE_SOLVERS)


def _check_solver(solver: str) -> None:
    if solver not in SOLVERS:
        raise ValueError(f"Unknown ODE solver {solver!r}; expected one of {SOLVERS}.")


def _fixed_step(velocity, x: jax.Array, t: jax.Array, h: jax.Array, solver: str) -> jax.Array:
    """One step of size h (negative when going back in time) from (x, t)."""
    k1 = velocity(x, t)
    if solver == "euler":
        return x + h * k1
    if solver == "heun":
        # Trapezoidal predictor-corrector (Heun's second-order method).
        k2 = velocity(x + h * k1, t + h)
        return x + 0.5 * h * (k1 + k2)
    # Classical fourth-order Runge-Kutta.
    k2 = velocity(x + 0.5 * h * k1, t + 0.5 * h)
    k3 = velocity(x + 0.5 * h * k2, t + 0.5 * h)
    k4 = velocity(x + h * k3, t + h)
    return x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def solve_ode(
    x: jax.Array,
    velocity_fn: VelocityFn,
    t0,
    t1,
    *,
    solver: str = "rk4",
    num_steps: int = 100,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    max_steps: int = 4096,
    **cond,
) -> jax.Array:
    """Integrates dx/dt = velocity_fn(x, t) from x at time t0 to time t1 (t1 < t0 or t1 > t0).

    The one ODE integrator of the library: the probability-flow ODE
    (:func:`solve_probability_flow`) and flow matching's learned flows
    (``gendiff.flow_matching.flow_sample``) are both solved here.

    Args:
      x: the state at t0, (batch, ...).
      velocity_fn: ``velocity_fn(x, t, **cond)`` -> dx/dt, same shape as x, with t of shape (batch,).
      t0, t1: the initial and final times (scalars).
      solver: one of :data:`SOLVERS`.
      num_steps: the number of steps of a fixed-step solver (>= 1); ignored by adaptive ones.
      rtol, atol: the adaptive solvers' relative and absolute tolerances.
      max_steps: the adaptive solvers' step budget.
      **cond: conditioning passed to ``velocity_fn``.

    Returns:
      The state at t1, same shape as x.

    Example:
      >>> x1 = solve_ode(jnp.ones((2, 1)), lambda x, t: -x, 0.0, 1.0, solver="rk4", num_steps=10)
      >>> round(float(x1[0, 0]), 5)  # exp(-1)
      0.36788
    """
    _check_solver(solver)
    check_num_steps(num_steps)
    batch = x.shape[0]

    def velocity(y, t):
        return velocity_fn(y, jnp.full((batch,), t), **cond)

    if solver in ADAPTIVE_SOLVERS:
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(lambda t, y, args: velocity(y, t)),
            ADAPTIVE_SOLVERS[solver](),
            t0=t0,
            t1=t1,
            dt0=None,
            y0=x,
            saveat=diffrax.SaveAt(t1=True),
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
            max_steps=max_steps,
        )
        return solution.ys[0]

    ts = time_grid(t0, t1, num_steps)
    h = ts[1] - ts[0]

    def step(y, t):
        return _fixed_step(velocity, y, t, h, solver), None

    x, _ = jax.lax.scan(step, x, ts[:-1])
    return x


def solve_probability_flow(
    x: jax.Array,
    score_fn: ScoreFn,
    path: GaussianPath,
    t0,
    t1,
    *,
    solver: str = "rk4",
    num_steps: int = 100,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    max_steps: int = 4096,
    **cond,
) -> jax.Array:
    """Integrates the probability-flow ODE from x at time t0 to time t1 (t1 < t0 or t1 > t0).

    It is :func:`solve_ode` with the velocity f(t) x - 1/2 g(t)^2 s(x, t)
    (:func:`gendiff.sde.drifts.probability_flow_drift`).

    Args:
      x: the state at t0, (batch, ...).
      score_fn: ``score_fn(x, t, **cond)`` ~ grad log p_t(x), t of shape (batch,).
      path: the Gaussian path.
      t0, t1: the initial and final times (scalars).
      solver, num_steps, rtol, atol, max_steps: as in :func:`solve_ode`.
      **cond: conditioning passed to ``score_fn``.

    Returns:
      The state at t1, same shape as x.

    Example:
      >>> z = solve_probability_flow(x0, score_fn, path, path.t_min, path.t_max)  # encode
      >>> x0_again = solve_probability_flow(z, score_fn, path, path.t_max, path.t_min)  # decode
    """

    def velocity_fn(y, t, **cond):
        return probability_flow_drift(path, score_fn, y, t, **cond)

    return solve_ode(
        x,
        velocity_fn,
        t0,
        t1,
        solver=solver,
        num_steps=num_steps,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        **cond,
    )


def ode_sample(
    key: jax.Array,
    score_fn: ScoreFn,
    path: GaussianPath,
    shape: tuple[int, ...],
    *,
    solver: str = "rk4",
    num_steps: int = 100,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    max_steps: int = 4096,
    **cond,
) -> jax.Array:
    """Draws x ~ N(0, sigma(t_max)^2 I) and solves the probability-flow ODE down to t_min.

    Args:
      key: PRNG key of the prior sample (the only randomness).
      score_fn, path, solver, num_steps, rtol, atol, max_steps, **cond: as in
        :func:`solve_probability_flow`.
      shape: (batch, ...) of the samples.

    Returns:
      Samples of the given shape.

    Example:
      >>> x = ode_sample(key, score_fn, VPPath(), (64, 2), solver="rk4", num_steps=100)
    """
    _check_solver(solver)
    check_num_steps(num_steps)
    x = path.prior_sample(key, shape)
    return solve_probability_flow(
        x,
        score_fn,
        path,
        path.t_max,
        path.t_min,
        solver=solver,
        num_steps=num_steps,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        **cond,
    )
