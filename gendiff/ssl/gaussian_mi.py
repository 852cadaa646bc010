"""Correlated Gaussians with known mutual information: the test bed of Poole et al. (2019).

x ~ N(0, I_d) and y = rho x + sqrt(1 - rho^2) eps, eps ~ N(0, I_d), so each coordinate pair is
a bivariate Gaussian with correlation rho and

    I(x; y) = -d/2 log(1 - rho^2).                                                          (1)

The density ratio is known in closed form, so every bound can be evaluated at its optimal
critic:

    log p(y|x) / p(y) = sum_k [ -(y_k - rho x_k)^2 / (2 (1 - rho^2)) + y_k^2 / 2 ]
                        - d/2 log(1 - rho^2).                                               (2)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def _check_rho(rho) -> float:
    rho = float(rho)
    if not -1.0 < rho < 1.0:
        raise ValueError(f"rho must lie strictly inside (-1, 1), got {rho!r}.")
    return rho


def correlated_gaussian_mi(rho: float, dim: int) -> float:
    """I(x; y) of eq. (1) in nats.

    Args:
      rho: per-coordinate correlation in (-1, 1).
      dim: number of coordinate pairs d.

    Returns:
      The mutual information, a Python float.

    Example:
      >>> round(correlated_gaussian_mi(rho_for_mi(2.0, 20), 20), 6)
      2.0
    """
    rho = _check_rho(rho)
    return -0.5 * dim * math.log1p(-rho * rho)


def rho_for_mi(mi: float, dim: int) -> float:
    """The correlation rho >= 0 at which eq. (1) equals `mi` nats.

    Example:
      >>> round(rho_for_mi(0.0, 5), 6)
      0.0
    """
    if not mi >= 0.0:
        raise ValueError(f"mi must be >= 0 nats, got {mi!r}.")
    return math.sqrt(-math.expm1(-2.0 * mi / dim))


def sample_correlated_gaussians(
    key: jax.Array, num_samples: int, dim: int, rho: float
) -> tuple[jax.Array, jax.Array]:
    """Draws (x, y) pairs of eq. (1).

    Args:
      key: PRNG key.
      num_samples: batch size N.
      dim: dimension d of x and y.
      rho: per-coordinate correlation in (-1, 1).

    Returns:
      x, y of shape (N, d).

    Example:
      >>> x, y = sample_correlated_gaussians(jax.random.key(0), 4, 3, 0.5)
      >>> x.shape, y.shape
      ((4, 3), (4, 3))
    """
    rho = _check_rho(rho)
    key_x, key_eps = jax.random.split(key)
    x = jax.random.normal(key_x, (num_samples, dim))
    eps = jax.random.normal(key_eps, (num_samples, dim))
    return x, rho * x + math.sqrt(1.0 - rho * rho) * eps


def optimal_log_ratio_scores(x: jax.Array, y: jax.Array, rho: float) -> jax.Array:
    """The matrix of log p(y_j | x_i) / p(y_j), eq. (2), for all pairs of a batch.

    Args:
      x: (N, d) samples.
      y: (N, d) samples; (x_i, y_i) are the joint pairs.
      rho: the correlation the pairs were drawn with.

    Returns:
      (N, N) scores: InfoNCE's and DV's optimal critic; NWJ's is this plus 1.

    Example:
      >>> s = optimal_log_ratio_scores(jnp.zeros((2, 1)), jnp.zeros((2, 1)), 0.0)
      >>> s.tolist()  # independent: the ratio is 1
      [[0.0, 0.0], [0.0, 0.0]]
    """
    rho = _check_rho(rho)
    x, y = jnp.asarray(x), jnp.asarray(y)
    one_minus = 1.0 - rho * rho
    # ||y_j - rho x_i||^2 expanded, so no (N, N, d) array is formed.
    yy = jnp.sum(y * y, axis=-1)
    d2 = yy[None, :] - 2.0 * rho * (x @ y.T) + rho * rho * jnp.sum(x * x, axis=-1)[:, None]
    return -d2 / (2.0 * one_minus) + 0.5 * yy[None, :] - 0.5 * x.shape[1] * math.log(one_minus)
