"""Small array helpers shared by the math layer."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp


def pytree_dataclass(cls):
    """Makes ``cls`` a frozen dataclass registered as a JAX pytree.

    Fields whose metadata has ``static=True`` become static (hashed, part of the
    jit cache key); every other field is a leaf, so instances pass through
    ``jit``, ``vmap`` and ``lax.scan`` unchanged.
    """
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cls)
    data = [f.name for f in fields if not f.metadata.get("static", False)]
    meta = [f.name for f in fields if f.metadata.get("static", False)]
    return jax.tree_util.register_dataclass(cls, data_fields=data, meta_fields=meta)


def static_field(**kwargs):
    """A dataclass field that is static under ``jit`` (see :func:`pytree_dataclass`)."""
    return dataclasses.field(metadata={"static": True}, **kwargs)


def right_broadcast(a: jax.Array, x: jax.Array) -> jax.Array:
    """Reshapes a per-example array ``a`` of shape (batch,) to broadcast against ``x``.

    >>> right_broadcast(jnp.ones(4), jnp.zeros((4, 8, 8, 1))).shape
    (4, 1, 1, 1)
    """
    a = jnp.asarray(a)
    return a.reshape(a.shape + (1,) * (x.ndim - a.ndim))


def mean_over_non_batch(x: jax.Array) -> jax.Array:
    """Mean over every axis but the first: (batch, ...) -> (batch,)."""
    return jnp.mean(x, axis=tuple(range(1, x.ndim)))


def sum_over_non_batch(x: jax.Array) -> jax.Array:
    """Sum over every axis but the first: (batch, ...) -> (batch,)."""
    return jnp.sum(x, axis=tuple(range(1, x.ndim)))


def as_time(t) -> jax.Array:
    """``t`` as a floating-point array, keeping its dtype when it already has one.

    Python scalars become weakly-typed floats, so they follow the dtype of whatever they meet;
    integer arrays become the default float dtype. Paths evaluate in this dtype (no forced
    float32), so float64 times give float64 coefficients when x64 is enabled.

    >>> as_time(jnp.arange(3)).dtype
    dtype('float32')
    """
    t = jnp.asarray(t)
    if jnp.issubdtype(t.dtype, jnp.floating):
        return t
    return t.astype(jnp.result_type(float))
