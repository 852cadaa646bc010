"""Noise levels of multi-scale score models (NCSN, annealed Langevin dynamics)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


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
