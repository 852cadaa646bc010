"""The DDPM U-Net of Ho et al. (2020), with optional class conditioning.

Architecture (as in the reference implementation of "Denoising Diffusion Probabilistic Models"):

    temb = Dense(4ch)(SiLU(Dense(4ch)(sinusoidal(time_scale * t, ch))))   [+ label embedding]
    h = conv_in(x)                                                         3x3, ch channels
    for level, mult in enumerate(ch_mult):                                 downsampling path
        num_res_blocks x [ResnetBlock(ch * mult) (+ AttnBlock if H in attn_resolutions)]
        strided 3x3 conv (except at the last level)
    ResnetBlock -> AttnBlock -> ResnetBlock                                middle
    for level in reversed(levels):                                         upsampling path
        (num_res_blocks + 1) x [concat skip -> ResnetBlock (+ AttnBlock)]
        nearest-neighbour x2 + 3x3 conv (except at level 0)
    out = conv_out(SiLU(GroupNorm(h)))                                     zero-initialised 3x3

ResnetBlock(x): h = conv3x3(SiLU(GN(x))); h += Dense(SiLU(temb)); h = conv3x3(dropout(SiLU(GN(h))));
return nin(x) + h, where nin is a 1x1 conv used only when the channel count changes. AttnBlock is
single-head self-attention over all H*W positions with 1x1 q/k/v/proj and a residual connection.
With ch=128, ch_mult=(1, 2, 2, 2), num_res_blocks=2, attn_resolutions=(16,) this has 35.7M
parameters, the CIFAR-10 model of the paper (Appendix B).

Mixed precision: ``dtype`` is the computation dtype of convolutions and dense layers (e.g.
``jnp.bfloat16``); parameters are always float32, GroupNorm statistics and the attention softmax
are computed in float32, and the output is returned in the dtype of ``x``.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gendiff.nets.embeddings import LabelEmbedding, TimeEmbedding, check_labels, check_time

__all__ = ["UNet", "UNET_PRESETS", "unet_config", "ResnetBlock", "AttnBlock"]

# Reference initialisation: variance_scaling(1, fan_avg, uniform) (Glorot uniform); the last
# layer of every residual branch is zero-initialised so each block starts as the identity.
_default_init = nn.initializers.variance_scaling(1.0, "fan_avg", "uniform")
_zero_init = nn.initializers.zeros


def _num_groups(channels: int, max_groups: int) -> int:
    """The largest group count <= max_groups that divides ``channels`` (32 for usual widths)."""
    groups = min(max_groups, channels)
    while channels % groups:
        groups -= 1
    return groups


class _Norm(nn.Module):
    """GroupNorm computed in float32, result cast back to ``dtype``."""

    max_groups: int
    dtype: Any

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        groups = _num_groups(x.shape[-1], self.max_groups)
        y = nn.GroupNorm(num_groups=groups, epsilon=1e-6, dtype=jnp.float32)(x.astype(jnp.float32))
        return y.astype(self.dtype)


def _conv(
    features: int,
    dtype: Any,
    kernel: int = 3,
    stride: int = 1,
    zero: bool = False,
    name: str | None = None,
) -> nn.Conv:
    return nn.Conv(
        features,
        (kernel, kernel),
        strides=(stride, stride),
        padding="SAME",
        dtype=dtype,
        kernel_init=_zero_init if zero else _default_init,
        name=name,
    )


class ResnetBlock(nn.Module):
    """Pre-activation residual block with an additive time-embedding projection.

    ``h = conv1(SiLU(GN(x))) + Dense(SiLU(temb)); h = conv2(dropout(SiLU(GN(h))))``, returning
    ``x + h`` (``x`` through a 1x1 convolution when its channel count differs from ``out_ch``).

    Attributes:
      out_ch: output channels.
      dropout: dropout rate before conv2 (only when called with ``train=True``).
      max_groups: GroupNorm group count (clamped to divide the channels).
      dtype: computation dtype.
    """

    out_ch: int
    dropout: float
    max_groups: int
    dtype: Any

    @nn.compact
    def __call__(self, x: jax.Array, temb: jax.Array, train: bool) -> jax.Array:
        norm = lambda v: nn.silu(_Norm(self.max_groups, self.dtype)(v))
        h = _conv(self.out_ch, self.dtype, name="conv1")(norm(x))
        # h += Dense(SiLU(temb)), broadcast over the spatial positions
        temb_proj = nn.Dense(
            self.out_ch, dtype=self.dtype, kernel_init=_default_init, name="temb_proj"
        )
        h = h + temb_proj(nn.silu(temb))[:, None, None, :]
        h = norm(h)
        h = nn.Dropout(self.dropout)(h, deterministic=not train)
        h = _conv(self.out_ch, self.dtype, zero=True, name="conv2")(h)
        if x.shape[-1] != self.out_ch:
            x = _conv(self.out_ch, self.dtype, kernel=1, name="nin_shortcut")(x)
        return x + h


class AttnBlock(nn.Module):
    """Single-head self-attention over the H*W positions, with a residual connection.

    ``x + proj_out(softmax(q k^T / sqrt(C)) v)`` with ``q, k, v`` 1x1 convolutions of ``GN(x)``.

    Attributes:
      max_groups: GroupNorm group count (clamped to divide the channels).
      dtype: computation dtype (the softmax runs in float32).
    """

    max_groups: int
    dtype: Any

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b, hgt, wid, c = x.shape
        h = _Norm(self.max_groups, self.dtype)(x)
        q, k, v = (
            _conv(c, self.dtype, kernel=1, name=name)(h).reshape(b, hgt * wid, c) for name in "qkv"
        )
        # w_ij = softmax_j(q_i . k_j / sqrt(C)), computed in float32
        logits = jnp.einsum("bic,bjc->bij", q, k, preferred_element_type=jnp.float32) * c**-0.5
        w = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
        h = jnp.einsum("bij,bjc->bic", w, v).reshape(b, hgt, wid, c)
        return x + _conv(c, self.dtype, kernel=1, zero=True, name="proj_out")(h)


class UNet(nn.Module):
    """DDPM U-Net ``eps(x, t[, y])`` for channels-last images; see the module docstring.

    Attributes:
      ch: base channel count.
      ch_mult: channel multiplier per resolution level; the image is halved between levels, so H
        and W must be divisible by ``2 ** (len(ch_mult) - 1)``.
      num_res_blocks: residual blocks per level on the way down (one more on the way up).
      attn_resolutions: spatial sizes (image height at that level) that get self-attention.
      dropout: dropout rate in the residual blocks (only with ``train=True``; 'dropout' rng).
      num_classes: if set, a label embedding with ``num_classes + 1`` rows is added to the time
        embedding; the last row is the null label, used when ``y`` is None.
      out_channels: output channels; defaults to the input channels.
      time_scale: multiplier applied to t in [0, 1] before the sinusoidal embedding.
      max_groups: GroupNorm group count (clamped to the largest divisor of the channel count).
      dtype: computation dtype (params stay float32; GroupNorm and softmax run in float32).

    Example:
      >>> net = UNet(ch=16, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,))
      >>> x, t = jnp.zeros((2, 8, 8, 1)), jnp.full((2,), 0.5)
      >>> params = jax.jit(net.init)(jax.random.key(0), x, t)  # jit: one compilation, not op by op
      >>> jax.jit(net.apply)(params, x, t).shape
      (2, 8, 8, 1)
    """

    ch: int = 128
    ch_mult: Sequence[int] = (1, 2, 2, 2)
    num_res_blocks: int = 2
    attn_resolutions: Sequence[int] = (16,)
    dropout: float = 0.0
    num_classes: int | None = None
    out_channels: int | None = None
    time_scale: float = 1000.0
    max_groups: int = 32
    dtype: Any = jnp.float32

    def _check_inputs(self, x: jax.Array, t: jax.Array, y: jax.Array | None) -> None:
        factor = 2 ** (len(self.ch_mult) - 1)
        shape = getattr(x, "shape", None)
        if (
            shape is None
            or len(shape) != 4
            or shape[1] % factor
            or shape[2] % factor
            or shape[1] == 0
            or shape[2] == 0
        ):
            raise ValueError(
                f"UNet expects x of shape (batch, H, W, C) (channels-last) with H and W divisible "
                f"by 2**(len(ch_mult)-1) = {factor}, got shape {shape}"
            )
        check_time(t, shape[0])
        check_labels(y, shape[0], self.num_classes)

    @nn.compact
    def __call__(
        self, x: jax.Array, t: jax.Array, y: jax.Array | None = None, *, train: bool = False
    ) -> jax.Array:
        """Args: x (B, H, W, C) images; t (B,) time in [0, 1]; y (B,) int labels or None.

        Returns: (B, H, W, out_channels) in x's dtype.
        """
        self._check_inputs(x, t, y)
        batch, _, _, in_ch = x.shape
        dt, groups = self.dtype, self.max_groups

        temb = TimeEmbedding(4 * self.ch, self.ch, self.time_scale, dt, _default_init, name="temb")(
            t
        )
        if self.num_classes is not None:
            label_emb = LabelEmbedding(self.num_classes, 4 * self.ch, name="label_emb")
            temb = temb + label_emb(y, batch).astype(dt)

        def block(h: jax.Array, out_ch: int) -> jax.Array:
            h = ResnetBlock(out_ch, self.dropout, groups, dt)(h, temb, train)
            if h.shape[1] in self.attn_resolutions:
                h = AttnBlock(groups, dt)(h)
            return h

        # Downsampling path; every intermediate activation is kept as a skip connection.
        hs = [_conv(self.ch, dt, name="conv_in")(x.astype(dt))]
        for level, mult in enumerate(self.ch_mult):
            for _ in range(self.num_res_blocks):
                hs.append(block(hs[-1], self.ch * mult))
            if level != len(self.ch_mult) - 1:
                hs.append(_conv(hs[-1].shape[-1], dt, stride=2)(hs[-1]))

        # Middle: res, attention, res.
        h = hs[-1]
        h = ResnetBlock(h.shape[-1], self.dropout, groups, dt)(h, temb, train)
        h = AttnBlock(groups, dt)(h)
        h = ResnetBlock(h.shape[-1], self.dropout, groups, dt)(h, temb, train)

        # Upsampling path: consume the skips in reverse order.
        for level in reversed(range(len(self.ch_mult))):
            for _ in range(self.num_res_blocks + 1):
                h = block(jnp.concatenate([h, hs.pop()], axis=-1), self.ch * self.ch_mult[level])
            if level != 0:
                b, hgt, wid, c = h.shape
                h = jax.image.resize(h, (b, 2 * hgt, 2 * wid, c), method="nearest")
                h = _conv(c, dt)(h)

        h = nn.silu(_Norm(groups, dt)(h))
        out = _conv(self.out_channels or in_ch, dt, zero=True, name="conv_out")(h)
        return out.astype(x.dtype)


UNET_PRESETS: dict[str, dict[str, Any]] = {
    # 8x8 single-channel digits on a CPU: 0.70M params, ~0.25 s per Adam step at batch 128 on
    # 2 CPU cores, i.e. ~600 steps in 2.5 minutes.
    "tiny": dict(
        ch=16, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,), dropout=0.0, max_groups=8
    ),
    # 28x28 MNIST: 28 -> 14 -> 7.
    "mnist": dict(ch=64, ch_mult=(1, 2, 2), num_res_blocks=2, attn_resolutions=(14,), dropout=0.1),
    # Ho et al. (2020) CIFAR-10 model, 35.7M parameters.
    "cifar10": dict(
        ch=128, ch_mult=(1, 2, 2, 2), num_res_blocks=2, attn_resolutions=(16,), dropout=0.1
    ),
}


def unet_config(name: str) -> dict[str, Any]:
    """Keyword arguments of a named U-Net preset (a fresh copy).

    Args:
      name: one of ``UNET_PRESETS`` ('tiny', 'mnist', 'cifar10').

    Returns:
      dict of ``UNet`` constructor arguments; extra ones (num_classes, dtype) can be added.

    Example:
      >>> net = UNet(**unet_config("tiny"), num_classes=10)
    """
    if name not in UNET_PRESETS:
        raise ValueError(f"unknown U-Net preset {name!r}; valid names: {sorted(UNET_PRESETS)}")
    return dict(UNET_PRESETS[name])
