"""Reflow (Liu et al. 2023): the (data, noise) pairs of a flow, and how straight the flow is.

Retraining a flow on its own pairs with :func:`gendiff.flow_matching.coupled_flow_matching_loss`
keeps the marginals and does not increase any convex transport cost; the new flow is straighter,
so fewer Euler steps suffice. Straightness is Liu et al.'s (2023)

  S = 1/T int_{t_min}^{t_max} || d - v(x_t, t) ||^2 dt,   d = (x(t_max) - x(t_min)) / T,

T = t_max - t_min, for one trajectory x_t of dx/dt = v: the mean squared gap between the flow's
velocity and the constant velocity of the straight line between its ends. S = 0 exactly when the
trajectory is a straight line travelled at constant speed (one Euler step is then exact).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.flow_matching.sample import flow_sample
from gendiff.paths.base import GaussianPath
from gendiff.sde.ode import solve_ode
from gendiff.utils import right_broadcast

ModelFn = Callable[..., jax.Array]


def reflow_pairs(
    key: jax.Array,
    model_fn: ModelFn,
    path: GaussianPath,
    shape: tuple[int, ...],
    *,
    solver: str,
    num_steps: int,
    **cond,
) -> tuple[jax.Array, jax.Array]:
    """Couples noise with the data the flow maps it to: x_0 = Phi(sigma(t_max) x_1), x_1 ~ N(0, I).

    The ODE starts from the prior sample sigma(t_max) x_1 (just x_1 on RectifiedFlowPath and,
    to float precision, on VPPath), and x_1 is returned in the role of the path's eps, ready for
    :func:`gendiff.flow_matching.coupled_flow_matching_loss`.

    Args:
      key: PRNG key of the noise.
      model_fn: ``model_fn(x, t, **cond)`` predicting the velocity.
      path: the Gaussian path the model was trained on.
      shape: (batch, ...) of the pairs.
      solver, num_steps: the ODE solver and its steps (see :func:`flow_sample`).
      **cond: conditioning passed to ``model_fn``.

    Returns:
      (x0_generated, x1_noise), each of the given shape.

    Example:
      >>> from gendiff.flow_matching import coupled_flow_matching_loss
      >>> from gendiff.paths import RectifiedFlowPath
      >>> velocity = lambda x, t: -x  # a toy velocity field
      >>> x0, x1 = reflow_pairs(key, velocity, RectifiedFlowPath(), (1000, 2), solver="rk4",
      ...                       num_steps=25)
      >>> x0.shape, x1.shape  # (generated data, the noise it came from)
      ((1000, 2), (1000, 2))
      >>> loss, _ = coupled_flow_matching_loss(key, velocity, x0, x1, RectifiedFlowPath())
    """
    x1 = jax.random.normal(key, shape)
    sigma_max = path.sigma(jnp.full((shape[0],), path.t_max, jnp.float32))
    x_init = right_broadcast(sigma_max, x1) * x1  # = path.prior_sample(key, shape)
    x0 = flow_sample(
        None, model_fn, path, shape, solver=solver, num_steps=num_steps, x_init=x_init, **cond
    )
    return x0, x1


def straightness(
    model_fn: ModelFn,
    path: GaussianPath,
    x_init: jax.Array,
    *,
    solver: str,
    num_steps: int,
    **cond,
) -> jax.Array:
    """Liu et al.'s straightness S of the trajectories of dx/dt = v(x, t) started at x_init (t_max).

    Since int v dt = x(t_max) - x(t_min) = T d along the trajectory,
    S = 1/T int || v ||^2 dt - || d ||^2 (mean kinetic energy minus that of the straight line),
    so the ODE is solved once with the running integral of || v ||^2 appended to the state.
    Norms are summed over the dimensions of one example.

    Args:
      model_fn: ``model_fn(x, t, **cond)`` predicting the velocity.
      path: the Gaussian path (for t_min and t_max).
      x_init: states at t_max, (batch, ...), e.g. ``path.prior_sample(key, shape)``.
      solver, num_steps: the ODE solver and its steps (see :func:`flow_sample`).
      **cond: conditioning passed to ``model_fn``.

    Returns:
      S per example, shape (batch,); >= 0 up to the solver's error (exactly, for 'euler').

    Example:
      >>> from gendiff.paths import RectifiedFlowPath
      >>> x1 = jax.random.normal(key, (500, 2))
      >>> constant = lambda x, t: jnp.ones_like(x)  # every trajectory a straight line
      >>> s = straightness(constant, RectifiedFlowPath(), x1, solver="rk4", num_steps=50)
      >>> s.shape, float(s.max())  # one value per trajectory
      ((500,), 0.0)
    """
    batch = x_init.shape[0]
    flat = x_init.reshape(batch, -1)

    def augmented_velocity(z, t, **cond):
        v = model_fn(z[:, :-1].reshape(x_init.shape), t, **cond).reshape(batch, -1)
        return jnp.concatenate([v, jnp.sum(v**2, axis=1, keepdims=True)], axis=1)

    z_init = jnp.concatenate([flat, jnp.zeros((batch, 1), flat.dtype)], axis=1)
    z = solve_ode(
        z_init,
        augmented_velocity,
        path.t_max,
        path.t_min,
        solver=solver,
        num_steps=num_steps,
        **cond,
    )
    duration = path.t_max - path.t_min
    # The appended coordinate ran from t_max down to t_min: it holds -int_{t_min}^{t_max} ||v||^2.
    mean_kinetic = -z[:, -1] / duration
    d = (flat - z[:, :-1]) / duration  # (x(t_max) - x(t_min)) / T
    return mean_kinetic - jnp.sum(d**2, axis=1)
