"""An energy network E_phi: R^d -> R for energy-based models (smooth, so Langevin's gradient
grad_x E is continuous)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class EnergyMLP(nn.Module):
    """``depth`` x (Dense(hidden), swish), then Dense(1): one energy per example.

    Attributes:
      hidden: width of the hidden layers.
      depth: number of hidden layers (>= 1).

    Example:
      >>> net = EnergyMLP(hidden=32, depth=2)
      >>> x = jnp.zeros((5, 2))
      >>> net.apply(net.init(jax.random.key(0), x), x).shape
      (5,)
    """

    hidden: int = 128
    depth: int = 3

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """x (batch, ...) -> energies (batch,); x is flattened per example."""
        if getattr(x, "ndim", 0) < 2:
            raise ValueError(f"EnergyMLP expects x of shape (batch, ...), got {jnp.shape(x)}.")
        if self.depth < 1:
            raise ValueError(f"EnergyMLP needs depth >= 1, got {self.depth}.")
        h = x.reshape(x.shape[0], -1)
        for _ in range(self.depth):
            h = nn.swish(nn.Dense(self.hidden)(h))
        return nn.Dense(1)(h)[:, 0]
