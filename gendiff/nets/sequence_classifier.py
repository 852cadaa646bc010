"""A sequence classifier: Mamba, S4D or transformer blocks, pooled, then a linear head."""

from __future__ import annotations

import flax.linen as nn
import jax

from gendiff.nets.mamba import MambaBlock
from gendiff.nets.s4 import S4DLayer
from gendiff.nets.transformer import TransformerBlock, positional_encoding

MIXERS = ("mamba", "s4", "transformer")
POOLINGS = ("mean", "last")


class SequenceClassifier(nn.Module):
    """Sequence of feature vectors -> class logits.

    x (batch, length, features) -> Dense(d_model) (+ sinusoidal positions for the transformer)
    -> num_layers residual blocks -> RMSNorm -> mean or last position -> Dense(num_classes).
    The Mamba and S4D blocks are used as x + block(RMSNorm(x)); the transformer block holds its
    own pre-LN residuals and attends over the whole sequence.

    Attributes:
      mixer: 'mamba', 's4' or 'transformer'.
      num_classes: number of classes.
      d_model: residual width.
      num_layers: number of blocks.
      d_state: SSM state size (Mamba, S4D).
      d_conv, expand: Mamba's convolution width and inner expansion.
      lambda_init, discretization: S4D's initialisation and discretisation.
      num_heads: transformer attention heads.
      pooling: 'mean' over positions or the 'last' position.

    Example:
      >>> import jax.numpy as jnp
      >>> clf = SequenceClassifier("s4", num_classes=10, d_model=8, num_layers=1, d_state=4)
      >>> x = jnp.zeros((2, 64, 1))
      >>> params = jax.jit(clf.init)(jax.random.key(0), x)  # jit: one compilation, not op by op
      >>> jax.jit(clf.apply)(params, x).shape
      (2, 10)
    """

    mixer: str
    num_classes: int
    d_model: int = 32
    num_layers: int = 2
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    lambda_init: str = "lin"
    discretization: str = "zoh"
    num_heads: int = 4
    pooling: str = "mean"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim != 3:
            raise ValueError(f"x must have shape (batch, length, features), got {x.shape}")
        if self.mixer not in MIXERS:
            raise ValueError(f"Unknown mixer {self.mixer!r}; expected one of {MIXERS}.")
        if self.pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {self.pooling!r}; expected one of {POOLINGS}.")
        h = nn.Dense(self.d_model, name="encoder")(x)
        if self.mixer == "transformer":
            h = h + positional_encoding(x.shape[1], self.d_model)
        for i in range(self.num_layers):
            if self.mixer == "transformer":
                h = TransformerBlock(self.num_heads, name=f"block_{i}")(h)
                continue
            if self.mixer == "mamba":
                block = MambaBlock(self.d_state, self.d_conv, self.expand, name=f"block_{i}")
            else:
                block = S4DLayer(
                    self.d_state, self.lambda_init, self.discretization, name=f"block_{i}"
                )
            h = h + block(nn.RMSNorm(name=f"norm_{i}")(h))
        h = nn.RMSNorm(name="norm_f")(h)
        h = h.mean(axis=1) if self.pooling == "mean" else h[:, -1]
        return nn.Dense(self.num_classes, name="head")(h)
