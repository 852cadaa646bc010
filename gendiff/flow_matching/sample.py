"""Sampling a flow: integrate dx/dt = v(x, t) from prior noise at t_max down to t_min."""

from __future__ import annotations

from typing import Callable

import jax

from gendiff.paths.base import GaussianPath
from gendiff.sampling import initial_state
from gendiff.sde.ode import solve_ode

ModelFn = Callable[..., jax.Array]


def flow_sample(
    key: jax.Array | None,
    model_fn: ModelFn,
    path: GaussianPath,
    shape: tuple[int, ...],
    *,
    solver: str = "euler",
    num_steps: int = 100,
    x_init: jax.Array | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    max_steps: int = 4096,
    dtype=None,
    **cond,
) -> jax.Array:
    """Draws x_1 ~ path.prior_sample and solves dx/dt = v(x, t) from t_max to t_min.

    Rectified flow's sampler (Liu et al. 2023): with ``solver='euler'`` and N steps,
    x <- x - (1/N) v(x, t) on t = 1, 1 - 1/N, ..., 1/N. The number of network evaluations (NFE)
    is num_steps for 'euler', 2 num_steps for 'heun' and 4 num_steps for 'rk4'.

    Args:
      key: PRNG key of the prior sample (the only randomness); may be None when x_init is given.
      model_fn: ``model_fn(x, t, **cond)`` predicting the velocity, t of shape (batch,).
      path: the Gaussian path the model was trained on.
      shape: (batch, ...) of the samples.
      solver: one of gendiff.sde.ode.SOLVERS ('euler', 'heun', 'rk4', 'tsit5', 'dopri5').
      num_steps: steps of a fixed-step solver (>= 1); ignored by the adaptive ones.
      x_init: the state at t_max to start from instead of a prior sample, of the given shape
        (its dtype is the state's).
      rtol, atol, max_steps: the adaptive solvers' tolerances and step budget.
      dtype: the state dtype when x_init is None (default float32).
      **cond: conditioning passed to ``model_fn``.

    Returns:
      Samples of the given shape.

    Example:
      >>> from gendiff.paths import RectifiedFlowPath
      >>> velocity = lambda x, t: -x  # a toy velocity field
      >>> flow_sample(key, velocity, RectifiedFlowPath(), (64, 2), solver="euler", num_steps=4).shape
      (64, 2)
    """
    x = initial_state(key, path, shape, x_init, dtype)
    return solve_ode(
        x,
        model_fn,
        path.t_max,
        path.t_min,
        solver=solver,
        num_steps=num_steps,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        **cond,
    )
