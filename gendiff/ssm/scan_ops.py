"""Array helpers shared by the selective scan methods (channels grouped as g(c) = c // (d / g))."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def spread(v: jax.Array, X: jax.Array) -> jax.Array:
    """out[..., c, n] = v[..., c] X[..., g(c), n]: (..., d) and (..., g, n) -> (..., d, n)."""
    groups, n = X.shape[-2:]
    d = v.shape[-1]
    v = v.reshape(*v.shape[:-1], groups, d // groups, 1)
    return (v * X[..., :, None, :]).reshape(*v.shape[:-3], d, n)


def readout(h: jax.Array, X: jax.Array) -> jax.Array:
    """out[..., c] = sum_n X[..., g(c), n] h[..., c, n]: (..., d, n) -> (..., d)."""
    groups = X.shape[-2]
    d, n = h.shape[-2:]
    h = h.reshape(*h.shape[:-2], groups, d // groups, n)
    return jnp.einsum("...ghn,...gn->...gh", h, X).reshape(*h.shape[:-3], d)


def group_sum(H: jax.Array, groups: int) -> jax.Array:
    """out[..., g, n] = sum over the channels c of group g of H[..., c, n]: -> (..., g, n)."""
    d, n = H.shape[-2:]
    return H.reshape(*H.shape[:-2], groups, d // groups, n).sum(axis=-2)


def to_chunks(x: jax.Array, T: int) -> jax.Array:
    """(batch, length, ...) -> (num_chunks, T, batch, ...), zero-padding the last chunk."""
    batch, length = x.shape[:2]
    num_chunks = -(-length // T)
    x = jnp.pad(x, [(0, 0), (0, num_chunks * T - length)] + [(0, 0)] * (x.ndim - 2))
    x = x.reshape(batch, num_chunks, T, *x.shape[2:])
    return jnp.moveaxis(x, 0, 2)


def from_chunks(x: jax.Array, length: int) -> jax.Array:
    """(num_chunks, T, batch, ...) -> (batch, length, ...), dropping the padding."""
    num_chunks, T, batch = x.shape[:3]
    x = jnp.moveaxis(x, 2, 0).reshape(batch, num_chunks * T, *x.shape[3:])
    return x[:, :length]
