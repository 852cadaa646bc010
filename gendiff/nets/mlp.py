"""Time-conditioned residual MLP denoiser for vector data (e.g. 2-D toy distributions)."""

from __future__ import annotations

import flax.linen as nn
import jax

from gendiff.nets.embeddings import LabelEmbedding, TimeEmbedding, check_labels, check_time

__all__ = ["MLPDenoiser"]


class _ResidualBlock(nn.Module):
    """``h + Dense(dropout(SiLU(Dense(LayerNorm(h)) + Dense(SiLU(emb)))))``."""

    width: int
    dropout: float

    @nn.compact
    def __call__(self, h: jax.Array, emb: jax.Array, train: bool) -> jax.Array:
        r = nn.Dense(self.width)(nn.LayerNorm()(h))
        r = r + nn.Dense(self.width)(nn.silu(emb))  # conditioning shift of the hidden units
        r = nn.Dropout(self.dropout)(nn.silu(r), deterministic=not train)
        return h + nn.Dense(self.width)(r)


class MLPDenoiser(nn.Module):
    """Residual MLP ``f(x, t[, y])`` with output of the same shape as ``x``.

    Layout: ``Dense(hidden)(x)`` -> ``depth`` residual blocks, each receiving the (time [+ label])
    embedding as an additive shift -> LayerNorm -> SiLU -> zero-initialised ``Dense(D)``.

    Attributes:
      hidden: width of the hidden layers.
      depth: number of residual blocks.
      num_classes: if set, adds a label embedding with ``num_classes + 1`` rows (the last is the
        null label used when ``y`` is None).
      time_scale: multiplier applied to t in [0, 1] before the sinusoidal embedding.
      emb_dim: width of the sinusoidal time features.
      dropout: dropout rate inside the blocks (active only with ``train=True``; uses the
        'dropout' rng).

    Example:
      >>> net = MLPDenoiser(hidden=32, depth=2)
      >>> x, t = jnp.zeros((4, 2)), jnp.full((4,), 0.5)
      >>> params = net.init(jax.random.key(0), x, t)
      >>> net.apply(params, x, t).shape
      (4, 2)
    """

    hidden: int = 128
    depth: int = 3
    num_classes: int | None = None
    time_scale: float = 1000.0
    emb_dim: int = 64
    dropout: float = 0.0

    @nn.compact
    def __call__(
        self, x: jax.Array, t: jax.Array, y: jax.Array | None = None, *, train: bool = False
    ) -> jax.Array:
        """Args: x (B, ...) data, flattened to (B, D) inside; t (B,) time in [0, 1]; y (B,) int
        labels or None; train flag.

        Returns: network output of x's shape and dtype.
        """
        if getattr(x, "ndim", 0) < 2:
            shape = getattr(x, "shape", None)
            raise ValueError(f"MLPDenoiser expects x of shape (batch, ...), got shape {shape}")
        shape = x.shape
        x = x.reshape(shape[0], -1)
        batch, dim = x.shape
        check_time(t, batch)
        check_labels(y, batch, self.num_classes)

        emb = TimeEmbedding(self.hidden, self.emb_dim, self.time_scale)(t)
        if self.num_classes is not None:
            emb = emb + LabelEmbedding(self.num_classes, self.hidden)(y, batch)

        h = nn.Dense(self.hidden)(x)
        for _ in range(self.depth):
            h = _ResidualBlock(self.hidden, self.dropout)(h, emb, train)
        h = nn.silu(nn.LayerNorm()(h))
        out = nn.Dense(dim, kernel_init=nn.initializers.zeros)(h)
        return out.astype(x.dtype).reshape(shape)
