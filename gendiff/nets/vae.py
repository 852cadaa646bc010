"""Encoders and decoders of Gaussian-latent VAEs: MLP (Burda et al.'s) and convolutional.

Encoders map x (batch, ...) to the posterior q(z | x) = N(mu, diag exp(log_var)) as a pair
``(mu, log_var)``, each (batch, latent_dim); decoders map z (batch, latent_dim) to the parameters
that a likelihood of :mod:`gendiff.vae.likelihoods` expects, chosen by ``head``:

- ``"logits"``: one array shaped like the data (``Bernoulli``);
- ``"mean"``: one array shaped like the data (``Gaussian(variance=...)``);
- ``"mean_log_scale"``: a pair ``(mean, log_scale)`` (``DiscretizedLogistic``,
  ``DiscretizedGaussian``, ``Gaussian()`` with a learned log-variance).

:class:`VAE` holds one encoder and one decoder; call its methods through ``apply``:
``vae.apply(params, x, method="encode")`` and ``vae.apply(params, z, method="decode")``.

Burda et al. (2016) use two deterministic tanh layers of 200 units and 50 latents for 28x28
binary MNIST: ``MLPEncoder((200, 200), 50)`` and ``MLPDecoder((200, 200), (28, 28, 1))``.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ["HEADS", "ConvDecoder", "ConvEncoder", "MLPDecoder", "MLPEncoder", "VAE", "output_head"]

HEADS = ("logits", "mean", "mean_log_scale")
MIN_LOG_SCALE = -7.0  # lower bound of a predicted log-scale, against collapsing scales


def _activation(name: str):
    acts = {"tanh": jnp.tanh, "relu": nn.relu, "silu": nn.silu, "elu": nn.elu}
    if name not in acts:
        raise ValueError(f"Unknown activation {name!r}; expected one of {sorted(acts)}.")
    return acts[name]


def _check_head(head: str) -> None:
    if head not in HEADS:
        raise ValueError(f"Unknown decoder head {head!r}; expected one of {HEADS}.")


def output_head(h: jax.Array, head: str, shape: Sequence[int], conv: bool = False):
    """The decoder output of ``head`` from features h, reshaped to (batch, *shape).

    Dense (``conv=False``, h of shape (batch, F)) or 3x3 convolution (``conv=True``, h of
    shape (batch, H, W, F) with H, W = shape[:2]) to one or two arrays shaped like the data.
    """
    _check_head(head)
    channels = 2 if head == "mean_log_scale" else 1
    if conv:
        out = nn.Conv(shape[-1] * channels, (3, 3), padding="SAME")(h)
    else:
        size = 1
        for s in shape:
            size *= int(s)
        out = nn.Dense(size * channels)(h)
    out = out.reshape(h.shape[0], *shape[:-1], shape[-1] * channels)
    if head != "mean_log_scale":
        return out
    mean, log_scale = jnp.split(out, 2, axis=-1)
    return mean, jnp.maximum(log_scale, MIN_LOG_SCALE)


def _check_batch_input(x, name: str, min_ndim: int = 2) -> None:
    if getattr(x, "ndim", 0) < min_ndim:
        raise ValueError(f"{name} expects an input of shape (batch, ...), got {jnp.shape(x)}.")


class MLPEncoder(nn.Module):
    """q(z | x) = N(mu, diag exp(log_var)) from an MLP on the flattened x.

    Attributes:
      hidden: widths of the deterministic layers (Burda et al.: (200, 200)).
      latent_dim: number of latents (Burda et al.: 50).
      activation: 'tanh' (Burda et al.), 'relu', 'silu' or 'elu'.

    Example:
      >>> enc = MLPEncoder(hidden=(32,), latent_dim=4)
      >>> params = enc.init(jax.random.key(0), jnp.zeros((2, 8, 8, 1)))
      >>> [a.shape for a in enc.apply(params, jnp.zeros((2, 8, 8, 1)))]
      [(2, 4), (2, 4)]
    """

    hidden: Sequence[int] = (200, 200)
    latent_dim: int = 50
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        _check_batch_input(x, "MLPEncoder")
        act = _activation(self.activation)
        h = x.reshape(x.shape[0], -1)
        for width in self.hidden:
            h = act(nn.Dense(width)(h))
        return nn.Dense(self.latent_dim, name="mu")(h), nn.Dense(self.latent_dim, name="log_var")(h)


class MLPDecoder(nn.Module):
    """p(x | z) parameters from an MLP on z, reshaped to ``output_shape``.

    Attributes:
      hidden: widths of the deterministic layers, from z upwards (Burda et al.: (200, 200)).
      output_shape: the shape of one example, e.g. (28, 28, 1).
      head: 'logits', 'mean' or 'mean_log_scale' (see the module docstring).
      activation: as in :class:`MLPEncoder`.

    Example:
      >>> dec = MLPDecoder(hidden=(32,), output_shape=(8, 8, 1), head="mean_log_scale")
      >>> params = dec.init(jax.random.key(0), jnp.zeros((2, 4)))
      >>> [a.shape for a in dec.apply(params, jnp.zeros((2, 4)))]
      [(2, 8, 8, 1), (2, 8, 8, 1)]
    """

    hidden: Sequence[int] = (200, 200)
    output_shape: Sequence[int] = (28, 28, 1)
    head: str = "logits"
    activation: str = "tanh"

    @nn.compact
    def __call__(self, z: jax.Array):
        _check_batch_input(z, "MLPDecoder")
        act = _activation(self.activation)
        h = z.reshape(z.shape[0], -1)
        for width in self.hidden:
            h = act(nn.Dense(width)(h))
        return output_head(h, self.head, tuple(self.output_shape))


def _check_image(x, name: str) -> None:
    if getattr(x, "ndim", 0) != 4:
        raise ValueError(f"{name} expects images (batch, H, W, C), got shape {jnp.shape(x)}.")


class ConvEncoder(nn.Module):
    """q(z | x) from stride-2 convolutions (8x8 -> 4x4 -> 2x2, 28x28 -> 14x14 -> 7x7) and a
    dense layer.

    Attributes:
      channels: widths of the stride-2 3x3 convolutions (each halves H and W, rounding up).
      latent_dim: number of latents.

    Example:
      >>> enc = ConvEncoder(channels=(8, 16), latent_dim=4)
      >>> params = enc.init(jax.random.key(0), jnp.zeros((2, 28, 28, 1)))
      >>> [a.shape for a in enc.apply(params, jnp.zeros((2, 28, 28, 1)))]
      [(2, 4), (2, 4)]
    """

    channels: Sequence[int] = (32, 64)
    latent_dim: int = 16
    hidden: int = 256

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        _check_image(x, "ConvEncoder")
        h = x
        for c in self.channels:
            h = nn.silu(nn.Conv(c, (3, 3), strides=(2, 2), padding="SAME")(h))
        h = nn.silu(nn.Dense(self.hidden)(h.reshape(h.shape[0], -1)))
        return nn.Dense(self.latent_dim, name="mu")(h), nn.Dense(self.latent_dim, name="log_var")(h)


class ConvDecoder(nn.Module):
    """p(x | z) parameters from a dense layer and stride-2 transposed convolutions.

    The dense layer makes a (H / 2^n, W / 2^n) grid (n = len(channels)); each transposed
    convolution doubles it, and a 3x3 convolution gives the head. H and W must be divisible
    by 2^n (8x8 with two, 28x28 with two).

    Attributes:
      channels: widths of the transposed convolutions, coarsest first.
      output_shape: (H, W, C) of one image.
      head: 'logits', 'mean' or 'mean_log_scale'.

    Example:
      >>> dec = ConvDecoder(channels=(16, 8), output_shape=(8, 8, 1), head="logits")
      >>> params = dec.init(jax.random.key(0), jnp.zeros((2, 4)))
      >>> dec.apply(params, jnp.zeros((2, 4))).shape
      (2, 8, 8, 1)
    """

    channels: Sequence[int] = (64, 32)
    output_shape: Sequence[int] = (8, 8, 1)
    head: str = "mean_log_scale"
    hidden: int = 256

    @nn.compact
    def __call__(self, z: jax.Array):
        _check_batch_input(z, "ConvDecoder")
        height, width, _ = self.output_shape
        factor = 2 ** len(self.channels)
        if height % factor or width % factor:
            raise ValueError(
                f"ConvDecoder: output {tuple(self.output_shape)} is not divisible by 2^"
                f"{len(self.channels)} = {factor} (one halving per entry of channels)."
            )
        h0, w0 = height // factor, width // factor
        h = nn.silu(nn.Dense(self.hidden)(z.reshape(z.shape[0], -1)))
        h = nn.silu(nn.Dense(h0 * w0 * self.channels[0])(h)).reshape(-1, h0, w0, self.channels[0])
        for c in self.channels:
            h = nn.silu(nn.ConvTranspose(c, (3, 3), strides=(2, 2), padding="SAME")(h))
        return output_head(h, self.head, tuple(self.output_shape), conv=True)


class VAE(nn.Module):
    """An encoder and a decoder; ``__call__`` (for ``init``) decodes the posterior mean.

    Example:
      >>> vae = VAE(MLPEncoder((16,), 2), MLPDecoder((16,), (3,), head="mean"))
      >>> params = vae.init(jax.random.key(0), jnp.zeros((1, 3)))
      >>> mu, log_var = vae.apply(params, jnp.zeros((5, 3)), method="encode")
      >>> vae.apply(params, mu, method="decode").shape
      (5, 3)
    """

    encoder: nn.Module
    decoder: nn.Module

    def __call__(self, x: jax.Array):
        mu, _ = self.encoder(x)
        return self.decoder(mu)

    def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        return self.encoder(x)

    def decode(self, z: jax.Array):
        return self.decoder(z)
