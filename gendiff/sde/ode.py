"""The one ODE integrator of the library, and sampling and encoding with the probability-flow ODE
dx/dt = f(t) x - 1/2 g(t)^2 s(x, t).

:func:`solve_ode` integrates any dx/dt = v(x, t) (x an array or a pytree of arrays). The
probability-flow samplers, flow matching's samplers and the likelihood's augmented ODE all call it.

- Fixed-step solvers are explicit Runge-Kutta tableaux (:data:`TABLEAUX`: 'euler', 'heun',
  'midpoint', 'rk4') over one stepper, :func:`rk_step`, scanned over a time grid in one
  ``lax.scan``; a tableau with s stages costs s evaluations per step.
- Adaptive solvers (:data:`ADAPTIVE_SOLVERS`: 'tsit5', 'dopri5', 'dopri8') are diffrax's embedded
  Runge-Kutta pairs with a PID step-size controller, from the one ``diffrax.diffeqsolve`` call in
  this module.

The ODE can be solved in either direction: from t_max to t_min it maps prior noise to data
(sampling); from t_min to t_max it maps data to their latents (encoding), and the two are inverse
maps up to the solver's error (Song et al. 2021, §4.3).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.paths.base import GaussianPath
from gendiff.paths.grid import time_grid
from gendiff.sampling import check_count, initial_state, model_x0_eps
from gendiff.sde.drifts import probability_flow_drift, score_fn_from_model

ScoreFn = Callable[..., jax.Array]
VelocityFn = Callable[..., jax.Array]


@dataclasses.dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge-Kutta method: stages k_i = v(x + h sum_j a_ij k_j, t + c_i h),
    x' = x + h sum_i b_i k_i.

    Attributes:
      a: the strictly lower-triangular rows a_i (row i has i entries).
      b: the weights of the stages.
      c: the nodes.
      order: the global order of accuracy.
    """

    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    order: int

    @property
    def stages(self) -> int:
        return len(self.b)


EULER = ButcherTableau(a=((),), b=(1.0,), c=(0.0,), order=1)
# Heun's second-order method: the trapezoidal rule with an Euler predictor.
HEUN = ButcherTableau(a=((), (1.0,)), b=(0.5, 0.5), c=(0.0, 1.0), order=2)
MIDPOINT = ButcherTableau(a=((), (0.5,)), b=(0.0, 1.0), c=(0.0, 0.5), order=2)
# The classical fourth-order Runge-Kutta method.
RK4 = ButcherTableau(
    a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
    b=(1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0),
    c=(0.0, 0.5, 0.5, 1.0),
    order=4,
)
TABLEAUX = {"euler": EULER, "heun": HEUN, "midpoint": MIDPOINT, "rk4": RK4}
# diffrax solver (by name: diffrax is imported on first use, it takes 0.4 s) and the new
# vector-field evaluations it makes per step (all three are FSAL).
ADAPTIVE_SOLVERS = {
    "tsit5": ("Tsit5", 6),
    "dopri5": ("Dopri5", 6),
    "dopri8": ("Dopri8", 13),
}
FIXED_STEP_SOLVERS = tuple(TABLEAUX)
SOLVERS = FIXED_STEP_SOLVERS + tuple(ADAPTIVE_SOLVERS)


def check_solver(solver: str, allowed=SOLVERS) -> None:
    if solver not in allowed:
        raise ValueError(f"Unknown ODE solver {solver!r}; expected one of {tuple(allowed)}.")


def _axpy(x, h, terms):
    """x + h sum_j w_j k_j over pytrees; terms is a list of (w_j, k_j) with w_j != 0."""
    if not terms:
        return x

    def combine(x_leaf, *k_leaves):
        total = sum(w * k for (w, _), k in zip(terms, k_leaves))
        return x_leaf + (h * total).astype(x_leaf.dtype)

    return jax.tree.map(combine, x, *[k for _, k in terms])


def rk_step(tableau: ButcherTableau, velocity, x, t, h):
    """One explicit Runge-Kutta step of size h (negative going back in time) from (x, t).

    ``velocity(x, t)`` takes a scalar t; x may be any pytree of arrays.

    Example:
      >>> rk_step(RK4, lambda x, t: -x, jnp.ones(1), 0.0, 0.1)  # exp(-0.1) to O(h^5)
      Array([0.904837], dtype=float32)
    """
    ks = []
    for a_row, c in zip(tableau.a, tableau.c):
        x_stage = _axpy(x, h, [(a, k) for a, k in zip(a_row, ks) if a != 0.0])
        ks.append(velocity(x_stage, t + c * h))
    return _axpy(x, h, [(b, k) for b, k in zip(tableau.b, ks) if b != 0.0])


