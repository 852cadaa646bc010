"""Time grids: the one place where every sampler (and DDIM respacing) gets its steps.

A grid is ``num_steps + 1`` decreasing times from ``path.t_max`` down to ``t_end`` (default
``path.t_min``). One vocabulary of spacings, the same for every sampler:

  'time'       uniform in t;
  'logsnr'     uniform in the log-SNR lambda (DPM-Solver's default);
  'karras'     uniform in sigma~^(1/rho), sigma~ = sigma / alpha = exp(-lambda / 2) (EDM, eq. 5);
  'quadratic'  t_k - t_end proportional to (k / N)^2, dense near the data (DDIM's CIFAR-10 grid);
  'trailing'   on a DiscreteVPPath, steps round(T - k (T - i_end) / N), starting exactly at T
               (Lin et al. 2024); 'time' on continuous paths;
  'leading'    on a DiscreteVPPath, steps i_end + 1 + k floor((T - i_end) / N), k = N-1..0, then
               i_end: the DDIM paper's code (its 0-based timesteps plus one); 'time' on continuous
               paths.

On a :class:`~gendiff.paths.DiscreteVPPath` every grid lies on the integer steps i / T: 'quadratic'
follows the DDIM paper (steps i_end + 1 + floor((T - i_end - 1) (k / (N - 1))^2)); 'time',
'logsnr' and 'karras' are rounded to the nearest step ('logsnr' and 'karras' grids that end at
step 0, where lambda is infinite, space N - 1 steps down to step 1 and then step to 0). Repeated integers are pushed apart so the
grid stays strictly decreasing, which needs N <= T - i_end.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.paths.base import GaussianPath
from gendiff.paths.discrete import DiscreteVPPath

SPACINGS = ("time", "logsnr", "karras", "quadratic", "trailing", "leading")


def check_spacing(spacing: str) -> None:
    if spacing not in SPACINGS:
        raise ValueError(f"Unknown spacing {spacing!r}; expected one of {SPACINGS}.")


def check_rho(rho: float) -> None:
    if not rho > 0:
        raise ValueError(f"rho must be > 0 (EDM uses 7), got {rho}.")


def _check_num_steps(num_steps: int) -> None:
    if isinstance(num_steps, bool) or int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}.")


def rho_spaced(sigma_min, sigma_max, num_levels: int, rho: float, dtype=jnp.float32) -> jax.Array:
    """num_levels values from sigma_max down to sigma_min, equally spaced in sigma^(1/rho).

    sigma_i = (sigma_max^(1/rho) + i / (n - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,
    i = 0..n-1 (Karras et al. 2022, eq. 5), with the ends set exactly; one level is sigma_max.
    """
    ramp = jnp.linspace(0.0, 1.0, num_levels, dtype=dtype)
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
    """EDM's noise levels of num_steps sampling steps (Karras et al. 2022, eq. 5), decreasing.

    With ``append_zero`` (EDM's convention) the first num_steps levels run from sigma_max to
    sigma_min and the last is 0; without it all num_steps + 1 levels are spaced by eq. 5.

    Example:
      >>> karras_sigmas(3, 0.002, 80.0)
      Array([8.0e+01, 2.515e+00, 2.0e-03, 0.0e+00], dtype=float32)
    """
    _check_num_steps(num_steps)
    check_rho(rho)
    if not 0.0 < sigma_min < sigma_max:
        raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}.")
    if not append_zero:
        return rho_spaced(sigma_min, sigma_max, num_steps + 1, rho)
    return jnp.append(rho_spaced(sigma_min, sigma_max, num_steps, rho), 0.0)


def _check_finite_log_snr(path: GaussianPath, t_end: float) -> None:
    from gendiff.sampling import check_finite_log_snr  # noqa: PLC0415 (avoids an import cycle)

    check_finite_log_snr(path, t_end)


def _times_of_log_snr(path: GaussianPath, lam: jax.Array, t_end: float) -> jax.Array:
    """Times of decreasing-in-t log-SNRs, with the ends set exactly to t_max and t_end."""
    return path.t_from_log_snr(lam).at[0].set(path.t_max).at[-1].set(t_end)


def _continuous(path, num_steps, spacing, rho, t_end, dtype) -> jax.Array:
    k = jnp.arange(num_steps, -1, -1, dtype=dtype) / num_steps  # 1 .. 0
    if spacing in ("time", "trailing", "leading"):
        return (t_end + (path.t_max - t_end) * k).at[0].set(path.t_max).at[-1].set(t_end)
    if spacing == "quadratic":
        return (t_end + (path.t_max - t_end) * k**2).at[0].set(path.t_max).at[-1].set(t_end)
    _check_finite_log_snr(path, t_end)
    ends = jnp.array([path.t_max, t_end], dtype)
    if spacing == "logsnr":
        lam_start, lam_end = path.log_snr(ends)
        return _times_of_log_snr(path, lam_start + (1.0 - k) * (lam_end - lam_start), t_end)
    sigma_hi, sigma_lo = jnp.exp(-0.5 * path.log_snr(ends))  # karras, in sigma~ = sigma / alpha
    levels = rho_spaced(sigma_lo, sigma_hi, num_steps + 1, rho, dtype)
    return _times_of_log_snr(path, -2.0 * jnp.log(levels), t_end)


def _strictly_decreasing(steps, top: int):
    """Integer steps pushed apart (from the bottom, then capped from the top) so that they
    strictly decrease; works on NumPy and traced JAX arrays alike."""
    xp = jnp if isinstance(steps, jax.Array) else np
    k = xp.arange(steps.shape[0])
    w = steps + k  # strictly decreasing steps <=> non-increasing steps + k
    if xp is np:
        w = np.maximum.accumulate(w[::-1])[::-1]
    else:
        w = jax.lax.cummax(w, reverse=True)
    return xp.minimum(w - k, top - k)


def _discrete(path, num_steps, spacing, rho, t_end, dtype) -> jax.Array:
    T, N = path.num_steps, num_steps
    i_end = int(round(t_end * T))
    if abs(t_end * T - i_end) > 1e-6:
        raise ValueError(f"t_end must be an integer step i / T on a DiscreteVPPath, got {t_end}.")
    if N > T - i_end:
        limit = f"T = {T}" if i_end == 0 else f"T - {i_end} = {T - i_end}"
        raise ValueError(
            f"num_steps must be <= {limit} on a DiscreteVPPath ending at step {i_end}, got {N}."
        )
    k = np.arange(N)  # increasing position from the bottom
    if spacing == "trailing":
        steps = np.round(T - np.arange(N + 1) * (T - i_end) / N).astype(np.int64)
    elif spacing in ("leading", "quadratic"):
        if spacing == "leading":
            up = i_end + 1 + k * ((T - i_end) // N)
        else:
            frac = k / (N - 1) if N > 1 else np.ones(1)  # a single step starts at T
            up = i_end + 1 + np.floor((T - i_end - 1) * frac**2).astype(np.int64)
            up = k + np.maximum.accumulate(up - k)  # strictly increasing, still <= T
        steps = np.append(up[::-1], i_end)
    elif spacing in ("logsnr", "karras") and i_end == 0:
        # lambda(0) is infinite: space N - 1 steps down to step 1, then step to 0.
        if N == 1:
            return jnp.asarray([1.0, 0.0], dtype)
        return jnp.append(_discrete(path, N - 1, spacing, rho, 1.0 / T, dtype), 0.0).astype(dtype)
    else:
        t = _continuous(path, N, spacing, rho, t_end, jnp.float32)
        steps = _strictly_decreasing(jnp.round(t * T).astype(jnp.int32), T)
        return (steps.astype(dtype) / T).astype(dtype)
    return jnp.asarray(steps / T, dtype)


def time_grid(
    path: GaussianPath,
    num_steps: int,
    spacing: str = "time",
    *,
    rho: float = 7.0,
    t_end: float | None = None,
    dtype=jnp.float32,
) -> jax.Array:
    """num_steps + 1 decreasing times from t_max to t_end in the named spacing (module docstring).

    Args:
      path: the Gaussian path.
      num_steps: N >= 1.
      spacing: one of :data:`SPACINGS`.
      rho: the exponent of 'karras', > 0.
      t_end: the last time; defaults to ``path.t_min`` (on a DiscreteVPPath an integer step,
        e.g. 0 for DDIM's grids that end on the data).
      dtype: the dtype of the times (the samplers pass their state dtype).

    Returns:
      (N + 1,) times; the first is t_max (or, for 'leading' on a DiscreteVPPath, the top step
      of the DDIM paper's grid) and the last is t_end.

    Example:
      >>> from gendiff.paths import DiscreteVPPath, VPPath
      >>> time_grid(VPPath(), 4)
      Array([1.     , 0.75025, 0.5005 , 0.25075, 0.001  ], dtype=float32)
      >>> time_grid(DiscreteVPPath.from_schedule("linear", 1000), 4, "trailing", t_end=0.0) * 1000
      Array([1000.,  750.,  500.,  250.,    0.], dtype=float32)
    """
    _check_num_steps(num_steps)
    check_spacing(spacing)
    check_rho(rho)
    num_steps = int(num_steps)
    t_end = float(path.t_min if t_end is None else t_end)
    if not t_end < path.t_max:
        raise ValueError(f"t_end must be below t_max = {path.t_max}, got {t_end}.")
    if isinstance(path, DiscreteVPPath):
        return _discrete(path, num_steps, spacing, rho, t_end, dtype)
    return _continuous(path, num_steps, spacing, rho, t_end, dtype)
