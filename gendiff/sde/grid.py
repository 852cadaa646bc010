"""Time grids shared by the SDE and ODE samplers."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def check_num_steps(num_steps: int) -> None:
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps}.")


def time_grid(t_start, t_end, num_steps: int) -> jax.Array:
    """num_steps + 1 equally spaced times from t_start to t_end (either direction), float32.

    Example:
      >>> time_grid(1.0, 0.0, 4)
      Array([1.  , 0.75, 0.5 , 0.25, 0.  ], dtype=float32)
    """
    check_num_steps(num_steps)
    return jnp.linspace(t_start, t_end, num_steps + 1, dtype=jnp.float32)
