"""Gaussian log-densities and KL divergences used by the variational bounds."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def normal_kl(mean1, logvar1, mean2, logvar2) -> jax.Array:
    """Elementwise KL(N(mean1, e^logvar1) || N(mean2, e^logvar2)) in nats.

    = 1/2 [logvar2 - logvar1 + e^(logvar1 - logvar2) + (mean1 - mean2)^2 e^-logvar2 - 1].

    Example:
      >>> float(normal_kl(1.0, jnp.log(2.0), 0.0, 0.0))  # 1/2 (2 - log 2 - 1 + 1)
      0.6534264
    """
    return 0.5 * (
        logvar2
        - logvar1
        + jnp.exp(logvar1 - logvar2)
        + (mean1 - mean2) ** 2 * jnp.exp(-logvar2)
        - 1.0
    )


def standard_normal_log_prob(x) -> jax.Array:
    """Elementwise log N(x; 0, 1).

    Example:
      >>> standard_normal_log_prob(jnp.array([0.0, 1.0]))  # -log sqrt(2 pi), then - 1/2
      Array([-0.918939, -1.418939], dtype=float32)
    """
    return -0.5 * (x**2 + jnp.log(2.0 * jnp.pi))


def _log_ndtr(x):
    return jax.scipy.special.log_ndtr(x)


def discretized_gaussian_log_likelihood(x, mean, log_scale, num_levels: int) -> jax.Array:
    """Elementwise log P(x) of a Gaussian discretised into ``num_levels`` bins on [-1, 1].

    The data take the values -1 + 2k/(num_levels - 1), k = 0..num_levels-1, so each bin has
    half-width delta = 1/(num_levels - 1); the outermost bins extend to -inf and +inf
    (Ho et al. 2020, eq. 13, where num_levels = 256). Computed with log-CDFs, so it stays
    finite far in the tails.

    Args:
      x: data on the grid of levels in [-1, 1].
      mean, log_scale: the Gaussian's mean and log standard deviation (broadcastable to x).
      num_levels: number of discrete values of the data (256 for 8-bit images).

    Example:
      >>> # 3 levels -1, 0, 1 (half-width 1/2) under N(0, 1): Phi(-1/2), Phi(1/2) - Phi(-1/2), ...
      >>> x = jnp.array([-1.0, 0.0, 1.0])
      >>> jnp.exp(discretized_gaussian_log_likelihood(x, 0.0, 0.0, num_levels=3))
      Array([0.308538, 0.382925, 0.308538], dtype=float32)
    """
    delta = 1.0 / (num_levels - 1)
    inv_scale = jnp.exp(-log_scale)
    upper = (x - mean + delta) * inv_scale
    lower = (x - mean - delta) * inv_scale
    log_cdf_upper = _log_ndtr(upper)  # log Phi(upper)
    log_sf_lower = _log_ndtr(-lower)  # log (1 - Phi(lower))
    # log(Phi(upper) - Phi(lower)), computed on the side of the mean that avoids cancellation.
    mid = jnp.where(
        lower > 0,
        log_sf_lower + jnp.log1p(-jnp.exp(jnp.minimum(_log_ndtr(-upper) - log_sf_lower, -1e-30))),
        log_cdf_upper + jnp.log1p(-jnp.exp(jnp.minimum(_log_ndtr(lower) - log_cdf_upper, -1e-30))),
    )
    edge = 1.0 - 1e-6
    return jnp.where(x < -edge, log_cdf_upper, jnp.where(x > edge, log_sf_lower, mid))