def _batch_size(x) -> int:
    return jax.tree.leaves(x)[0].shape[0]


def _dtype(x):
    return jax.tree.leaves(x)[0].dtype


def solve_ode(
    x,
    velocity_fn: VelocityFn,
    t0,
    t1,
    *,
    solver: str = "rk4",
    num_steps: int = 100,
    times: jax.Array | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    max_steps: int = 4096,
    return_stats: bool = False,
    **cond,
):
    """Integrates dx/dt = velocity_fn(x, t) from x at time t0 to time t1 (t1 < t0 or t1 > t0).

    Args:
      x: the state at t0, (batch, ...) or a pytree of such arrays.
      velocity_fn: ``velocity_fn(x, t, **cond)`` -> dx/dt (x's structure), with t of shape
        (batch,) in x's dtype.
      t0, t1: the initial and final times (scalars).
      solver: one of :data:`SOLVERS`.
      num_steps: the number of equal steps of a fixed-step solver (>= 1); ignored by adaptive ones.
      times: instead of num_steps, the fixed-step grid (K + 1,) from t0 to t1.
      rtol, atol: the adaptive solvers' relative and absolute tolerances.
      max_steps: the adaptive solvers' step budget (diffrax raises when it is exceeded).
      return_stats: also return {'nfe': evaluations of velocity_fn, 'num_steps': steps}.
      **cond: conditioning passed to ``velocity_fn``.

    Returns:
      The state at t1 (and the stats dict with ``return_stats``).

    Example:
      >>> x1 = solve_ode(jnp.ones((2, 1)), lambda x, t: -x, 0.0, 1.0, solver="rk4", num_steps=10)
      >>> round(float(x1[0, 0]), 5)  # exp(-1)
      0.36788
    """
    check_solver(solver)
    batch, dtype = _batch_size(x), _dtype(x)

    def velocity(y, t):
        return velocity_fn(y, jnp.full((batch,), t, dtype), **cond)

    if solver in ADAPTIVE_SOLVERS:
        if not (rtol > 0 and atol > 0):
            raise ValueError(f"rtol and atol must be positive, got rtol={rtol}, atol={atol}.")
        import diffrax  # pylint: disable=g-import-not-at-top; slow to import

        solver_name, evals_per_step = ADAPTIVE_SOLVERS[solver]
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(lambda t, y, args: velocity(y, t)),
            getattr(diffrax, solver_name)(),
            t0=t0,
            t1=t1,
            dt0=None,  # initial step from diffrax's heuristic
            y0=x,
            saveat=diffrax.SaveAt(t1=True),
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
            max_steps=max_steps,
        )
        x = jax.tree.map(lambda y: y[0], solution.ys)
        # One evaluation at t0, then every step (accepted or rejected) makes the same number.
        steps = solution.stats["num_steps"]
        stats = {"nfe": 1 + evals_per_step * steps, "num_steps": steps}
    else:
        if times is None:
            check_count("num_steps", num_steps)
            times = jnp.linspace(t0, t1, num_steps + 1, dtype=dtype)
        times = jnp.asarray(times, dtype)
        tableau = TABLEAUX[solver]

        def step(y, ends):
            return rk_step(tableau, velocity, y, ends[0], ends[1] - ends[0]), None

        x, _ = jax.lax.scan(step, x, jnp.stack([times[:-1], times[1:]], axis=1))
        steps = times.shape[0] - 1
        stats = {"nfe": tableau.stages * steps, "num_steps": steps}
    return (x, stats) if return_stats else x


