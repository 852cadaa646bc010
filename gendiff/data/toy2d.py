"""Toy 2-D distributions as pure JAX samplers.

Every distribution is put on a common scale: an affine map chosen from its exact
population moments so that the mean is 0 and the total variance E|x|^2 is 2 (i.e. an
average per-coordinate variance of 1). The map is a shift and a single isotropic
scale, so shapes are not distorted (circles stay round). The moments are derived in
closed form next to each sampler; they do not depend on the drawn sample.

Example:
  >>> x = sample(jax.random.key(0), "two_moons", 1000)
  >>> x.shape, x.dtype
  ((1000, 2), dtype('float32'))
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.data.gaussian_mixture import gaussian_mixture_log_prob, sample_gaussian_mixture

__all__ = [
    "NAMES",
    "sample",
    "two_moons_with_labels",
    "eight_gaussians_mixture",
    "eight_gaussians_log_prob",
    "gaussian_mixture_log_prob",
    "sample_gaussian_mixture",
    "CIRCLES_RADII",
]


def _standardise(raw: jax.Array, mean: tuple[float, float], total_var: float) -> jax.Array:
    """x = (raw - mean) * sqrt(2 / total_var), giving E x = 0 and E|x|^2 = 2."""
    return (raw - jnp.asarray(mean)) * math.sqrt(2.0 / total_var)


# Swiss roll: t ~ U(a, b), raw = t (cos t, sin t) + noise * eps.
# E[t cos t] = [t sin t + cos t]_a^b / (b - a),  E[t sin t] = [sin t - t cos t]_a^b / (b - a),
# E|raw|^2 = E t^2 + 2 noise^2 = (b^3 - a^3) / (3 (b - a)) + 2 noise^2.
_ROLL_A, _ROLL_B, _ROLL_NOISE = 1.5 * math.pi, 4.5 * math.pi, 0.5
_ROLL_MEAN = (
    (
        (_ROLL_B * math.sin(_ROLL_B) + math.cos(_ROLL_B))
        - (_ROLL_A * math.sin(_ROLL_A) + math.cos(_ROLL_A))
    )
    / (_ROLL_B - _ROLL_A),
    (
        (math.sin(_ROLL_B) - _ROLL_B * math.cos(_ROLL_B))
        - (math.sin(_ROLL_A) - _ROLL_A * math.cos(_ROLL_A))
    )
    / (_ROLL_B - _ROLL_A),
)
_ROLL_VAR = (
    (_ROLL_B**3 - _ROLL_A**3) / (3 * (_ROLL_B - _ROLL_A))
    - _ROLL_MEAN[0] ** 2
    - _ROLL_MEAN[1] ** 2
    + 2 * _ROLL_NOISE**2
)


def _swiss_roll(key: jax.Array, n: int) -> jax.Array:
    key_t, key_eps = jax.random.split(key)
    t = jax.random.uniform(key_t, (n,), minval=_ROLL_A, maxval=_ROLL_B)
    raw = t[:, None] * jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
    raw = raw + _ROLL_NOISE * jax.random.normal(key_eps, (n, 2))
    return _standardise(raw, _ROLL_MEAN, _ROLL_VAR)


# Two moons, t ~ U(0, pi): upper arc (cos t, sin t), lower arc (1 - cos t, 1/2 - sin t),
# each with probability 1/2, plus noise * eps. Mean (1/2, 1/4). Per coordinate,
# variance = mean within-arc variance + variance of the two arc means:
#   x: 1/2 + 1/4;   y: (1/2 - 4/pi^2) + (2/pi - 1/4)^2;   plus noise^2 each.
_MOONS_NOISE = 0.1
_MOONS_MEAN = (0.5, 0.25)
_MOONS_VAR = 0.75 + (0.5 - 4 / math.pi**2) + (2 / math.pi - 0.25) ** 2 + 2 * _MOONS_NOISE**2


@functools.partial(jax.jit, static_argnums=1)
def two_moons_with_labels(key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """The 'two_moons' points with the moon each came from (0 upper, 1 lower).

    The points are exactly ``sample(key, "two_moons", n)``.

    Returns:
      (points (n, 2) float32, labels (n,) int32).

    Example:
      >>> x, y = two_moons_with_labels(jax.random.key(0), 4)
      >>> bool(jnp.all(x == sample(jax.random.key(0), "two_moons", 4))), y.dtype
      (True, dtype('int32'))
    """
    key_t, key_arc, key_eps = jax.random.split(key, 3)
    t = jax.random.uniform(key_t, (n,), maxval=math.pi)
    upper = jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
    lower = jnp.stack([1 - jnp.cos(t), 0.5 - jnp.sin(t)], axis=1)
    is_upper = jax.random.bernoulli(key_arc, shape=(n, 1))
    raw = jnp.where(is_upper, upper, lower)
    raw = raw + _MOONS_NOISE * jax.random.normal(key_eps, (n, 2))
    points = _standardise(raw, _MOONS_MEAN, _MOONS_VAR).astype(jnp.float32)
    return points, (~is_upper[:, 0]).astype(jnp.int32)


def _two_moons(key: jax.Array, n: int) -> jax.Array:
    return two_moons_with_labels(key, n)[0]


# Eight Gaussians: equal weights, means R (cos 2 pi k/8, sin 2 pi k/8), std s.
# E|x|^2 = R^2 + 2 s^2 = 2 fixes R given s; the mean is 0 by symmetry.
_EIGHT_STD = 0.1
_EIGHT_RADIUS = math.sqrt(2.0 - 2 * _EIGHT_STD**2)


def eight_gaussians_mixture() -> tuple[jax.Array, jax.Array, jax.Array]:
    """Parameters of the 'eight_gaussians' distribution exactly as sampled.

    Returns:
      (means (8, 2), stds (8,), weights (8,)): means on a circle of radius
      sqrt(2 - 2 * 0.1^2) ~ 1.407 at angles 2 pi k / 8, all stds 0.1, equal weights.

    Example:
      >>> means, stds, weights = eight_gaussians_mixture()
      >>> means.shape
      (8, 2)
    """
    angles = 2 * jnp.pi * jnp.arange(8) / 8
    means = _EIGHT_RADIUS * jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=1)
    return means, jnp.full((8,), _EIGHT_STD), jnp.full((8,), 1 / 8)


def eight_gaussians_log_prob(x: jax.Array) -> jax.Array:
    """Exact log-density of the 'eight_gaussians' distribution, (..., 2) -> (...,).

    Example:
      >>> eight_gaussians_log_prob(jnp.zeros((4, 2))).shape
      (4,)
    """
    return gaussian_mixture_log_prob(x, *eight_gaussians_mixture())


def _eight_gaussians(key: jax.Array, n: int) -> jax.Array:
    return sample_gaussian_mixture(key, *eight_gaussians_mixture(), n)


# Checkerboard: uniform on the 8 cells (i, j) with i + j even of a 4 x 4 board. Every
# row and column holds two cells, so each coordinate is marginally uniform on the whole
# side [-c, c], of variance c^2 / 3; c = sqrt(3) makes it 1. The mean is 0 by symmetry.
_BOARD_HALF_SIDE = math.sqrt(3.0)


def _checkerboard(key: jax.Array, n: int) -> jax.Array:
    key_cell, key_u = jax.random.split(key)
    cell = jax.random.randint(key_cell, (n,), 0, 8)
    row = cell // 2
    col = 2 * (cell % 2) + row % 2  # row + col is even
    corner = jnp.stack([col, row], axis=1).astype(jnp.float32)  # in {0..3}^2
    in_board = corner + jax.random.uniform(key_u, (n, 2))  # in [0, 4]^2
    return (in_board / 2 - 1) * _BOARD_HALF_SIDE


# Circles: a ring of radius R or R/2 with probability 1/2 each, uniform angle, plus
# isotropic noise s * eps. E|x|^2 = (R^2 + R^2 / 4) / 2 + 2 s^2 = 2 fixes R.
_CIRCLES_NOISE = 0.05
_CIRCLES_OUTER = math.sqrt((2.0 - 2 * _CIRCLES_NOISE**2) * 8 / 5)
CIRCLES_RADII = (_CIRCLES_OUTER / 2, _CIRCLES_OUTER)  # inner ~0.893, outer ~1.787


def _circles(key: jax.Array, n: int) -> jax.Array:
    key_ring, key_angle, key_eps = jax.random.split(key, 3)
    radius = jnp.where(jax.random.bernoulli(key_ring, shape=(n,)), *CIRCLES_RADII)
    angle = jax.random.uniform(key_angle, (n,), maxval=2 * jnp.pi)
    ring = radius[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    return ring + _CIRCLES_NOISE * jax.random.normal(key_eps, (n, 2))


# Pinwheel with 5 arms: in an arm's own frame (r, u) with r ~ N(1, s_r^2), u ~ N(0, s_u^2),
# rotated by 2 pi c / 5 + rate * exp(r) for a uniform arm c. A rotation keeps the norm,
# so E|raw|^2 = 1 + s_r^2 + s_u^2; the mean is 0 because the 5 arm angles sum to zero.
_PIN_ARMS, _PIN_RADIAL_STD, _PIN_TANGENTIAL_STD, _PIN_RATE = 5, 0.3, 0.1, 0.25
_PIN_VAR = 1 + _PIN_RADIAL_STD**2 + _PIN_TANGENTIAL_STD**2


def _pinwheel(key: jax.Array, n: int) -> jax.Array:
    key_arm, key_eps = jax.random.split(key)
    arm = jax.random.randint(key_arm, (n,), 0, _PIN_ARMS)
    eps = jax.random.normal(key_eps, (n, 2))
    r = 1.0 + _PIN_RADIAL_STD * eps[:, 0]
    u = _PIN_TANGENTIAL_STD * eps[:, 1]
    angle = 2 * jnp.pi * arm / _PIN_ARMS + _PIN_RATE * jnp.exp(r)
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    raw = jnp.stack([cos * r - sin * u, sin * r + cos * u], axis=1)
    return _standardise(raw, (0.0, 0.0), _PIN_VAR)


_SAMPLERS: dict[str, Callable[[jax.Array, int], jax.Array]] = {
    "swiss_roll": _swiss_roll,
    "two_moons": _two_moons,
    "eight_gaussians": _eight_gaussians,
    "checkerboard": _checkerboard,
    "circles": _circles,
    "pinwheel": _pinwheel,
}
NAMES = tuple(_SAMPLERS)


@functools.partial(jax.jit, static_argnames=("name", "num_samples"))
def sample(key: jax.Array, name: str, num_samples: int) -> jax.Array:
    """Draws points from a named toy 2-D distribution.

    Compiled with ``jax.jit``; ``name`` and ``num_samples`` are static, so each
    (name, num_samples) pair compiles once.

    Args:
      key: PRNG key.
      name: one of :data:`NAMES`.
      num_samples: number of points n >= 0.

    Returns:
      Points of shape (n, 2), float32, with population mean 0 and E|x|^2 = 2.

    Raises:
      ValueError: unknown ``name`` or negative ``num_samples``.

    Example:
      >>> sample(jax.random.key(0), "checkerboard", 3).shape
      (3, 2)
    """
    if name not in _SAMPLERS:
        raise ValueError(f"unknown toy 2-D distribution {name!r}; valid names: {', '.join(NAMES)}")
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0; got {num_samples}")
    return _SAMPLERS[name](key, int(num_samples)).astype(jnp.float32)
