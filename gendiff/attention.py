"""Scaled dot-product attention (Vaswani et al. 2017), channels-last.

Layout: queries q (batch, Lq, heads, dk), keys k (batch, Lk, heads, dk), values
v (batch, Lk, heads, dv): the sequence axis stays second and the feature axes last, like every
other (batch, length, ...) array in the library. For each batch element and head

    weights[i, j] = softmax_j(q_i . k_j / sqrt(dk))   over the keys j with mask[i, j] = True,
    out[i]        = sum_j weights[i, j] v_j.

A boolean mask broadcastable to (batch, heads, Lq, Lk) marks the pairs that may attend (True).
A query row with no allowed key gets all-zero weights, hence a zero output (never NaN).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["attention_weights", "scaled_dot_product_attention", "causal_mask", "padding_mask"]


def _check_qk(q: jax.Array, k: jax.Array) -> None:
    if q.ndim != 4 or k.ndim != 4:
        raise ValueError(
            f"q and k must have shape (batch, length, heads, dk), got {q.shape} and {k.shape}"
        )
    if q.shape[0] != k.shape[0] or q.shape[2:] != k.shape[2:]:
        raise ValueError(
            f"q (batch, Lq, heads, dk) and k (batch, Lk, heads, dk) must agree on batch, heads "
            f"and dk, got {q.shape} and {k.shape}"
        )


def attention_weights(q: jax.Array, k: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """The attention matrix softmax(q k^T / sqrt(dk)) restricted to the allowed pairs.

    Args:
      q: queries (batch, Lq, heads, dk).
      k: keys (batch, Lk, heads, dk).
      mask: optional boolean array broadcastable to (batch, heads, Lq, Lk); True = attend.

    Returns:
      weights of shape (batch, heads, Lq, Lk), float32 or wider: each row sums to one, or is
      all zeros when the mask allows no key.

    Example:
      >>> q = k = jnp.zeros((1, 2, 1, 4))
      >>> attention_weights(q, k, causal_mask(2))[0, 0].tolist()
      [[1.0, 0.0], [0.5, 0.5]]
    """
    _check_qk(q, k)
    dtype = jnp.promote_types(jnp.result_type(q, k), jnp.float32)
    q, k = q.astype(dtype), k.astype(dtype)
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(q.shape[-1]).astype(dtype)
    if mask is None:
        return jax.nn.softmax(logits, axis=-1)
    mask = jnp.asarray(mask)
    if mask.dtype != jnp.bool_:
        raise TypeError(f"mask must be boolean (True = attend), got dtype {mask.dtype}")
    target = logits.shape
    try:
        mask = jnp.broadcast_to(mask, target)
    except ValueError:
        raise ValueError(
            f"mask of shape {mask.shape} does not broadcast to (batch, heads, Lq, Lk) = {target}"
        ) from None
    # A large finite negative logit (not -inf) keeps fully masked rows finite; they are then
    # zeroed, so such a row gives a zero output and zero gradients.
    logits = jnp.where(mask, logits, jnp.finfo(dtype).min)
    return jnp.where(mask, jax.nn.softmax(logits, axis=-1), 0.0)


def scaled_dot_product_attention(
    q: jax.Array, k: jax.Array, v: jax.Array, mask: jax.Array | None = None
) -> jax.Array:
    """out_i = sum_j softmax_j(q_i . k_j / sqrt(dk)) v_j per batch element and head.

    Args:
      q: queries (batch, Lq, heads, dk).
      k: keys (batch, Lk, heads, dk).
      v: values (batch, Lk, heads, dv).
      mask: optional boolean array broadcastable to (batch, heads, Lq, Lk); True = attend.

    Returns:
      out of shape (batch, Lq, heads, dv) in the promoted dtype of q, k, v.

    Example:
      >>> q = k = jnp.zeros((1, 3, 2, 4)); v = jnp.ones((1, 3, 2, 5))
      >>> scaled_dot_product_attention(q, k, v, causal_mask(3)).shape
      (1, 3, 2, 5)
    """
    if v.ndim != 4 or v.shape[:3] != (k.shape[0], k.shape[1], k.shape[2]):
        raise ValueError(
            f"v must have shape (batch, Lk, heads, dv) matching k {k.shape}, got {v.shape}"
        )
    weights = attention_weights(q, k, mask)
    out = jnp.einsum("bhqk,bkhd->bqhd", weights, v.astype(weights.dtype))
    return out.astype(jnp.result_type(q, k, v))


def causal_mask(length: int) -> jax.Array:
    """Boolean (1, 1, L, L) mask with mask[..., i, j] = (j <= i): query i sees keys 0..i.

    Example:
      >>> causal_mask(2)[0, 0].tolist()
      [[True, False], [True, True]]
    """
    if int(length) < 1:
        raise ValueError(f"causal_mask needs a positive length, got {length}")
    return jnp.tril(jnp.ones((length, length), jnp.bool_))[None, None]


def padding_mask(lengths: jax.Array, length: int) -> jax.Array:
    """Boolean (batch, 1, 1, L) mask hiding the keys at positions >= lengths[b].

    Args:
      lengths: valid lengths (batch,), integers in [0, L].
      length: padded sequence length L.

    Returns:
      mask with mask[b, 0, 0, j] = (j < lengths[b]); combine with a causal mask by ``&``.

    Example:
      >>> padding_mask(jnp.array([1, 2]), 3)[:, 0, 0].tolist()
      [[True, False, False], [True, True, False]]
    """
    lengths = jnp.asarray(lengths)
    if lengths.ndim != 1 or not jnp.issubdtype(lengths.dtype, jnp.integer):
        raise ValueError(
            f"lengths must be an integer array of shape (batch,), got {lengths.dtype} "
            f"{lengths.shape}"
        )
    return (jnp.arange(length)[None, :] < lengths[:, None])[:, None, None, :]
