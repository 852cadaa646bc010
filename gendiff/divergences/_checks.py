"""Input checks and NaN-safe elementwise helpers shared by the divergences."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# Tolerance on |sum(p) - 1| when probability vectors are validated.
SUM_ATOL = 1e-5


def is_concrete(x) -> bool:
    """True when `x` holds values (not a tracer inside jit/vmap/grad)."""
    return not isinstance(x, jax.core.Tracer)


def as_float(x) -> jax.Array:
    """`x` as a JAX array of a floating dtype (integers are promoted to the default float)."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def check_same_shape(name_a: str, a, name_b: str, b) -> None:
    """Raises ValueError unless `a` and `b` have the same shape."""
    if np.shape(a) != np.shape(b):
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {name_a} {np.shape(a)} "
            f"and {name_b} {np.shape(b)}."
        )


def check_probabilities(name: str, p) -> None:
    """Raises ValueError unless a concrete `p` holds probability vectors along its last axis.

    Traced values are not inspected (the check runs where the values are known).
    """
    if np.ndim(p) == 0:
        raise ValueError(f"{name} must have at least one axis (the categories), got a scalar.")
    if not is_concrete(p):
        return
    v = np.asarray(p, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or inf; expected probabilities in [0, 1].")
    if np.any(v < 0):
        raise ValueError(
            f"{name} has negative entries (min {v.min():.3g}); expected probabilities >= 0."
        )
    sums = v.sum(axis=-1)
    worst = np.max(np.abs(sums - 1.0))
    if worst > SUM_ATOL:
        raise ValueError(
            f"{name} must sum to 1 along its last axis (within {SUM_ATOL:g}), got sums "
            f"{np.round(sums, 6).ravel()[:8].tolist()}; pass from_logits=True for logits."
        )


def check_logits(name: str, logits) -> None:
    """Raises ValueError unless concrete `logits` are finite or -inf (a zero probability)."""
    if np.ndim(logits) == 0:
        raise ValueError(f"{name} must have at least one axis (the categories), got a scalar.")
    if not is_concrete(logits):
        return
    v = np.asarray(logits, dtype=np.float64)
    if np.any(np.isnan(v)) or np.any(v == np.inf):
        raise ValueError(f"{name} contains NaN or +inf; expected finite logits (or -inf).")
    if np.any(np.all(v == -np.inf, axis=-1)):
        raise ValueError(f"{name} has a row of all -inf logits, which is no distribution.")


def safe_log(x) -> jax.Array:
    """log(x) for x > 0, -inf at x = 0, with a zero (not NaN) gradient at x = 0."""
    pos = x > 0
    return jnp.where(pos, jnp.log(jnp.where(pos, x, 1.0)), -jnp.inf)


def safe_sqrt(x) -> jax.Array:
    """sqrt(x) for x >= 0 with a zero (not infinite or NaN) gradient at x = 0."""
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def p_log_ratio(p, log_p, log_q) -> jax.Array:
    """Elementwise p (log p - log q) with the convention 0 log(0 / q) = 0.

    Terms with p = 0 contribute 0 and pass zero gradient to all three arguments; a term with
    p > 0 and q = 0 (log_q = -inf) is the constant +inf (P is not absolutely continuous with
    respect to Q), also with zero gradient, so that it cannot turn other gradients into NaN.
    """
    pos = p > 0
    finite = pos & (log_q > -jnp.inf)
    inner = p * (jnp.where(finite, log_p, 0.0) - jnp.where(finite, log_q, 0.0))
    return jnp.where(finite, inner, jnp.where(pos, jnp.inf, 0.0))


def check_pair(p, q, *, from_logits: bool, validate: bool) -> tuple[jax.Array, jax.Array]:
    """Checks a pair of distributions and returns them as floating arrays of one dtype.

    Args:
      p, q: probability vectors (or logits when `from_logits`) along the last axis, of one
        shape.
      from_logits: the inputs are unnormalised log-probabilities.
      validate: check the values (non-negative, summing to 1); shapes are always checked.
    """
    name_p, name_q = ("p_logits", "q_logits") if from_logits else ("p", "q")
    check_same_shape(name_p, p, name_q, q)
    if validate:
        check = check_logits if from_logits else check_probabilities
        check(name_p, p)
        check(name_q, q)
    elif np.ndim(p) == 0:
        raise ValueError(f"{name_p} must have at least one axis (the categories), got a scalar.")
    p, q = as_float(p), as_float(q)
    dtype = jnp.result_type(p, q)
    return p.astype(dtype), q.astype(dtype)


def probabilities_and_logs(p, q, from_logits: bool):
    """(p, log p, q, log q) from probabilities or logits (log-softmax for logits)."""
    if from_logits:
        log_p, log_q = jax.nn.log_softmax(p, axis=-1), jax.nn.log_softmax(q, axis=-1)
        return jnp.exp(log_p), log_p, jnp.exp(log_q), log_q
    return p, safe_log(p), q, safe_log(q)
