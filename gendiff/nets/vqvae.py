"""VQ-VAE encoder and decoder (convolutional; 8x8 -> 4x4 and 28x28 -> 7x7 code grids).

The encoder maps images (batch, H, W, C) to z_e (batch, H / 2^n, W / 2^n, D), n the number of
stride-2 convolutions; the quantiser (:func:`gendiff.vae.quantize` with the codebook held
outside the network, e.g. an EMA codebook) turns z_e into z_q, and the decoder maps z_q back to
likelihood parameters shaped like the images (see :mod:`gendiff.nets.vae` for the heads).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp  # noqa: F401 (the examples)

from gendiff.nets.vae import _check_image, output_head

__all__ = ["VQDecoder", "VQEncoder"]


class _ResBlock(nn.Module):
    @nn.compact
    def __call__(self, h):
        r = nn.Conv(h.shape[-1], (3, 3), padding="SAME")(nn.relu(h))
        return h + nn.Conv(h.shape[-1], (1, 1))(nn.relu(r))


class VQEncoder(nn.Module):
    """Stride-2 convolutions, residual blocks and a 1x1 projection to the code dimension D.

    Attributes:
      channels: widths of the stride-2 4x4 convolutions (one halving each).
      code_dim: D, the codebook's dimension.
      num_res_blocks: residual blocks at the coarsest resolution.

    Example:
      >>> enc = VQEncoder(channels=(16,), code_dim=8)
      >>> params = enc.init(jax.random.key(0), jnp.zeros((2, 8, 8, 1)))
      >>> enc.apply(params, jnp.zeros((2, 8, 8, 1))).shape
      (2, 4, 4, 8)
    """

    channels: Sequence[int] = (32, 64)
    code_dim: int = 16
    num_res_blocks: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check_image(x, "VQEncoder")
        h = x
        for i, c in enumerate(self.channels):
            h = nn.Conv(c, (4, 4), strides=(2, 2), padding="SAME")(h)
            if i < len(self.channels) - 1:
                h = nn.relu(h)
        for _ in range(self.num_res_blocks):
            h = _ResBlock()(h)
        return nn.Conv(self.code_dim, (1, 1))(nn.relu(h))


class VQDecoder(nn.Module):
    """Mirror of :class:`VQEncoder`: residual blocks and stride-2 transposed convolutions.

    Attributes:
      channels: widths of the transposed convolutions, coarsest first (one doubling each).
      output_shape: (H, W, C) of one image.
      head: 'logits', 'mean' or 'mean_log_scale'.
      num_res_blocks: residual blocks at the coarsest resolution.

    Example:
      >>> dec = VQDecoder(channels=(16,), output_shape=(8, 8, 1), head="mean")
      >>> params = dec.init(jax.random.key(0), jnp.zeros((2, 4, 4, 8)))
      >>> dec.apply(params, jnp.zeros((2, 4, 4, 8))).shape
      (2, 8, 8, 1)
    """

    channels: Sequence[int] = (64, 32)
    output_shape: Sequence[int] = (8, 8, 1)
    head: str = "mean_log_scale"
    num_res_blocks: int = 1

    @nn.compact
    def __call__(self, z_q: jax.Array):
        _check_image(z_q, "VQDecoder")
        h = nn.Conv(self.channels[0], (3, 3), padding="SAME")(z_q)
        for _ in range(self.num_res_blocks):
            h = _ResBlock()(h)
        for c in self.channels:
            h = nn.relu(nn.ConvTranspose(c, (4, 4), strides=(2, 2), padding="SAME")(nn.relu(h)))
        if h.shape[1:3] != tuple(self.output_shape[:2]):
            raise ValueError(
                f"VQDecoder: a code grid of {z_q.shape[1:3]} upsampled {len(self.channels)} "
                f"times gives {h.shape[1:3]}, not the image size {tuple(self.output_shape[:2])}."
            )
        return output_head(h, self.head, tuple(self.output_shape), conv=True)
