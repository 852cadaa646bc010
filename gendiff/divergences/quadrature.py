"""Any f-divergence between two 1-D densities, by quadrature on an equally spaced grid.

    D_f(P || Q) = integral q(x) f(p(x) / q(x)) dx

is summed by the trapezoid rule from the two log-densities on a grid. Where q = 0 and p > 0
the integrand is its limit p * lim_{u -> inf} f(u) / u (the entry's ``slope_at_infinity``;
+inf for KL, chi^2, Jeffreys). It serves where there is no closed form (a Gaussian against a
mixture, or Pearson chi^2 between Gaussians) and as the truth an f-GAN's variational
estimate is compared with.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.divergences._checks import as_float
from gendiff.divergences.f_divergences import FDivergence, get_f_divergence


def f_divergence_on_grid(
    log_p, log_q, dx: float, divergence: str | FDivergence, **params
) -> jax.Array:
    """D_f(P || Q) from log-densities on an equally spaced 1-D grid (trapezoid rule).

    The integrand q f(p / q) is evaluated as q f(u) where p <= q and as p f(u) / u where
    p > q (u = p / q), so that neither form multiplies a vanishing density by a huge ratio;
    a ratio below the dtype's smallest normal number is raised to it (so gradients stay
    finite where u would underflow to 0).
    The grid must cover the mass of both densities; the rule converges geometrically for
    smooth integrands that vanish at the ends (use float64 for tight tolerances: under
    ``jax.enable_x64(True)`` the inputs keep their dtype).

    Args:
      log_p, log_q: log-densities at the grid points, shape (..., n) with n >= 3; -inf marks
        zero density.
      dx: the grid spacing (> 0).
      divergence: a name in ``F_DIVERGENCES`` or an ``FDivergence``.
      **params: parameters of a factory entry (``alpha=`` for ``"alpha"``).

    Returns:
      D_f, shape (...).

    Example:
      >>> x = jnp.linspace(-15.0, 15.0, 3001)
      >>> log_n = lambda m: -0.5 * (x - m) ** 2 - 0.5 * jnp.log(2 * jnp.pi)
      >>> round(float(f_divergence_on_grid(log_n(0.0), log_n(1.0), x[1] - x[0], "kl")), 4)
      0.5
    """
    entry = get_f_divergence(divergence, **params)
    log_p, log_q = as_float(log_p), as_float(log_q)
    if log_p.shape != log_q.shape or log_p.ndim < 1 or log_p.shape[-1] < 3:
        raise ValueError(
            f"log_p and log_q must have the same shape (..., n) with n >= 3 grid points, got "
            f"{log_p.shape} and {log_q.shape}."
        )
    if not np.isfinite(float(dx)) or float(dx) <= 0:
        raise ValueError(f"dx must be a positive grid spacing, got {dx}.")
    for name, v in (("log_p", log_p), ("log_q", log_q)):
        if not isinstance(v, jax.core.Tracer) and bool(jnp.any(jnp.isnan(v) | (v == jnp.inf))):
            raise ValueError(f"{name} holds NaN or +inf; expected log-densities (-inf for zero).")
    integrand = _integrand(entry, log_p, log_q)
    weights = jnp.ones(log_p.shape[-1], integrand.dtype).at[jnp.array([0, -1])].set(0.5)
    return jnp.sum(integrand * weights, axis=-1) * jnp.asarray(dx, integrand.dtype)


def _integrand(entry: FDivergence, log_p, log_q):
    p_pos, q_pos = log_p > -jnp.inf, log_q > -jnp.inf
    both = p_pos & q_pos
    log_u = jnp.where(both, log_p - log_q, 0.0)
    below = log_u <= 0  # p <= q: q f(u), u in (0, 1]
    # u is kept above the smallest normal number: a ratio that would underflow to 0 would
    # give f(0) = inf (reverse KL) and an infinite gradient, where q f(u) is finite.
    log_tiny = float(np.log(jnp.finfo(log_u.dtype).tiny))
    u_below = jnp.exp(jnp.where(below, jnp.maximum(log_u, log_tiny), 0.0))
    log_huge = float(np.log(jnp.finfo(log_u.dtype).max))
    u_above = jnp.exp(jnp.where(below, 0.0, jnp.minimum(log_u, log_huge)))
    q = jnp.exp(jnp.where(q_pos, log_q, -jnp.inf))
    p = jnp.exp(jnp.where(p_pos, log_p, -jnp.inf))
    slope = jnp.asarray(entry.slope_at_infinity, log_p.dtype)
    # Where f(u) itself overflows (u^2 for Neyman chi^2) f(u) / u is replaced by its limit,
    # the slope at infinity; u is swapped for 1 there so no inf enters a gradient.
    overflow = ~jnp.isfinite(jax.lax.stop_gradient(entry.f(u_above))) & jnp.isfinite(slope)
    u_above = jnp.where(overflow, 1.0, u_above)
    above = jnp.where(overflow, p * jnp.where(overflow, slope, 0.0), p * entry.f(u_above) / u_above)
    value = jnp.where(below, q * entry.f(u_below), above)
    f0 = entry.f(jnp.zeros((), log_p.dtype))  # p = 0 < q: q f(0)
    # The limits multiply only where they apply (inf * 0 would poison the gradients).
    only_q, only_p = q_pos & ~p_pos, p_pos & ~q_pos
    value = jnp.where(only_q, q * jnp.where(only_q, f0, 0.0), value)
    value = jnp.where(only_p & (p > 0), p * jnp.where(only_p, slope, 0.0), value)
    return jnp.where(p_pos | q_pos, value, 0.0)