def solve_probability_flow(
    x: jax.Array,
    score_fn: ScoreFn,
    path: GaussianPath,
    t0,
    t1,
    *,
    prediction: str = "score",
    solver: str = "rk4",
    num_steps: int = 100,
    times: jax.Array | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    max_steps: int = 4096,
    return_stats: bool = False,
    **cond,
):
    """Integrates the probability-flow ODE from x at time t0 to time t1 (t1 < t0 or t1 > t0).

    It is :func:`solve_ode` with the velocity f(t) x - 1/2 g(t)^2 s(x, t)
    (:func:`gendiff.sde.drifts.probability_flow_drift`).

    Args:
      x: the state at t0, (batch, ...).
      score_fn: ``score_fn(x, t, **cond)`` ~ grad log p_t(x), t of shape (batch,); or a model of
        another parameterisation named by ``prediction``.
      path: the Gaussian path.
      t0, t1: the initial and final times (scalars).
      prediction: what ``score_fn`` outputs ('score' by default; 'eps', 'x0', 'v', 'velocity').
      solver, num_steps, times, rtol, atol, max_steps, return_stats: as in :func:`solve_ode`.
      **cond: conditioning passed to ``score_fn``.

    Returns:
      The state at t1, same shape as x (and the stats with ``return_stats``).

    Example:
      >>> from gendiff.paths import VPPath
      >>> path, x0 = VPPath(), jnp.ones((4, 2))
      >>> score_fn = lambda x, t: -x  # data ~ N(0, I)
      >>> z = solve_probability_flow(x0, score_fn, path, path.t_min, path.t_max)  # encode
      >>> x0_again = solve_probability_flow(z, score_fn, path, path.t_max, path.t_min)  # decode
      >>> float(jnp.abs(x0_again - x0).max()) < 1e-3
      True
    """
    score = score_fn_from_model(path, score_fn, prediction)

    def velocity_fn(y, t, **cond):
        if prediction == "velocity":
            # A velocity model predicts dx/dt itself: the same drift as f x - g^2 s / 2, without
            # f = d log alpha / dt, which is infinite where alpha = 0 (rectified flow at t = 1).
            return jnp.asarray(score_fn(y, t, **cond)).astype(y.dtype)
        return probability_flow_drift(path, score, y, t, **cond)

    return solve_ode(
        x,
        velocity_fn,
        t0,
        t1,
        solver=solver,
        num_steps=num_steps,
        times=times,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        return_stats=return_stats,
        **cond,
    )


def ode_sample(
    key: jax.Array | None,
    score_fn: ScoreFn,
    path: GaussianPath,
    shape: tuple[int, ...],
    *,
    prediction: str = "score",
    solver: str = "rk4",
    num_steps: int = 100,
    spacing: str = "time",
    rtol: float = 1e-5,
    atol: float = 1e-5,
    max_steps: int = 4096,
    x_init: jax.Array | None = None,
    dtype=None,
    clip_x0: bool = False,
    denoise_final: bool = False,
    return_stats: bool = False,
    **cond,
):
    """Solves the probability-flow ODE from x_init (or a prior draw) at t_max down to t_min.

    Args:
      key: PRNG key of the prior sample (the only randomness); may be None with x_init.
      score_fn: the model, ``score_fn(x, t, **cond)``, t of shape (batch,).
      path: the Gaussian path.
      shape: (batch, ...) of the samples.
      prediction: what ``score_fn`` outputs ('score' by default, or 'eps', 'x0', 'v', 'velocity').
      solver: one of :data:`SOLVERS`.
      num_steps: fixed-step solvers' steps K, on the grid ``time_grid(path, K, spacing)``.
      spacing: the fixed-step grid's spacing (:data:`gendiff.paths.grid.SPACINGS`).
      rtol, atol, max_steps: the adaptive solvers' tolerances and step budget.
      x_init: the state at t_max instead of a prior draw (its dtype is the state's).
      dtype: the state dtype when x_init is None (default float32).
      clip_x0: clip the final x_0 prediction to [-1, 1] (only with denoise_final).
      denoise_final: return the model's x_0 prediction at t_min (one more evaluation).
      return_stats: also return {'nfe': evaluations used, 'num_steps': solver steps}.
      **cond: conditioning passed to the model.

    Returns:
      Samples of the given shape (and the stats with ``return_stats``).

    Example:
      >>> from gendiff.paths import VPPath
      >>> score_fn = lambda x, t: -x  # data ~ N(0, I)
      >>> ode_sample(key, score_fn, VPPath(), (64, 2), solver="rk4", num_steps=100).shape
      (64, 2)
    """
    check_solver(solver)
    x = initial_state(key, path, shape, x_init, dtype)
    times = None
    if solver in TABLEAUX:
        times = time_grid(path, num_steps, spacing, dtype=x.dtype)
    x, stats = solve_probability_flow(
        x,
        score_fn,
        path,
        path.t_max,
        path.t_min,
        prediction=prediction,
        solver=solver,
        times=times,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        return_stats=True,
        **cond,
    )
    if denoise_final:
        x = model_x0_eps(score_fn, path, x, path.t_min, prediction, clip_x0, **cond)[0]
        stats = {**stats, "nfe": stats["nfe"] + 1}
    return (x, stats) if return_stats else x
