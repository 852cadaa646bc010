"""PacGAN packing: the discriminator judges m samples at once (Lin et al. 2018).

m consecutive samples of a batch are concatenated along the channel (last) axis, so a
discriminator built for one sample with C channels sees one packed sample with m C channels:
(batch, ..., C) -> (batch / m, ..., m C). Real and fake batches are packed separately, so each
packed input is all real or all fake.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def pack(x, m: int) -> jax.Array:
    """Concatenates groups of m consecutive samples along the channel axis.

    Args:
      x: a batch (batch, ..., channels); batch must be a multiple of m. For vectors
        (batch, dim) the result is (batch / m, m dim).
      m: the packing degree (a Python int >= 1); m = 1 returns x unchanged.

    Returns:
      (batch / m, ..., m * channels), where packed[j, ..., k C:(k + 1) C] = x[j m + k].

    References:
      Lin, Khetan, Fanti & Oh, "PacGAN: The power of two samples in generative adversarial
      networks", NeurIPS 2018.

    Example:
      >>> pack(jnp.arange(8.0).reshape(4, 2), 2).tolist()
      [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]
    """
    x = jnp.asarray(x)
    if isinstance(m, bool) or int(m) != m or m < 1:
        raise ValueError(f"m must be a positive int, got {m!r}.")
    m = int(m)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (batch, ..., channels), got shape {x.shape}.")
    batch = x.shape[0]
    if batch % m:
        raise ValueError(f"the batch size {batch} must be a multiple of m = {m}.")
    grouped = x.reshape((batch // m, m) + x.shape[1:])
    # Move the group axis next to the channels, then merge: (b/m, ..., m, C) -> (b/m, ..., m C).
    grouped = jnp.moveaxis(grouped, 1, -2)
    return grouped.reshape(grouped.shape[:-2] + (m * x.shape[-1],))


def unpack(packed, m: int) -> jax.Array:
    """The inverse of :func:`pack`: splits the channel axis back into m samples.

    Args:
      packed: (batch / m, ..., m * channels), as :func:`pack` returns.
      m: the packing degree (a Python int >= 1).

    Returns:
      (batch, ..., channels), with ``unpack(pack(x, m), m) == x``.

    Example:
      >>> x = jnp.arange(12.0).reshape(6, 2)
      >>> bool(jnp.all(unpack(pack(x, 3), 3) == x))
      True
    """
    packed = jnp.asarray(packed)
    if isinstance(m, bool) or int(m) != m or m < 1:
        raise ValueError(f"m must be a positive int, got {m!r}.")
    m = int(m)
    if packed.ndim < 2:
        raise ValueError(
            f"packed must have shape (batch, ..., channels), got shape {packed.shape}."
        )
    if packed.shape[-1] % m:
        raise ValueError(f"the channel axis {packed.shape[-1]} must be a multiple of m = {m}.")
    grouped = packed.reshape(packed.shape[:-1] + (m, packed.shape[-1] // m))
    # (b/m, ..., m, C) -> (b/m, m, ..., C) -> (b, ..., C)
    grouped = jnp.moveaxis(grouped, -2, 1)
    return grouped.reshape((packed.shape[0] * m,) + grouped.shape[2:])
