"""Conditioning embeddings shared by the denoisers: diffusion time and class labels.

The sinusoidal embedding follows Vaswani et al. (2017) as used by Ho et al. (2020): for
``half = dim // 2`` frequencies

    w_k = max_period ** (-k / (half - 1)),   k = 0, ..., half - 1,
    emb(t) = [sin(t w_0), ..., sin(t w_{half-1}), cos(t w_0), ..., cos(t w_{half-1})],

so the fastest frequency is 1 and the slowest is exactly ``1 / max_period``. An odd ``dim`` gets
one trailing zero column.

Networks receive continuous time ``t`` in [0, 1] and multiply it by ``time_scale`` (default 1000)
before embedding, so ``t = i / T`` reproduces the embedding of the integer DDPM step ``i`` when
``T = 1000``.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "sinusoidal_embedding",
    "TimeEmbedding",
    "LabelEmbedding",
    "check_time",
    "check_labels",
]


def sinusoidal_embedding(t: jax.Array, dim: int, max_period: float = 10000.0) -> jax.Array:
    """Sinusoidal embedding of scalar positions/times.

    Args:
      t: positions of shape (B,), any real values (e.g. DDPM step indices).
      dim: embedding width, at least 2. Odd widths are zero-padded by one column.
      max_period: the slowest wavelength, ``2 pi max_period``.

    Returns:
      float32 array of shape (B, dim): ``[sin(t w), cos(t w)]`` with
      ``w_k = max_period ** (-k / (dim // 2 - 1))``.

    Example:
      >>> sinusoidal_embedding(jnp.array([0.0, 10.0]), 8).shape
      (2, 8)
    """
    if dim < 2:
        raise ValueError(f"sinusoidal_embedding needs dim >= 2, got dim={dim}")
    t = jnp.asarray(t, jnp.float32)
    if t.ndim != 1:
        raise ValueError(f"sinusoidal_embedding expects t of shape (B,), got shape {t.shape}")
    half = dim // 2
    # w_k = exp(-log(max_period) * k / (half - 1)); a single frequency is w_0 = 1.
    exponent = jnp.arange(half, dtype=jnp.float32) / max(half - 1, 1)
    freqs = jnp.exp(-math.log(max_period) * exponent)
    angles = t[:, None] * freqs[None, :]  # (B, half)
    emb = jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)
    if dim % 2 == 1:
        emb = jnp.pad(emb, ((0, 0), (0, 1)))
    return emb


class TimeEmbedding(nn.Module):
    """Learned time embedding: ``Dense(features)(SiLU(Dense(features)(sinusoidal(scale * t))))``.

    Attributes:
      features: output width (4 * ch in the DDPM U-Net).
      sinusoidal_dim: width of the fixed sinusoidal features (ch in the DDPM U-Net).
      time_scale: multiplier applied to the continuous time t in [0, 1] before embedding.
      dtype: computation dtype of the Dense layers (params stay float32).
      kernel_init: initializer of the Dense kernels.

    Example:
      >>> emb = TimeEmbedding(features=16, sinusoidal_dim=8)
      >>> params = emb.init(jax.random.key(0), jnp.array([0.0, 0.5]))
      >>> emb.apply(params, jnp.array([0.0, 0.5])).shape
      (2, 16)
    """

    features: int
    sinusoidal_dim: int
    time_scale: float = 1000.0
    dtype: jnp.dtype = jnp.float32
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, t: jax.Array) -> jax.Array:
        emb = sinusoidal_embedding(self.time_scale * t, self.sinusoidal_dim)
        dense = lambda name: nn.Dense(
            self.features, dtype=self.dtype, kernel_init=self.kernel_init, name=name
        )
        return dense("dense1")(nn.silu(dense("dense0")(emb)))


class LabelEmbedding(nn.Module):
    """Class-label embedding table with ``num_classes + 1`` rows.

    Row ``num_classes`` is the *null* label: it stands for "no label" and is what ``y=None``
    maps to, so a single network can be trained with label dropout and queried both
    conditionally and unconditionally (classifier-free guidance).

    Attributes:
      num_classes: number of real classes; valid labels are 0..num_classes (the last is null).
      features: embedding width.

    Example:
      >>> emb = LabelEmbedding(num_classes=10, features=4)
      >>> params = emb.init(jax.random.key(0), jnp.array([3, 10]))
      >>> emb.apply(params, None, batch=2).shape
      (2, 4)
    """

    num_classes: int
    features: int

    @nn.compact
    def __call__(self, y: jax.Array | None, batch: int | None = None) -> jax.Array:
        if y is None:
            if batch is None:
                raise ValueError("LabelEmbedding needs `batch` when y is None")
            y = jnp.full((batch,), self.num_classes, jnp.int32)
        return nn.Embed(self.num_classes + 1, self.features, name="table")(y)


def check_time(t: jax.Array, batch: int) -> None:
    """Raise ValueError unless ``t`` has shape (batch,)."""
    shape = getattr(t, "shape", None)
    if shape != (batch,):
        raise ValueError(f"t must have shape (batch,) = ({batch},), got shape {shape}")


def check_labels(y: jax.Array | None, batch: int, num_classes: int | None) -> None:
    """Validate class labels for a network with ``num_classes`` classes (None: unconditional).

    ``y`` must be None or an integer array of shape (batch,) with values in
    ``[0, num_classes]`` (``num_classes`` is the null label). The range is checked only when ``y``
    is concrete; inside ``jit`` an out-of-range label embeds to NaN instead.

    Raises:
      ValueError: labels given to an unconditional network, wrong shape, or out of range.
      TypeError: non-integer labels.
    """
    if y is None:
        return
    if num_classes is None:
        raise ValueError("labels y were given but the network was built with num_classes=None")
    shape = getattr(y, "shape", None)
    if shape != (batch,):
        raise ValueError(f"y must have shape (batch,) = ({batch},), got shape {shape}")
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise TypeError(f"y must be an integer array, got dtype {y.dtype}")
    try:
        values = np.asarray(y)
    except jax.errors.TracerArrayConversionError:
        return  # traced: range cannot be checked here
    if values.size and (values.min() < 0 or values.max() > num_classes):
        raise ValueError(
            f"y must lie in [0, {num_classes}] ({num_classes} = null label), "
            f"got values in [{values.min()}, {values.max()}]"
        )


def check_tokens(tokens: jax.Array) -> None:
    """Sequence models take integer tokens of shape (batch, length)."""
    if tokens.ndim != 2 or not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise ValueError(
            f"tokens must be integers of shape (batch, length), got {tokens.dtype} {tokens.shape}"
        )
