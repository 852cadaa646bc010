"""Karras et al. (2022)'s noise levels: uniform in sigma^(1/rho) (EDM, eq. 5)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.paths.base import GaussianPath
from gendiff.samplers._common import (
    check_count,
    check_finite_log_snr,
    scaled_sigma,
    times_from_log_snr,
)


def check_rho(rho: float) -> None:
    if not rho > 0:
        raise ValueError(f"rho must be > 0 (EDM uses 7), got {rho}.")


def rho_spaced(sigma_min, sigma_max, num_levels: int, rho: float) -> jax.Array:
    """num_levels values from sigma_max down to sigma_min, equally spaced in sigma^(1/rho).

    sigma_i = (sigma_max^(1/rho) + i / (n - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,
    i = 0..n-1 (eq. 5), with the ends set exactly; a single level is sigma_max.
    """
    ramp = jnp.linspace(0.0, 1.0, num_levels, dtype=jnp.float32)
    top, bottom = sigma_max ** (1.0 / rho), sigma_min ** (1.0 / rho)
    levels = ((top + ramp * (bottom - top)) ** rho).at[0].set(sigma_max)
    return levels.at[-1].set(sigma_min) if num_levels > 1 else levels


def karras_sigmas(
    num_steps: int,
    sigma_min: float,
    sigma_max: float,
    rho: float = 7.0,
    *,
    append_zero: bool = True,
) -> jax.Array:
    """The noise levels of num_steps sampling steps (Karras et al. 2022, eq. 5), decreasing.

    With ``append_zero`` (EDM's convention) the first num_steps levels run from sigma_max to
    sigma_min and the last is sigma_N = 0, so the final step jumps to the data. Without it all
    num_steps + 1 levels are spaced by eq. 5 from sigma_max to sigma_min. rho = 1 spaces the
    levels linearly; larger rho concentrates them at low noise.

    Args:
      num_steps: the number of steps N >= 1.
      sigma_min, sigma_max: the smallest nonzero and the largest level, 0 < sigma_min < sigma_max.
      rho: the spacing exponent, > 0.
      append_zero: end with 0 (True) or with sigma_min (False).

    Returns:
      (num_steps + 1,) float32 levels, sigma_0 = sigma_max.

    Example:
      >>> karras_sigmas(3, 0.002, 80.0)  # [80, 2.515, 0.002, 0]
    """
    check_count("num_steps", num_steps)
    check_rho(rho)
    if not 0.0 < sigma_min < sigma_max:
        raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}.")
    if not append_zero:
        return rho_spaced(sigma_min, sigma_max, num_steps + 1, rho)
    return jnp.append(rho_spaced(sigma_min, sigma_max, num_steps, rho), 0.0)


def karras_levels(path: GaussianPath, num_levels: int, rho: float) -> jax.Array:
    """num_levels Karras levels of sigma~ = sigma / alpha, from sigma~(t_max) to sigma~(t_min)."""
    sigma_hi, sigma_lo = scaled_sigma(path, jnp.array([path.t_max, path.t_min], jnp.float32))
    return rho_spaced(sigma_lo, sigma_hi, num_levels, rho)


def karras_times(path: GaussianPath, num_steps: int, rho: float = 7.0) -> jax.Array:
    """Times of num_steps steps whose scaled sigmas sigma/alpha follow eq. 5, on any path.

    sigma~_i = karras_sigmas(num_steps, sigma~(t_min), sigma~(t_max), rho, append_zero=False)
    mapped to times with ``path.t_from_log_snr(-2 log sigma~_i)``; the ends are exactly t_max
    and t_min.

    Args:
      path: the Gaussian path (finite log-SNR at t_min and t_max).
      num_steps: the number of steps N >= 1.
      rho: the spacing exponent, > 0.

    Returns:
      (num_steps + 1,) float32 times, decreasing from t_max to t_min.

    Example:
      >>> karras_times(VPPath(), 18)  # 19 times from 1.0 to 1e-3
    """
    check_count("num_steps", num_steps)
    check_rho(rho)
    check_finite_log_snr(path)
    return times_from_log_snr(path, -2.0 * jnp.log(karras_levels(path, num_steps + 1, rho)))
