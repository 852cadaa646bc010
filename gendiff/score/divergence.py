"""Divergences tr(d s / d x) of a batched score function: exact, and by random probes.

Every function here assumes ``score_fn`` treats examples independently (no batch
statistics), so one forward-mode pass over the batch gives every example's J v at once,
where J = d s(x) / d x is that example's Jacobian.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

ScoreFn = Callable[[jax.Array], jax.Array]

PROBES = ("rademacher", "gaussian", "sphere")


def check_score_shape(score, x: jax.Array) -> None:
    """Raises ValueError unless x is (batch, dim, ...) and ``score`` (an array or
    ``jax.ShapeDtypeStruct``) has x's shape."""
    if x.ndim < 2:
        raise ValueError(f"x must have shape (batch, dim, ...), got shape {x.shape}.")
    if score.shape != x.shape:
        raise ValueError(f"score_fn must return the shape of x, {x.shape}; got {score.shape}.")


def flatten_score_fn(score_fn: ScoreFn, x: jax.Array) -> tuple[ScoreFn, jax.Array]:
    """Views ``score_fn`` on (batch, ...) data as a function of flat (batch, D) data.

    Raises ValueError if x has no data axis or the score's shape differs from x's.
    """
    check_score_shape(jax.eval_shape(score_fn, x), x)
    flat_fn = lambda x_flat: score_fn(x_flat.reshape(x.shape)).reshape(x_flat.shape)
    return flat_fn, x.reshape(x.shape[0], -1)


def sample_probes(key: jax.Array, shape: tuple[int, ...], probe: str, dtype=jnp.float32):
    """Random probes v over the last axis with E[v v^T] = I.

    'rademacher': entries +-1; 'gaussian': v ~ N(0, I); 'sphere': uniform on the sphere of
    radius sqrt(D) (a unit-sphere draw times sqrt(D), since E[u u^T] = I / D on the unit sphere).

    Args:
      key: PRNG key.
      shape: (..., D).
      probe: 'rademacher', 'gaussian' or 'sphere'.
      dtype: float dtype of the probes.

    Example:
      >>> from gendiff.score import sample_probes
      >>> sorted(set(sample_probes(key, (100, 3), "rademacher").ravel().tolist()))
      [-1.0, 1.0]
      >>> v = sample_probes(key, (20000, 3), "sphere")
      >>> bool(jnp.allclose(jnp.linalg.norm(v, axis=-1), 3**0.5))  # radius sqrt(D)
      True
      >>> bool(jnp.allclose(v.T @ v / 20000, jnp.eye(3), atol=0.05))  # E[v v^T] = I
      True
    """
    if probe not in PROBES:
        raise ValueError(f"Unknown probe type {probe!r}; expected one of {PROBES}.")
    if probe == "rademacher":
        return jax.random.rademacher(key, shape, dtype)
    v = jax.random.normal(key, shape, dtype)
    if probe == "gaussian":
        return v
    dim = shape[-1]
    return jnp.sqrt(dim) * v / jnp.linalg.norm(v, axis=-1, keepdims=True)


def score_and_quadratic_forms(
    score_fn: ScoreFn, x: jax.Array, probes: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """s(x) and v^T J v for each probe v, by one linearisation and a vmapped jvp.

    Args:
      score_fn: flat score function (batch, D) -> (batch, D).
      x: (batch, D).
      probes: (P, batch, D).

    Returns:
      s (batch, D) and v^T J v of shape (P, batch).
    """
    s, jvp_fn = jax.linearize(score_fn, x)
    jv = jax.vmap(jvp_fn)(probes)  # (P, batch, D): J v per probe and example
    return s, jnp.sum(probes * jv, axis=-1)


def exact_divergence(score_fn: ScoreFn, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """s(x) and tr(J) = sum_i e_i^T J e_i from D forward-mode passes, for small D.

    The same jvps as ``vmap(jacfwd)`` over examples, keeping only the Jacobian diagonal.

    Args:
      score_fn: flat score function (batch, D) -> (batch, D).
      x: (batch, D).

    Returns:
      s (batch, D) and the divergence, (batch,).

    Example:
      >>> s, div = exact_divergence(lambda x: -2.0 * x, jnp.ones((4, 3)))  # div = -6
    """
    batch, dim = x.shape
    basis = jnp.broadcast_to(jnp.eye(dim, dtype=x.dtype)[:, None, :], (dim, batch, dim))
    s, forms = score_and_quadratic_forms(score_fn, x, basis)
    return s, jnp.sum(forms, axis=0)


def hutchinson_divergence(
    key: jax.Array,
    score_fn: ScoreFn,
    x: jax.Array,
    *,
    num_probes: int = 1,
    probe: str = "rademacher",
) -> tuple[jax.Array, jax.Array]:
    """s(x) and Hutchinson's unbiased estimate tr(J) ~= (1/P) sum_p v_p^T J v_p.

    Unbiased because E[v^T J v] = tr(J E[v v^T]) = tr(J) for probes with E[v v^T] = I.

    Args:
      key: PRNG key of the probes.
      score_fn: flat score function (batch, D) -> (batch, D).
      x: (batch, D).
      num_probes: P, probes per example.
      probe: 'rademacher', 'gaussian' or 'sphere' (see :func:`sample_probes`).

    Returns:
      s (batch, D) and the estimate, (batch,).

    Example:
      >>> from gendiff.score import hutchinson_divergence
      >>> A = jnp.array([[1.0, 2.0], [-3.0, 4.0]])  # s(x) = A x, div s = tr A = 5
      >>> score_fn, x = (lambda x: x @ A.T), jnp.ones((3, 2))
      >>> _, div = hutchinson_divergence(key, score_fn, x)  # one probe: tr A + (a12 + a21) v1 v2
      >>> bool(jnp.all((div == 4.0) | (div == 6.0)))
      True
      >>> _, div = hutchinson_divergence(key, score_fn, x, num_probes=4000)
      >>> round(float(div.mean()), 1)
      5.0
    """
    if num_probes < 1:
        raise ValueError(f"num_probes must be >= 1, got {num_probes}.")
    probes = sample_probes(key, (num_probes,) + x.shape, probe, x.dtype)
    s, forms = score_and_quadratic_forms(score_fn, x, probes)
    return s, jnp.mean(forms, axis=0)
