"""Transformer layers over :mod:`gendiff.attention`: multi-head attention and a pre-LN block.

Arrays are channels-last, x of shape (batch, length, features). Multi-head attention projects
x to per-head queries, keys and values, Q = x W_q, K = x W_k, V = x W_v (each reshaped to
(batch, length, heads, head_dim)), attends, and mixes the heads with W_o. The block is the
pre-LayerNorm form

    x <- x + Dropout(MHA(LN(x)))
    x <- x + Dropout(MLP(LN(x))),   MLP = Dense(features) . GELU . Dense(mlp_ratio features).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from gendiff.attention import scaled_dot_product_attention
from gendiff.nets.embeddings import sinusoidal_embedding

__all__ = ["MultiHeadAttention", "TransformerBlock", "positional_encoding"]


def positional_encoding(length: int, features: int) -> jax.Array:
    """Fixed sinusoidal position features (length, features) of positions 0..length-1.

    Example:
      >>> positional_encoding(5, 8).shape
      (5, 8)
    """
    return sinusoidal_embedding(jnp.arange(length, dtype=jnp.float32), features)


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention with learned W_q, W_k, W_v, W_o.

    Attributes:
      num_heads: number of heads.
      head_dim: width of each head's queries, keys and values (default features // num_heads).

    Example:
      >>> from gendiff.attention import causal_mask
      >>> mha = MultiHeadAttention(num_heads=2)
      >>> x = jnp.zeros((1, 4, 8))
      >>> params = jax.jit(mha.init)(jax.random.key(0), x)  # jit: one compilation, not op by op
      >>> jax.jit(mha.apply)(params, x, mask=causal_mask(4)).shape
      (1, 4, 8)
    """

    num_heads: int
    head_dim: int | None = None

    @nn.compact
    def __call__(
        self, x: jax.Array, context: jax.Array | None = None, mask: jax.Array | None = None
    ) -> jax.Array:
        """Args: x (batch, Lq, features) queries' source; context (batch, Lk, c) keys' and
        values' source (default x: self-attention); mask boolean, broadcastable to
        (batch, heads, Lq, Lk), True = attend.

        Returns: (batch, Lq, features).
        """
        if x.ndim != 3:
            raise ValueError(f"x must have shape (batch, length, features), got {x.shape}")
        features = x.shape[-1]
        head_dim = self.head_dim or features // self.num_heads
        if head_dim < 1:
            raise ValueError(f"features={features} is smaller than num_heads={self.num_heads}")
        context = x if context is None else context
        proj = lambda name: nn.DenseGeneral((self.num_heads, head_dim), name=name)
        q, k, v = proj("query")(x), proj("key")(context), proj("value")(context)
        out = scaled_dot_product_attention(q, k, v, mask)  # (batch, Lq, heads, head_dim)
        return nn.DenseGeneral(features, axis=(-2, -1), name="out")(out)


class TransformerBlock(nn.Module):
    """Pre-LayerNorm transformer block: attention and MLP sublayers with residuals and dropout.

    Attributes:
      num_heads: attention heads.
      mlp_ratio: hidden width of the MLP as a multiple of the input width.
      dropout: dropout rate after each sublayer (active with ``train=True``; 'dropout' rng).

    Example:
      >>> block = TransformerBlock(num_heads=2)
      >>> x = jnp.zeros((2, 5, 8))
      >>> params = jax.jit(block.init)(jax.random.key(0), x)  # jit: one compilation, not op by op
      >>> jax.jit(block.apply)(params, x).shape
      (2, 5, 8)
    """

    num_heads: int
    mlp_ratio: int = 4
    dropout: float = 0.0

    @nn.compact
    def __call__(
        self, x: jax.Array, mask: jax.Array | None = None, *, train: bool = False
    ) -> jax.Array:
        features = x.shape[-1]
        drop = lambda h: nn.Dropout(self.dropout)(h, deterministic=not train)
        x = x + drop(MultiHeadAttention(self.num_heads)(nn.LayerNorm()(x), mask=mask))
        h = nn.gelu(nn.Dense(self.mlp_ratio * features)(nn.LayerNorm()(x)))
        return x + drop(nn.Dense(features)(h))
