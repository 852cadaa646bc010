"""Step grids of the log-SNR samplers, from t_max down to t_min."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.paths.base import GaussianPath
from gendiff.samplers._common import check_count, check_finite_log_snr, times_from_log_snr
from gendiff.samplers.karras import check_rho, karras_levels

SPACINGS = ("logsnr", "time", "karras")


def check_spacing(spacing: str) -> None:
    if spacing not in SPACINGS:
        raise ValueError(f"Unknown spacing {spacing!r}; expected one of {SPACINGS}.")


def _check_grid(path: GaussianPath, num_steps: int, spacing: str, rho: float) -> None:
    check_count("num_steps", num_steps)
    check_spacing(spacing)
    check_rho(rho)
    check_finite_log_snr(path)


def log_snr_steps(
    path: GaussianPath, num_steps: int, spacing: str = "logsnr", rho: float = 7.0
) -> jax.Array:
    """The log-SNRs lambda of num_steps + 1 step ends from t_max to t_min (increasing).

    'logsnr': uniform in lambda (DPM-Solver's default); 'time': lambda of times uniform in t;
    'karras': uniform in (sigma / alpha)^(1/rho) = exp(-lambda / 2)^(1/rho) (EDM, eq. 5).

    Example:
      >>> log_snr_steps(VPPath(), 10)  # 11 values from lambda(1) to lambda(1e-3)
    """
    _check_grid(path, num_steps, spacing, rho)
    if spacing == "karras":
        return -2.0 * jnp.log(karras_levels(path, num_steps + 1, rho))
    if spacing == "time":
        return path.log_snr(jnp.linspace(path.t_max, path.t_min, num_steps + 1, dtype=jnp.float32))
    lam_start, lam_end = path.log_snr(jnp.array([path.t_max, path.t_min], jnp.float32))
    return jnp.linspace(lam_start, lam_end, num_steps + 1)


def time_steps(
    path: GaussianPath, num_steps: int, spacing: str = "logsnr", rho: float = 7.0
) -> jax.Array:
    """num_steps + 1 decreasing times from t_max to t_min, spaced as in :func:`log_snr_steps`.

    Example:
      >>> time_steps(VPPath(), 4, "time")
      Array([1.     , 0.75025, 0.5005 , 0.25075, 0.001  ], dtype=float32)
    """
    if spacing == "time":
        _check_grid(path, num_steps, spacing, rho)
        return jnp.linspace(path.t_max, path.t_min, num_steps + 1, dtype=jnp.float32)
    return times_from_log_snr(path, log_snr_steps(path, num_steps, spacing, rho))
