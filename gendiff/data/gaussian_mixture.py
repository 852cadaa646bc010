"""Mixtures of isotropic Gaussians: exact log-density and sampling.

p(x) = sum_k w_k N(x; mu_k, s_k^2 I) in d dimensions, with means (K, d), per-component
standard deviations s (K,) and weights w (K,) that are non-negative and sum to one.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


@jax.jit
def gaussian_mixture_log_prob(
    x: jax.Array, means: jax.Array, stds: jax.Array, weights: jax.Array
) -> jax.Array:
    """Exact log-density of a mixture of isotropic Gaussians.

    ``log p(x) = logsumexp_k [ log w_k - |x - mu_k|^2 / (2 s_k^2) - d log s_k - (d/2) log(2 pi) ]``.

    Args:
      x: points, shape (..., d).
      means: component means mu_k, shape (K, d).
      stds: component standard deviations s_k > 0, shape (K,).
      weights: mixture weights w_k >= 0 summing to one, shape (K,).

    Returns:
      log p(x), shape (...,).

    Example:
      >>> means = jnp.array([[-1.0, 0.0], [1.0, 0.0]])
      >>> lp = gaussian_mixture_log_prob(jnp.zeros((3, 2)), means, jnp.ones(2), jnp.full(2, 0.5))
      >>> lp.shape
      (3,)
    """
    x, means, stds, weights = map(jnp.asarray, (x, means, stds, weights))
    _check_params(means, stds, weights)
    if x.shape[-1:] != means.shape[-1:]:
        raise ValueError(f"x must have shape (..., {means.shape[1]}) to match means; got {x.shape}")
    d = means.shape[1]
    sq_dist = jnp.sum((x[..., None, :] - means) ** 2, axis=-1)  # |x - mu_k|^2, (..., K)
    log_normal = -0.5 * sq_dist / stds**2 - d * jnp.log(stds) - 0.5 * d * jnp.log(2 * jnp.pi)
    return jax.nn.logsumexp(jnp.log(weights) + log_normal, axis=-1)


@functools.partial(jax.jit, static_argnames="num_samples")
def sample_gaussian_mixture(
    key: jax.Array, means: jax.Array, stds: jax.Array, weights: jax.Array, num_samples: int
) -> jax.Array:
    """Draws points from a mixture of isotropic Gaussians.

    k ~ Categorical(w), then x = mu_k + s_k * eps with eps ~ N(0, I).

    Args:
      key: PRNG key.
      means: component means, shape (K, d).
      stds: component standard deviations, shape (K,).
      weights: mixture weights summing to one, shape (K,).
      num_samples: number of points n.

    Returns:
      Samples, shape (n, d), float32.

    Example:
      >>> x = sample_gaussian_mixture(jax.random.key(0), jnp.zeros((1, 2)), jnp.ones(1), jnp.ones(1), 5)
      >>> x.shape
      (5, 2)
    """
    means, stds, weights = map(jnp.asarray, (means, stds, weights))
    _check_params(means, stds, weights)
    key_k, key_eps = jax.random.split(key)
    k = jax.random.categorical(key_k, jnp.log(weights), shape=(num_samples,))
    eps = jax.random.normal(key_eps, (num_samples, means.shape[1]))
    return (means[k] + stds[k, None] * eps).astype(jnp.float32)


def _check_params(means: jax.Array, stds: jax.Array, weights: jax.Array) -> None:
    num_components = means.shape[0] if means.ndim == 2 else None
    if num_components is None or stds.shape != (num_components,) or weights.shape != stds.shape:
        raise ValueError(
            "expected means (K, d), stds (K,) and weights (K,); got "
            f"means {means.shape}, stds {stds.shape}, weights {weights.shape}"
        )


# The 2-D mixtures of the PacGAN protocol (Lin et al. 2018, section 5.1, after VEEGAN,
# Srivastava et al. 2017), on their own scale: not standardised like gendiff.data.toy2d,
# because the protocol's "high quality" radius is 3 stds in these units.
PACGAN_RING_RADIUS, PACGAN_RING_STD = 1.0, 0.01
PACGAN_GRID_POINTS, PACGAN_GRID_STD = (-4.0, -2.0, 0.0, 2.0, 4.0), 0.05
PACGAN_MIXTURES = ("ring", "grid")


def pacgan_mixture(name: str) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The (means, stds, weights) of a 2-D mixture of the PacGAN protocol.

    'ring': 8 equally weighted Gaussians with means at angles 2 pi k / 8 on the circle of
    radius 1, std 0.01. 'grid': 25 equally weighted Gaussians with means at
    {-4, -2, 0, 2, 4}^2 (row-major: mode 5 i + j at (x_i, x_j)), std 0.05.

    Args:
      name: 'ring' or 'grid'.

    Returns:
      means (K, 2), stds (K,), weights (K,), float32; draw with
      :func:`sample_gaussian_mixture`, score with :func:`gendiff.metrics.mode_coverage`.

    References:
      Lin, Khetan, Fanti & Oh, "PacGAN", NeurIPS 2018, Table 1; Srivastava et al.,
      "VEEGAN", NeurIPS 2017.

    Example:
      >>> means, stds, weights = pacgan_mixture("grid")
      >>> means.shape, float(stds[0]), means[6].tolist()
      ((25, 2), 0.05000000074505806, [-2.0, -2.0])
    """
    if name == "ring":
        angles = 2 * jnp.pi * jnp.arange(8) / 8
        means = PACGAN_RING_RADIUS * jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=1)
        std = PACGAN_RING_STD
    elif name == "grid":
        points = jnp.asarray(PACGAN_GRID_POINTS)
        means = jnp.stack(jnp.meshgrid(points, points, indexing="ij"), axis=-1).reshape(-1, 2)
        std = PACGAN_GRID_STD
    else:
        raise ValueError(f"unknown PacGAN mixture {name!r}; expected one of {PACGAN_MIXTURES}.")
    k = means.shape[0]
    return (
        means.astype(jnp.float32),
        jnp.full((k,), std, jnp.float32),
        jnp.full((k,), 1.0 / k, jnp.float32),
    )
