"""Vision transformer encoder with patch embedding, and a predictor of masked tokens.

:class:`ViTEncoder` cuts a (B, H, W, C) image into (H/p)(W/p) patches in raster order
(:func:`gendiff.ssl.patchify`), embeds each linearly, adds a learned position embedding and
applies pre-LN :class:`~gendiff.nets.transformer.TransformerBlock` s and a final LayerNorm
(Dosovitskiy et al. 2021, without a class token: features are the mean of the tokens). It
also encodes any subset of the patches given with their positions, which is what masked
autoencoders (the visible patches only) and JEPA's context encoder need.

:class:`TokenPredictor` is the small transformer behind both MAE's decoder and JEPA's
predictor: it maps context tokens at known positions to predictions at target positions,
which enter as a learned mask token plus the target's position embedding, so the prediction
is conditioned on where the target is (I-JEPA's positional mask tokens; MAE's decoder).

Sizes for the library's images: 8x8 digits with patch 2 (a 4x4 grid of 4-pixel patches) and
28x28 MNIST with patch 7 (a 4x4 grid of 49-pixel patches) or patch 4 (7x7).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from gendiff.nets.transformer import TransformerBlock
from gendiff.ssl.masking import patchify

__all__ = ["TokenPredictor", "ViTEncoder", "mean_pool"]


def _all_positions(batch: int, length: int) -> jax.Array:
    return jnp.broadcast_to(jnp.arange(length, dtype=jnp.int32), (batch, length))


def _check_positions(positions: jax.Array, tokens: jax.Array, num_patches: int) -> None:
    if positions.shape != tokens.shape[:2] or not jnp.issubdtype(positions.dtype, jnp.integer):
        raise ValueError(
            f"positions must be integers of shape (batch, n) = {tokens.shape[:2]}, got "
            f"{positions.dtype} {positions.shape}."
        )
    del num_patches


class _PatchGrid:
    """The patch grid of an encoder with fields ``image_shape`` (H, W, C) and ``patch_size``:
    shared by :class:`ViTEncoder` and :class:`gendiff.nets.ConvTokenEncoder`."""

    @property
    def grid_shape(self) -> tuple[int, int]:
        h, w, _ = self.image_shape
        return h // self.patch_size, w // self.patch_size

    @property
    def num_patches(self) -> int:
        gh, gw = self.grid_shape
        return gh * gw

    @property
    def patch_dim(self) -> int:
        return self.patch_size * self.patch_size * self.image_shape[2]

    def patchify(self, images: jax.Array) -> jax.Array:
        """(B, H, W, C) images to (B, L, p*p*C) patches in raster order."""
        images = jnp.asarray(images)
        if images.ndim != 4 or tuple(images.shape[1:]) != tuple(self.image_shape):
            raise ValueError(
                f"images must have shape (batch, {', '.join(map(str, self.image_shape))}), got "
                f"{images.shape}."
            )
        return patchify(images, self.patch_size)


class ViTEncoder(_PatchGrid, nn.Module):
    """Patch embedding, learned positions, ``depth`` transformer blocks, final LayerNorm.

    Attributes:
      image_shape: (H, W, C) of the inputs.
      patch_size: side p of the square patches (divides H and W).
      width: token width (the embedding size).
      depth: number of transformer blocks.
      num_heads: attention heads per block.
      mlp_ratio: MLP hidden width as a multiple of ``width``.

    Call with images (B, H, W, C): all patches, tokens (B, L, width). Call with patches
    (B, n, p*p*C) and their integer ``positions`` (B, n) in [0, L): just those tokens (the
    others are not seen). Features of a whole image: :func:`mean_pool` of the first form.

    Example:
      >>> enc = ViTEncoder(image_shape=(8, 8, 1), patch_size=2, width=16, depth=1, num_heads=2)
      >>> params = enc.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
      >>> enc.apply(params, jnp.zeros((3, 8, 8, 1))).shape
      (3, 16, 16)
    """

    image_shape: tuple[int, int, int]
    patch_size: int
    width: int = 64
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: int = 4

    @nn.compact
    def __call__(self, x: jax.Array, positions: jax.Array | None = None) -> jax.Array:
        h, w, _ = self.image_shape
        if self.patch_size < 1 or h % self.patch_size or w % self.patch_size:
            raise ValueError(f"patch_size {self.patch_size} must divide the image sides {h}x{w}.")
        if x.ndim == 4:
            if positions is not None:
                raise ValueError("positions are only for patch inputs (B, n, p*p*C), not images.")
            x = self.patchify(x)
            positions = _all_positions(x.shape[0], x.shape[1])
        elif x.ndim == 3:
            if x.shape[-1] != self.patch_dim or positions is None:
                raise ValueError(
                    f"patch inputs must be (B, n, {self.patch_dim}) with positions (B, n), got "
                    f"{x.shape} and positions {None if positions is None else positions.shape}."
                )
            _check_positions(positions, x, self.num_patches)
        else:
            raise ValueError(f"x must be images (B, H, W, C) or patches (B, n, D), got {x.shape}.")
        tokens = nn.Dense(self.width, name="patch_embed")(x)
        pos = self.param("pos_embed", nn.initializers.normal(0.02), (self.num_patches, self.width))
        tokens = tokens + pos[positions]
        for i in range(self.depth):
            tokens = TransformerBlock(self.num_heads, self.mlp_ratio, name=f"block{i}")(tokens)
        return nn.LayerNorm(name="norm")(tokens)


class TokenPredictor(nn.Module):
    """Predictions at target positions from context tokens at context positions.

    Context tokens are projected to ``width`` and get the position embedding of where they
    are; each target is a learned mask token plus its position embedding; ``depth`` blocks
    attend over both; the target tokens are projected to ``out_dim``.

    Attributes:
      num_patches: L, the number of positions.
      out_dim: width of each prediction (the target embedding size for JEPA, p*p*C pixels
        for MAE's decoder).
      width: internal token width.
      depth: number of transformer blocks.
      num_heads: attention heads.

    Example:
      >>> pred = TokenPredictor(num_patches=16, out_dim=8, width=16, depth=1, num_heads=2)
      >>> z, cpos, tpos = jnp.zeros((2, 5, 32)), jnp.zeros((2, 5), int), jnp.ones((2, 3), int)
      >>> params = pred.init(jax.random.key(0), z, cpos, tpos)
      >>> pred.apply(params, z, cpos, tpos).shape
      (2, 3, 8)
    """

    num_patches: int
    out_dim: int
    width: int = 32
    depth: int = 2
    num_heads: int = 4
    mlp_ratio: int = 4

    @nn.compact
    def __call__(
        self, context: jax.Array, context_positions: jax.Array, target_positions: jax.Array
    ) -> jax.Array:
        if context.ndim != 3:
            raise ValueError(f"context must be (B, n_c, E) tokens, got {context.shape}.")
        _check_positions(context_positions, context, self.num_patches)
        if target_positions.ndim != 2 or target_positions.shape[0] != context.shape[0]:
            raise ValueError(
                f"target_positions must be (B={context.shape[0]}, n_t), got {target_positions.shape}."
            )
        pos = self.param("pos_embed", nn.initializers.normal(0.02), (self.num_patches, self.width))
        mask_token = self.param("mask_token", nn.initializers.normal(0.02), (self.width,))
        ctx = nn.Dense(self.width, name="in_proj")(context) + pos[context_positions]
        tgt = mask_token + pos[target_positions]
        tokens = jnp.concatenate([ctx, tgt], axis=1)
        for i in range(self.depth):
            tokens = TransformerBlock(self.num_heads, self.mlp_ratio, name=f"block{i}")(tokens)
        tokens = nn.LayerNorm(name="norm")(tokens[:, ctx.shape[1] :])
        return nn.Dense(self.out_dim, name="out_proj")(tokens)


def mean_pool(tokens: jax.Array) -> jax.Array:
    """(B, L, E) tokens to (B, E) features, the mean over tokens.

    Example:
      >>> mean_pool(jnp.ones((2, 3, 4))).shape
      (2, 4)
    """
    if tokens.ndim != 3:
        raise ValueError(f"tokens must be (batch, length, width), got {tokens.shape}.")
    return jnp.mean(tokens, axis=1)
