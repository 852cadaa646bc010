"""A time-conditioned image classifier p(y | x_t, t) for noisy inputs (classifier guidance)."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax

from gendiff.nets.embeddings import TimeEmbedding, check_time


class NoisyImageClassifier(nn.Module):
    """Convolutional classifier of noisy images x_t that also sees the diffusion time t.

    Layers: the time embedding e = TimeEmbedding(t) (sinusoidal features, two Dense layers);
    per entry of ``channels`` a 3x3 convolution (stride 1 first, then stride 2, each halving H
    and W) whose output gets Dense(SiLU(e)) added per channel before GroupNorm and SiLU; flatten;
    a Dense layer of width ``feature_dim`` plus Dense(SiLU(e)), SiLU; dropout (training only);
    a Dense layer to ``num_classes`` logits. Knowing t lets it sharpen or flatten its
    posterior with the noise level, which is what classifier guidance needs.

    Attributes:
      num_classes: number of classes.
      channels: convolution widths.
      feature_dim: width of the last hidden layer.
      time_dim: width of the time embedding.
      dropout_rate: dropout on the last hidden layer when train=True.
      time_scale: multiplier of t in [0, 1] before the sinusoidal embedding.

    Example:
      >>> net = NoisyImageClassifier(num_classes=10)
      >>> x, t = jnp.zeros((4, 8, 8, 1)), jnp.full((4,), 0.5)
      >>> params = jax.jit(net.init)(jax.random.key(0), x, t)  # jit: one compilation, not op by op
      >>> jax.jit(net.apply)(params, x, t).shape
      (4, 10)
    """

    num_classes: int = 10
    channels: Sequence[int] = (32, 64)
    feature_dim: int = 128
    time_dim: int = 64
    dropout_rate: float = 0.1
    time_scale: float = 1000.0

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array, *, train: bool = False) -> jax.Array:
        """Logits (batch, num_classes) of images x (batch, H, W, C) at times t (batch,)."""
        if x.ndim != 4:
            raise ValueError(f"x must have shape (batch, H, W, C), got shape {x.shape}.")
        check_time(t, x.shape[0])
        emb = nn.silu(TimeEmbedding(self.time_dim, self.time_dim, self.time_scale)(t))
        h = x
        for i, width in enumerate(self.channels):
            stride = 1 if i == 0 else 2
            h = nn.Conv(width, (3, 3), strides=(stride, stride))(h)
            h = h + nn.Dense(width)(emb)[:, None, None, :]
            h = nn.silu(nn.GroupNorm(num_groups=min(8, width))(h))
        h = nn.Dense(self.feature_dim)(h.reshape(h.shape[0], -1)) + nn.Dense(self.feature_dim)(emb)
        h = nn.Dropout(self.dropout_rate, deterministic=not train)(nn.silu(h))
        return nn.Dense(self.num_classes)(h)
