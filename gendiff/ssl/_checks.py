"""Input checks shared by the self-supervised losses (raised at the boundary, outside jit)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(x) -> bool:
    """True when `x` holds values (not a tracer inside jit/vmap/grad)."""
    return not isinstance(x, jax.core.Tracer)


def check_positive(name: str, value) -> None:
    """Raises ValueError unless a concrete `value` is a finite number > 0 (tracers pass)."""
    if not is_concrete(value):
        return
    v = np.asarray(value, dtype=np.float64)
    if v.ndim != 0 or not math.isfinite(float(v)) or not float(v) > 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")


def check_ratio(name: str, value) -> float:
    """Returns `value` as a float; ValueError unless it lies strictly inside (0, 1)."""
    v = float(value)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must lie strictly inside (0, 1), got {value!r}.")
    return v


def check_embeddings(name: str, z, ndim: int = 2) -> jax.Array:
    """`z` as a floating array of `ndim` axes; ValueError otherwise."""
    z = jnp.asarray(z)
    if z.ndim != ndim:
        shape = "(batch, dim)" if ndim == 2 else f"{ndim} axes"
        raise ValueError(f"{name} must have shape {shape}, got shape {z.shape}.")
    if not jnp.issubdtype(z.dtype, jnp.floating):
        z = z.astype(jnp.result_type(float))
    return z


def check_pair(name_a: str, a, name_b: str, b) -> tuple[jax.Array, jax.Array]:
    """Two (batch, dim) embedding arrays of one shape, as floating arrays of one dtype."""
    a, b = check_embeddings(name_a, a), check_embeddings(name_b, b)
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape (batch, dim), got {name_a} "
            f"{a.shape} and {name_b} {b.shape}."
        )
    dtype = jnp.result_type(a, b)
    return a.astype(dtype), b.astype(dtype)


def check_square_scores(scores) -> jax.Array:
    """A (batch, batch) critic matrix with batch >= 2, as a floating array."""
    scores = jnp.asarray(scores)
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1] or scores.shape[0] < 2:
        raise ValueError(
            "scores must be a square (batch, batch) matrix of critic values f(x_i, y_j) with "
            f"the positive pairs on the diagonal and batch >= 2, got shape {scores.shape}."
        )
    if not jnp.issubdtype(scores.dtype, jnp.floating):
        scores = scores.astype(jnp.result_type(float))
    return scores
