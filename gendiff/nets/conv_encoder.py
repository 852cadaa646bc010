"""A small convolutional encoder with the token interface of :class:`~gendiff.nets.ViTEncoder`.

:class:`ConvTokenEncoder` maps a (B, H, W, C) image to one token per p x p patch, (B, L, width)
in raster order, like the ViT, so every self-supervised method (SimCLR, MAE, JEPA) and the
probe (:func:`~gendiff.nets.mean_pool` of the tokens) use either encoder unchanged. Layers: a
3x3 convolution at full resolution, log2(p) stride-2 3x3 convolutions (each doubles the
channels and halves the sides, down to the patch grid), ``depth`` 3x3 convolutions on the
grid, a per-token dense layer to ``width`` and a LayerNorm; GELU after every convolution.

Given a subset of the patches with their positions (MAE's visible patches, JEPA's context),
the encoder sees an image in which the other patches are 0 and an extra input channel that is
1 on the given patches and 0 elsewhere (SimMIM's way of masking a convolutional encoder, Xie
et al. 2022), and returns the tokens at the given positions only. Unlike the ViT, the
receptive field of a token reaches its neighbours, but only through patches that were given.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from gendiff.nets.vit import _PatchGrid
from gendiff.ssl.masking import unpatchify

__all__ = ["ConvTokenEncoder"]


class ConvTokenEncoder(_PatchGrid, nn.Module):
    """Convolutions down to the patch grid; tokens (B, L, width) like ViTEncoder's.

    Attributes:
      image_shape: (H, W, C) of the inputs.
      patch_size: side p of a token's patch, a power of 2 dividing H and W (2 for 8x8
        digits: a 4x4 grid; 4 for 28x28 MNIST: 7x7).
      width: token width (the embedding size).
      channels: filters of the first convolution; doubled at each stride-2 convolution.
      depth: 3x3 convolutions on the patch grid.

    Call with images (B, H, W, C): all tokens. Call with patches (B, n, p*p*C) and their
    integer ``positions`` (B, n): the tokens at those positions, computed from those
    patches only.

    The tokens are a layer norm of a linear map of the grid's K = channels * 2^s features
    (s stride-2 convolutions): after the norm's centring, each token, and so any mean of
    tokens, lies in a fixed subspace of dimension at most min(K, width - 1) (plus the norm's
    bias). A width above K + 1 adds no dimensions: pooled features of width 128 over K = 64
    channels have an effective rank of at most 64.

    Example:
      >>> enc = ConvTokenEncoder(image_shape=(8, 8, 1), patch_size=2, width=16, channels=8)
      >>> params = enc.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
      >>> enc.apply(params, jnp.zeros((3, 8, 8, 1))).shape
      (3, 16, 16)
      >>> pos = jnp.array([[0, 5, 7]])
      >>> enc.apply(params, jnp.zeros((1, 3, 4)), pos).shape
      (1, 3, 16)
    """

    image_shape: tuple[int, int, int]
    patch_size: int
    width: int = 64
    channels: int = 32
    depth: int = 1

    def _check(self) -> int:
        h, w, _ = self.image_shape
        p = int(self.patch_size)
        if p < 1 or p & (p - 1) or h % p or w % p:
            raise ValueError(
                f"patch_size must be a power of 2 dividing the image sides {h}x{w}, got {p}."
            )
        return p.bit_length() - 1

    @nn.compact
    def __call__(self, x: jax.Array, positions: jax.Array | None = None) -> jax.Array:
        num_down = self._check()
        if x.ndim == 4:
            if positions is not None:
                raise ValueError("positions are only for patch inputs (B, n, p*p*C), not images.")
            self.patchify(x)  # checks the shape
            images = x
            seen = jnp.ones((*x.shape[:3], 1), x.dtype)
        elif x.ndim == 3:
            if (
                x.shape[-1] != self.patch_dim
                or positions is None
                or positions.shape != x.shape[:2]
                or not jnp.issubdtype(positions.dtype, jnp.integer)
            ):
                raise ValueError(
                    f"patch inputs must be (B, n, {self.patch_dim}) with integer positions "
                    f"(B, n), got {x.shape} and positions "
                    f"{None if positions is None else (positions.dtype, positions.shape)}."
                )
            b, rows = x.shape[0], jnp.arange(x.shape[0])[:, None]
            full = jnp.zeros((b, self.num_patches, self.patch_dim), x.dtype)
            images = unpatchify(full.at[rows, positions].set(x), self.image_shape)
            flags = jnp.zeros((b, self.num_patches, self.patch_size**2), x.dtype)
            h, w, _ = self.image_shape
            seen = unpatchify(flags.at[rows, positions].set(1.0), (h, w, 1))
        else:
            raise ValueError(f"x must be images (B, H, W, C) or patches (B, n, D), got {x.shape}.")
        h = jnp.concatenate([images, seen], axis=-1)
        h = nn.gelu(nn.Conv(self.channels, (3, 3), name="stem")(h))
        for i in range(num_down):
            h = nn.Conv(self.channels * 2 ** (i + 1), (3, 3), strides=(2, 2), name=f"down{i}")(h)
            h = nn.gelu(h)
        for i in range(self.depth):
            h = nn.gelu(nn.Conv(h.shape[-1], (3, 3), name=f"grid{i}")(h))
        tokens = h.reshape(h.shape[0], -1, h.shape[-1])
        tokens = nn.LayerNorm(name="norm")(nn.Dense(self.width, name="token_proj")(tokens))
        if positions is not None:
            tokens = jnp.take_along_axis(tokens, positions[..., None], axis=1)
        return tokens
