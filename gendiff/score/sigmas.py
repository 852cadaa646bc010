"""Noise levels of multi-scale score models (NCSN, annealed Langevin dynamics)."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.utils import right_broadcast


def concrete_or_none(value) -> np.ndarray | None:
    """``value`` as a NumPy array, or None when it is traced (its value unknown until run time)."""
    try:
        return np.asarray(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def check_positive(name: str, value) -> None:
    """Raises ValueError if a concrete ``value`` has an entry <= 0 or NaN (traced values pass)."""
    array = concrete_or_none(value)
    if array is not None and not np.all(array > 0):
        raise ValueError(f"{name} must be positive, got {value}.")


def check_noise_levels(sigmas) -> None:
    """Checks sigma_1 > sigma_2 > ... > sigma_L > 0 for a concrete 1-D array (traced ones pass)."""
    array = concrete_or_none(sigmas)
    if array is None:
        return
    if array.ndim != 1 or array.shape[0] < 1:
        raise ValueError(f"sigmas must be a non-empty 1-D array, got shape {array.shape}.")
    check_positive("sigmas", array)
    if not np.all(np.diff(array) < 0):
        raise ValueError(
            f"sigmas must be strictly decreasing (sigma_1 > ... > sigma_L), got {array}."
        )


def geometric_sigmas(sigma_max: float, sigma_min: float, num_levels: int) -> jax.Array:
    """sigma_i = sigma_max (sigma_min / sigma_max)^((i - 1) / (L - 1)), i = 1..L (Song & Ermon 2019).

    A geometric sequence: consecutive levels have the same ratio sigma_{i+1} / sigma_i.

    Args:
      sigma_max: the largest level sigma_1.
      sigma_min: the smallest level sigma_L, 0 < sigma_min < sigma_max.
      num_levels: L >= 2.

    Returns:
      (L,) float32 array, strictly decreasing from sigma_max to sigma_min.

    Example:
      >>> geometric_sigmas(10.0, 0.1, 3)
      Array([10. ,  1. ,  0.1], dtype=float32)
    """
    if not 0 < sigma_min < sigma_max:
        raise ValueError(
            f"Expected 0 < sigma_min < sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}."
        )
    if num_levels < 2:
        raise ValueError(f"num_levels must be >= 2, got {num_levels}.")
    return jnp.asarray(np.geomspace(sigma_max, sigma_min, num_levels), jnp.float32)


def noise_conditional_score(
    model_fn: Callable[[jax.Array, jax.Array], jax.Array], sigma_max: float, sigma_min: float
) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The noise-conditional score s(x, sigma) = f(x, t(sigma)) / sigma of a time-conditioned net.

    t(sigma) = log(sigma / sigma_min) / log(sigma_max / sigma_min) maps the levels
    [sigma_min, sigma_max] onto [0, 1], so any denoiser f(x, t) of the library can be the
    network; dividing by sigma lets f predict -eps, of order one at every level (Song & Ermon
    2020, technique 3).

    Args:
      model_fn: ``model_fn(x, t)`` with t of shape (batch,), returning an array shaped like x.
      sigma_max: the largest level sigma_1 (t = 1).
      sigma_min: the smallest level sigma_L (t = 0), 0 < sigma_min < sigma_max.

    Returns:
      ``score_fn(x, sigma)`` with sigma of shape (batch,), the form :func:`ncsn_loss` and
      :func:`gendiff.score.annealed_langevin_dynamics` take.

    Example:
      >>> score_fn = noise_conditional_score(lambda x, t: -jnp.ones_like(x), 10.0, 0.01)
      >>> score_fn(jnp.zeros((2, 3)), jnp.array([10.0, 0.01]))[:, 0]
      Array([  -0.1, -100. ], dtype=float32)
    """
    if not 0 < sigma_min < sigma_max:
        raise ValueError(
            f"Expected 0 < sigma_min < sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}."
        )
    log_ratio = float(np.log(sigma_max / sigma_min))

    def score_fn(x: jax.Array, sigma: jax.Array) -> jax.Array:
        t = jnp.log(sigma / sigma_min) / log_ratio
        return model_fn(x, t) / right_broadcast(sigma, x)

    return score_fn
