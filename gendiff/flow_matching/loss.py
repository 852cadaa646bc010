"""Conditional flow matching losses for independent and for given (data, noise) couplings.

For a pair (x_0, x_1) the path x_t = alpha(t) x_0 + sigma(t) x_1 moves with the conditional
velocity u_t = alpha'(t) x_0 + sigma'(t) x_1. Regressing v(x_t, t) on u_t,

  L(v) = E_{t, (x_0, x_1)} || v(x_t, t) - u_t ||^2,

has the minimiser v*(x, t) = E[u_t | x_t = x], the velocity field whose flow carries the marginal
p_t of x_t (Lipman et al. 2023, Theorems 1-2; Liu et al. 2023). Its minimum is the
conditional variance E_t E || u_t - v*(x_t, t) ||^2, which is zero exactly when the pairs' straight
lines never cross. With x_1 ~ N(0, I) independent of x_0 this is conditional flow matching;
on RectifiedFlowPath (alpha = 1 - t, sigma = t) it is rectified flow, and with sigma_min > 0
Lipman et al.'s optimal-transport path.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.parameterization import from_x0_eps
from gendiff.paths.base import GaussianPath
from gendiff.utils import mean_over_non_batch

ModelFn = Callable[..., jax.Array]


def coupled_flow_matching_loss(
    key: jax.Array,
    model_fn: ModelFn,
    x0: jax.Array,
    x1: jax.Array,
    path: GaussianPath,
    **cond,
) -> tuple[jax.Array, dict]:
    """Flow matching on given pairs: E || v(x_t, t) - (alpha' x_0 + sigma' x_1) ||^2.

    t ~ path.sample_t (uniform on [t_min, t_max]), x_t = alpha(t) x_0 + sigma(t) x_1; the squared
    error is averaged over dimensions and the batch. With (x_0, x_1) the pairs of a trained flow
    (:func:`gendiff.flow_matching.reflow_pairs`) it is one reflow step of Liu et al. (2023).

    Args:
      key: PRNG key of the times.
      model_fn: ``model_fn(x_t, t, **cond)`` predicting the velocity dx/dt, t of shape (batch,).
      x0: data ends of the pairs, (batch, ...).
      x1: noise ends, same shape as x0 (the eps of the path's marginal).
      path: the Gaussian path.
      **cond: conditioning passed through to ``model_fn``.

    Returns:
      (loss, metrics) with metrics['loss'] the same scalar.

    Example:
      >>> from gendiff.paths import RectifiedFlowPath
      >>> path = RectifiedFlowPath()
      >>> x0, x1 = jnp.zeros((4, 2)), jnp.ones((4, 2))
      >>> loss, _ = coupled_flow_matching_loss(key, lambda x, t: x1 - x0, x0, x1, path)
      >>> float(loss)  # the straight line's velocity x1 - x0 is matched exactly
      0.0
    """
    if x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must have the same shape; got {x0.shape} and {x1.shape}.")
    t = path.sample_t(key, x0.shape[0])
    x_t = path.marginal(x0, t, x1)  # alpha(t) x0 + sigma(t) x1
    target = from_x0_eps(path, x0, x1, t, "velocity")  # alpha'(t) x0 + sigma'(t) x1
    loss = jnp.mean(mean_over_non_batch((model_fn(x_t, t, **cond) - target) ** 2))
    return loss, {"loss": loss}


def flow_matching_loss(
    key: jax.Array, model_fn: ModelFn, x0: jax.Array, path: GaussianPath, **cond
) -> tuple[jax.Array, dict]:
    """Conditional flow matching with independent noise x_1 ~ N(0, I) (Lipman et al. 2023).

    Args:
      key: PRNG key of the times and the noise.
      model_fn: ``model_fn(x_t, t, **cond)`` predicting the velocity dx/dt, t of shape (batch,).
      x0: clean data, (batch, ...).
      path: the Gaussian path (RectifiedFlowPath for rectified flow, VPPath, ...).
      **cond: conditioning passed through to ``model_fn`` (e.g. ``y=labels``).

    Returns:
      (loss, metrics) with metrics['loss'] the same scalar.

    Example:
      >>> from gendiff.paths import RectifiedFlowPath
      >>> path, x0 = RectifiedFlowPath(), jnp.zeros((4096, 2))
      >>> loss, _ = flow_matching_loss(key, lambda x, t: jnp.zeros_like(x), x0, path)
      >>> round(float(loss), 1)  # E || x1 - x0 ||^2 / dim = 1 + E x0^2 = 1 for the zero field
      1.0
    """
    key_t, key_x1 = jax.random.split(key)
    x1 = jax.random.normal(key_x1, x0.shape, x0.dtype)
    return coupled_flow_matching_loss(key_t, model_fn, x0, x1, path, **cond)
