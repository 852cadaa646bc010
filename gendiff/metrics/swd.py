"""Sliced Wasserstein distance between two point clouds.

For empirical measures P = (1/n) sum_i delta_{x_i} and Q = (1/m) sum_j delta_{y_j}
in R^d,

    SW_p(P, Q)^p = E_{theta ~ U(S^{d-1})} W_p^p(theta#P, theta#Q),            (1)

estimated with `num_projections` random unit directions. In one dimension the
optimal coupling pairs quantiles:

    W_p^p(F, G) = int_0^1 |F^{-1}(u) - G^{-1}(u)|^p du.                        (2)

Both quantile functions are step functions that jump only at u in {i/n} U {j/m},
so (2) is an exact finite sum over the pieces between consecutive jumps. Clouds
of different sizes are therefore supported; for n == m it reduces to pairing the
sorted projections, (1/n) sum_i |x_(i) - y_(i)|^p.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.metrics._validation import check_point_clouds


def _quantile_pieces(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces of [0, 1] on which the quantile functions of an n- and an m-point measure are constant.

    Returns (ix, iy, widths): on piece k, F^{-1} = x_(ix[k]) and G^{-1} = y_(iy[k]),
    and the piece has length widths[k]. Computed exactly in integers on the grid
    {0, 1/L, ..., 1} with L = lcm(n, m).
    """
    grid = math.lcm(n, m)
    step_x, step_y = grid // n, grid // m
    # Jump points {i/n} U {j/m} (and the end points 0, 1), in units of 1/L.
    breaks = np.union1d(np.arange(0, grid + 1, step_x), np.arange(0, grid + 1, step_y))
    left = breaks[:-1]
    return left // step_x, left // step_y, np.diff(breaks) / grid


def sliced_wasserstein(key: jax.Array, x, y, num_projections: int = 256, p: float = 2) -> jax.Array:
    """Monte Carlo sliced p-Wasserstein distance SW_p between two point clouds.

    Directions theta are drawn uniformly on the unit sphere (normalised Gaussians);
    each 1-D distance is exact (equation (2) above), for equal or unequal cloud sizes.

    Args:
      key: PRNG key for the random directions.
      x: points of shape (n, dim).
      y: points of shape (m, dim); m may differ from n.
      num_projections: number of random directions (>= 1).
      p: order of the distance (>= 1).

    Returns:
      Scalar SW_p(x, y) = (mean_theta W_p^p)^{1/p}.

    Example:
      >>> x = jax.random.normal(jax.random.key(0), (1000, 2))
      >>> d = sliced_wasserstein(jax.random.key(1), x, x + 1.0)  # about sqrt(2 / 2) = 1
    """
    x = jnp.asarray(x, dtype=jnp.float32)
    y = jnp.asarray(y, dtype=jnp.float32)
    check_point_clouds(x, y)
    if int(num_projections) != num_projections or num_projections < 1:
        raise ValueError(f"num_projections must be a positive integer, got {num_projections}.")
    if not p >= 1:
        raise ValueError(f"p must be >= 1, got {p}.")
    ix, iy, widths = _quantile_pieces(x.shape[0], y.shape[0])
    return _sliced_wasserstein(key, x, y, ix, iy, widths, int(num_projections), float(p))


@functools.partial(jax.jit, static_argnums=(6, 7))
def _sliced_wasserstein(key, x, y, ix, iy, widths, num_projections, p):
    # theta ~ U(S^{d-1}) as normalised standard Gaussians, shape (K, d).
    theta = jax.random.normal(key, (num_projections, x.shape[1]), dtype=x.dtype)
    theta = theta / jnp.linalg.norm(theta, axis=1, keepdims=True)
    # Sorted projections: column k holds the quantile values of theta_k # P.
    x_sorted = jnp.sort(x @ theta.T, axis=0)  # (n, K)
    y_sorted = jnp.sort(y @ theta.T, axis=0)  # (m, K)
    # Equation (2) as a sum over constant pieces, one value per direction.
    gaps = jnp.abs(x_sorted[ix] - y_sorted[iy]) ** p  # (pieces, K)
    w_pp = jnp.asarray(widths, dtype=x.dtype) @ gaps  # (K,)
    # Equation (1): average over directions, then the p-th root.
    return jnp.mean(w_pp) ** (1.0 / p)
