"""An autoregressive prior over VQ-VAE codes: a small causal transformer over the code grid.

The (h, w) grid of code indices is read in raster order as a sequence c_1..c_L (L = h w), and

    p(c) = prod_i p(c_i | c_<i),

with the logits of position i computed from a start token and c_1..c_{i-1} (inputs shifted right
by one), learned code embeddings plus fixed sinusoidal positions, pre-LN
:class:`~gendiff.nets.transformer.TransformerBlock` s under a causal mask
(:func:`gendiff.attention.causal_mask`), and a final LayerNorm and Dense(K). Train it with
the cross-entropy of the codes of the training images; sample with :func:`sample_codes`, one
compiled ``lax.scan`` over the L positions.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gendiff.attention import causal_mask
from gendiff.nets.transformer import TransformerBlock, positional_encoding

__all__ = ["CodePrior", "sample_codes"]


class CodePrior(nn.Module):
    """Causal transformer p(c_i | c_<i) over sequences of ``length`` codes out of ``num_codes``.

    Attributes:
      num_codes: K.
      length: L, the number of positions (h * w of the code grid).
      features: the model width.
      depth: number of transformer blocks.
      num_heads: attention heads.
      dropout: dropout in the blocks (with ``train=True``; 'dropout' rng).

    Example:
      >>> prior = CodePrior(num_codes=8, length=5, features=16, depth=1, num_heads=2)
      >>> codes = jnp.zeros((3, 5), jnp.int32)
      >>> params = prior.init(jax.random.key(0), codes)
      >>> prior.apply(params, codes).shape
      (3, 5, 8)
    """

    num_codes: int
    length: int
    features: int = 64
    depth: int = 2
    num_heads: int = 4
    dropout: float = 0.0

    @nn.compact
    def __call__(self, codes: jax.Array, *, train: bool = False) -> jax.Array:
        """Args: codes (batch, L) int in [0, K). Returns logits (batch, L, K); position i depends
        only on codes[:, :i]."""
        if codes.ndim != 2 or codes.shape[1] != self.length:
            raise ValueError(
                f"CodePrior expects codes of shape (batch, {self.length}), got {codes.shape}."
            )
        if not jnp.issubdtype(codes.dtype, jnp.integer):
            raise ValueError(f"CodePrior expects integer codes, got dtype {codes.dtype}.")
        batch = codes.shape[0]
        embed = nn.Embed(self.num_codes, self.features)(codes[:, :-1])
        start = self.param("start", nn.initializers.normal(0.02), (1, 1, self.features))
        h = jnp.concatenate([jnp.broadcast_to(start, (batch, 1, self.features)), embed], axis=1)
        h = h + positional_encoding(self.length, self.features)[None]
        mask = causal_mask(self.length)
        for _ in range(self.depth):
            h = TransformerBlock(self.num_heads, dropout=self.dropout)(h, mask, train=train)
        return nn.Dense(self.num_codes)(nn.LayerNorm()(h))


def sample_codes(
    prior: CodePrior, params, key: jax.Array, num: int, *, temperature: float = 1.0
) -> jax.Array:
    """Draws ``num`` code sequences from the prior, position by position in one ``lax.scan``.

    Step i runs the network on the codes drawn so far (later positions hold zeros, which the
    causal mask keeps from position i) and samples c_i from softmax(logits_i / temperature).

    Args:
      prior: the :class:`CodePrior`.
      params: its parameters.
      key: PRNG key; position i uses ``fold_in(key, i)``.
      num: number of sequences.
      temperature: > 0; 1 samples the model.

    Returns:
      int32 codes of shape (num, L).

    Example:
      >>> prior = CodePrior(num_codes=8, length=4, features=16, depth=1, num_heads=2)
      >>> params = prior.init(jax.random.key(0), jnp.zeros((1, 4), jnp.int32))
      >>> sample_codes(prior, params, jax.random.key(1), 3).shape
      (3, 4)
    """
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}.")

    def step(codes, i):
        logits = prior.apply(params, codes)[:, i] / temperature
        c = jax.random.categorical(jax.random.fold_in(key, i), logits).astype(jnp.int32)
        return codes.at[:, i].set(c), None

    codes, _ = jax.lax.scan(
        step, jnp.zeros((num, prior.length), jnp.int32), jnp.arange(prior.length)
    )
    return codes
