"""GAN networks: MLP and DCGAN-style generators and critics, their conditional variants, and
the PacGAN critic.

Generators map a latent batch z (batch, latent_dim) (and, when conditional, integer labels y
(batch,)) to samples; critics map samples (and labels) to one real output per example,
(batch,), the logit or critic value the losses of :mod:`gendiff.gan` take. Images are
channels-last; the conv generator ends in tanh, so its images lie in [-1, 1] like the data
pipelines' images.

Conditioning (``num_classes`` set):

* generators concatenate a learned label embedding to z (Mirza & Osindero 2014);
* critics either concatenate it to the input (``conditioning="concat"``: to the vector, or as
  constant extra channels of the image), or use the projection discriminator
  (``conditioning="projection"``, Miyato & Koyama 2018):
  ``D(x, y) = psi(phi(x)) + <embed(y), phi(x)>``, with phi the critic's last hidden features,
  psi a dense layer to one output and embed a (num_classes, features) table.

Critics use leaky ReLU and no batch normalisation (the gradient penalty needs examples to be
judged independently); ``spectral_norm=True`` normalises every dense, conv and projection
layer (see :mod:`gendiff.nets.spectral` for the state it keeps and how training carries it).
Every critic takes ``update_stats`` (only used with spectral normalisation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gendiff.gan.packing import pack
from gendiff.nets.spectral import spectral_layer

__all__ = [
    "CONDITIONINGS",
    "DCGAN_LAYOUTS",
    "GENERATOR_NORMS",
    "DCGANCritic",
    "DCGANGenerator",
    "MLPCritic",
    "MLPGenerator",
    "PacCritic",
    "dcgan_layout",
]

DCGAN_LAYOUTS = {8: 2, 28: 7, 32: 4}
"""Supported square image sides -> the side at the lowest resolution of the DCGAN nets
(8x8 digits: 2, 28x28 MNIST: 7, 32x32: 4); each stage between them doubles or halves it."""

CONDITIONINGS = ("concat", "projection")

GENERATOR_NORMS = ("layer", "batch")
"""Normalisations of the :class:`DCGANGenerator` 's hidden layers."""


def dcgan_layout(image_shape: Sequence[int]) -> tuple[int, int]:
    """The (lowest side, number of stride-2 stages) of the DCGAN nets for an image shape.

    Args:
      image_shape: (height, width, channels) of one image.

    Returns:
      ``(base, stages)`` with ``height == base * 2 ** stages``.

    Raises:
      ValueError: the shape is not (H, W, C), not square, or its side is not in
        :data:`DCGAN_LAYOUTS`.

    Example:
      >>> dcgan_layout((28, 28, 1)), dcgan_layout((8, 8, 1))
      ((7, 2), (2, 2))
    """
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels), got {shape}.")
    height, width, channels = shape
    if height != width or height not in DCGAN_LAYOUTS or channels < 1:
        raise ValueError(
            f"the DCGAN networks support square images of side {sorted(DCGAN_LAYOUTS)} "
            f"with >= 1 channel, got image shape {shape}."
        )
    base = DCGAN_LAYOUTS[height]
    return base, int(math.log2(height // base))


def _check_labels(owner: str, y, batch: int, num_classes: int | None) -> None:
    if num_classes is None:
        if y is not None:
            raise ValueError(f"{owner} is unconditional (num_classes=None) but got labels y.")
        return
    if y is None:
        raise ValueError(
            f"{owner} is conditional on {num_classes} classes: pass labels y of shape ({batch},)."
        )
    shape, dtype = getattr(y, "shape", None), getattr(y, "dtype", None)
    if shape != (batch,) or dtype is None or not jnp.issubdtype(dtype, jnp.integer):
        raise ValueError(
            f"{owner}: labels y must be integers of shape ({batch},), got shape {shape} and "
            f"dtype {dtype}."
        )


def _check_conditioning(owner: str, conditioning: str) -> None:
    if conditioning not in CONDITIONINGS:
        raise ValueError(
            f"{owner}: conditioning must be one of {CONDITIONINGS}, got {conditioning!r}."
        )


def _check_batch(owner: str, x, ndim: int, what: str) -> None:
    if getattr(x, "ndim", None) != ndim:
        raise ValueError(f"{owner} expects {what}, got shape {getattr(x, 'shape', None)}.")


def _critic_head(
    phi: jax.Array,
    y: jax.Array | None,
    *,
    projection: bool,
    num_classes: int | None,
    spectral_norm: bool,
    power_iterations: int,
    update_stats: bool,
) -> jax.Array:
    """psi(phi) [+ <embed(y), phi>]: one output per example, (batch,)."""
    out = spectral_layer(nn.Dense(1), spectral_norm, power_iterations)(
        phi, update_stats=update_stats
    )[:, 0]
    if projection:
        embed = spectral_layer(
            nn.Embed(num_classes, phi.shape[-1]), spectral_norm, power_iterations
        )
        out = out + jnp.sum(embed(y, update_stats=update_stats) * phi, axis=-1)
    return out


class MLPGenerator(nn.Module):
    """MLP generator for vector data: ``depth`` x (Dense(hidden), ReLU), then Dense(data_dim).

    The output is linear (vector data need not lie in [-1, 1]). The hidden biases start
    random (``bias_init``), not zero: with zero biases a ReLU MLP is positively homogeneous at
    initialisation, linear along every ray from the origin, and toy data away from the origin
    (a mode at (3, 3), PacGAN's grid at +-4) must wait for the biases to move.

    Attributes:
      data_dim: dimension of a sample (2 for the toy 2-D data).
      hidden: width of the hidden layers.
      depth: number of hidden layers.
      num_classes: if set, the generator is conditional: a label embedding of width
        ``embed_dim`` is concatenated to z.
      embed_dim: width of the label embedding.
      bias_init: initialiser of the hidden layers' biases.

    Example:
      >>> g = MLPGenerator(data_dim=2, hidden=16, depth=2)
      >>> z = jnp.zeros((5, 4))
      >>> g.apply(g.init(jax.random.key(0), z), z).shape
      (5, 2)
    """

    data_dim: int = 2
    hidden: int = 128
    depth: int = 3
    num_classes: int | None = None
    embed_dim: int = 16
    bias_init: nn.initializers.Initializer = nn.initializers.normal(1.0)

    @nn.compact
    def __call__(self, z: jax.Array, y: jax.Array | None = None) -> jax.Array:
        """Args: z (batch, latent_dim); y (batch,) int labels if conditional.

        Returns: samples (batch, data_dim).
        """
        _check_batch("MLPGenerator", z, 2, "latents z of shape (batch, latent_dim)")
        _check_labels("MLPGenerator", y, z.shape[0], self.num_classes)
        h = z
        if self.num_classes is not None:
            h = jnp.concatenate([h, nn.Embed(self.num_classes, self.embed_dim)(y)], axis=-1)
        for _ in range(self.depth):
            h = nn.relu(nn.Dense(self.hidden, bias_init=self.bias_init)(h))
        return nn.Dense(self.data_dim)(h)


class MLPCritic(nn.Module):
    """MLP critic (or discriminator): ``depth`` x (Dense(hidden), leaky ReLU 0.2), then one output.

    The hidden biases start random, as in :class:`MLPGenerator` (a critic with zero biases is
    linear along every ray from the origin at initialisation, so it cannot yet single out a
    mode away from the origin).

    Attributes:
      hidden: width of the hidden layers (the features phi of the projection head).
      depth: number of hidden layers (>= 1).
      num_classes: if set, the critic is conditional (see ``conditioning``).
      conditioning: "concat" (label embedding of width ``embed_dim`` concatenated to x) or
        "projection" (Miyato & Koyama 2018).
      embed_dim: width of the concatenated label embedding.
      spectral_norm: spectrally normalise every dense layer (and the projection table).
      power_iterations: power iterations per call of each normalised layer.
      bias_init: initialiser of the hidden layers' biases.

    Example:
      >>> d = MLPCritic(hidden=16, depth=2, num_classes=3, conditioning="projection")
      >>> x, y = jnp.zeros((5, 2)), jnp.array([0, 1, 2, 0, 1])
      >>> d.apply(d.init(jax.random.key(0), x, y), x, y).shape
      (5,)
    """

    hidden: int = 128
    depth: int = 3
    num_classes: int | None = None
    conditioning: str = "concat"
    embed_dim: int = 16
    spectral_norm: bool = False
    power_iterations: int = 1
    bias_init: nn.initializers.Initializer = nn.initializers.normal(1.0)

    @nn.compact
    def __call__(
        self, x: jax.Array, y: jax.Array | None = None, *, update_stats: bool = False
    ) -> jax.Array:
        """Args: x (batch, ...) samples, flattened inside; y (batch,) int labels if
        conditional; update_stats: store the new power-iteration state (spectral norm).

        Returns: one output per example, (batch,).
        """
        if getattr(x, "ndim", 0) < 2:
            raise ValueError(
                f"MLPCritic expects x of shape (batch, ...), got shape {getattr(x, 'shape', None)}."
            )
        if self.depth < 1:
            raise ValueError(f"MLPCritic needs depth >= 1, got {self.depth}.")
        _check_conditioning("MLPCritic", self.conditioning)
        h = x.reshape(x.shape[0], -1)
        _check_labels("MLPCritic", y, h.shape[0], self.num_classes)
        conditional = self.num_classes is not None
        if conditional and self.conditioning == "concat":
            h = jnp.concatenate([h, nn.Embed(self.num_classes, self.embed_dim)(y)], axis=-1)
        for _ in range(self.depth):
            dense = nn.Dense(self.hidden, bias_init=self.bias_init)
            dense = spectral_layer(dense, self.spectral_norm, self.power_iterations)
            h = nn.leaky_relu(dense(h, update_stats=update_stats), 0.2)
        self.sow("intermediates", "features", h)
        return _critic_head(
            h,
            y,
            projection=conditional and self.conditioning == "projection",
            num_classes=self.num_classes,
            spectral_norm=self.spectral_norm,
            power_iterations=self.power_iterations,
            update_stats=update_stats,
        )


class DCGANGenerator(nn.Module):
    """DCGAN-style conv generator for square images of side 8, 28 or 32 (:data:`DCGAN_LAYOUTS`).

    z [+ label embedding] -> Dense to (base, base, features 2^stages) -> ``stages`` x
    (4x4 stride-2 transposed conv halving the width, doubling the side) -> 3x3 conv to the
    image channels -> tanh. Each hidden layer is a normalisation + ReLU. For 28x28x1 with
    features 32: 7x7x128 -> 14x14x64 -> 28x28x32 -> 28x28x1.

    Normalisation (``norm``):

    * ``"layer"``: LayerNorm over each pixel's channels, per example (samples are
      independent of their batch);
    * ``"batch"``: DCGAN's batch normalisation, always with the statistics of the current
      batch (over batch and pixels, per channel; no running averages, so the generator
      carries no state and samples the same way it trains, in batches of >= 2). It keeps the
      features of a batch spread out, so an unconditional generator cannot map every z to
      one image: on the 8x8 digits the "layer" generator collapsed to a single image, the
      "batch" one did not (see experiments/configs/gan.py, preset digits).

    Attributes:
      image_shape: (height, width, channels) of the images.
      features: width of the last hidden layer.
      num_classes: if set, the generator is conditional (label embedding concatenated to z).
      embed_dim: width of the label embedding.
      norm: "layer" or "batch" (see above).

    Example:
      >>> g = DCGANGenerator(image_shape=(8, 8, 1), features=8)
      >>> z = jax.random.normal(jax.random.key(1), (3, 16))
      >>> x = jax.jit(lambda k, z: g.apply(g.init(k, z), z))(jax.random.key(0), z)  # jit: one compilation, not op by op
      >>> x.shape, bool(jnp.all(jnp.abs(x) <= 1))
      ((3, 8, 8, 1), True)
    """

    image_shape: Sequence[int] = (8, 8, 1)
    features: int = 32
    num_classes: int | None = None
    embed_dim: int = 16
    norm: str = "layer"

    @nn.compact
    def __call__(self, z: jax.Array, y: jax.Array | None = None) -> jax.Array:
        """Args: z (batch, latent_dim); y (batch,) int labels if conditional.

        Returns: images (batch, height, width, channels) in [-1, 1].
        """
        base, stages = dcgan_layout(self.image_shape)
        _check_batch("DCGANGenerator", z, 2, "latents z of shape (batch, latent_dim)")
        _check_labels("DCGANGenerator", y, z.shape[0], self.num_classes)
        if self.norm not in GENERATOR_NORMS:
            raise ValueError(
                f"DCGANGenerator: norm must be one of {GENERATOR_NORMS}, got {self.norm!r}."
            )
        if self.norm == "batch" and z.shape[0] < 2:
            raise ValueError(
                f"DCGANGenerator with norm='batch' needs batches of >= 2 latents, got {z.shape[0]}."
            )

        def normalise(h):
            axes = (0, 1, 2) if self.norm == "batch" else (-1,)
            return nn.LayerNorm(reduction_axes=axes, feature_axes=-1)(h)

        h = z
        if self.num_classes is not None:
            h = jnp.concatenate([h, nn.Embed(self.num_classes, self.embed_dim)(y)], axis=-1)
        width = self.features * 2**stages
        h = nn.Dense(base * base * width)(h).reshape(z.shape[0], base, base, width)
        h = nn.relu(normalise(h))
        for _ in range(stages):
            width //= 2
            h = nn.ConvTranspose(width, (4, 4), strides=(2, 2), padding="SAME")(h)
            h = nn.relu(normalise(h))
        channels = int(self.image_shape[-1])
        return jnp.tanh(nn.Conv(channels, (3, 3), padding="SAME")(h))


class DCGANCritic(nn.Module):
    """DCGAN-style conv critic for square images of side 8, 28 or 32 (any channel count).

    ``stages`` x (4x4 stride-2 conv doubling the width from ``features``, leaky ReLU 0.2),
    flatten (the features phi), one output (plus the projection term when conditional by
    projection). The layout follows the input's side (:func:`dcgan_layout`); the channel
    count is free, so the critic also takes PacGAN's packed images. For 28x28 with features
    32: 14x14x32 -> 7x7x64 -> 3136 features -> 1.

    Attributes:
      features: width of the first conv.
      num_classes: if set, the critic is conditional (see ``conditioning``).
      conditioning: "concat" (the label embedding as ``embed_dim`` constant extra channels)
        or "projection" (Miyato & Koyama 2018).
      embed_dim: width of the concatenated label embedding.
      spectral_norm: spectrally normalise every conv, dense and projection layer.
      power_iterations: power iterations per call of each normalised layer.

    Example:
      >>> d = DCGANCritic(features=8)
      >>> x = jnp.zeros((3, 28, 28, 1))
      >>> jax.jit(lambda k, x: d.apply(d.init(k, x), x))(jax.random.key(0), x).shape  # jit: one compilation, not op by op
      (3,)
    """

    features: int = 32
    num_classes: int | None = None
    conditioning: str = "concat"
    embed_dim: int = 16
    spectral_norm: bool = False
    power_iterations: int = 1

    @nn.compact
    def __call__(
        self, x: jax.Array, y: jax.Array | None = None, *, update_stats: bool = False
    ) -> jax.Array:
        """Args: x (batch, height, width, channels); y (batch,) int labels if conditional;
        update_stats: store the new power-iteration state (spectral norm).

        Returns: one output per example, (batch,).
        """
        _check_batch("DCGANCritic", x, 4, "images of shape (batch, height, width, channels)")
        _, stages = dcgan_layout(x.shape[1:])
        _check_conditioning("DCGANCritic", self.conditioning)
        _check_labels("DCGANCritic", y, x.shape[0], self.num_classes)
        conditional = self.num_classes is not None
        h = x
        if conditional and self.conditioning == "concat":
            e = nn.Embed(self.num_classes, self.embed_dim)(y)[:, None, None, :]
            h = jnp.concatenate([h, jnp.broadcast_to(e, h.shape[:3] + e.shape[-1:])], axis=-1)
        for i in range(stages):
            conv = nn.Conv(self.features * 2**i, (4, 4), strides=(2, 2), padding="SAME")
            conv = spectral_layer(conv, self.spectral_norm, self.power_iterations)
            h = nn.leaky_relu(conv(h, update_stats=update_stats), 0.2)
        phi = h.reshape(h.shape[0], -1)
        self.sow("intermediates", "features", phi)
        return _critic_head(
            phi,
            y,
            projection=conditional and self.conditioning == "projection",
            num_classes=self.num_classes,
            spectral_norm=self.spectral_norm,
            power_iterations=self.power_iterations,
            update_stats=update_stats,
        )


class PacCritic(nn.Module):
    """PacGAN's critic: judges m samples at once (Lin et al. 2018).

    ``critic(pack(x, m))``: m consecutive samples are concatenated along the channel axis
    (:func:`gendiff.gan.pack`), so a batch of B samples gives B / m outputs. Real and fake
    batches are packed separately by the caller's two calls. The inner critic must be
    unconditional and accept m times the channels (:class:`MLPCritic` and
    :class:`DCGANCritic` both infer their input width). The gradient penalties of
    :func:`gendiff.train.gan_players` then act in the packed space.

    Attributes:
      critic: the critic applied to packed samples; its variables live under "critic".
      m: the packing degree.

    Example:
      >>> d = PacCritic(MLPCritic(hidden=8, depth=1), m=4)
      >>> x = jnp.zeros((12, 2))
      >>> d.apply(d.init(jax.random.key(0), x), x).shape
      (3,)
    """

    critic: nn.Module
    m: int = 2

    def __call__(self, x: jax.Array, *, update_stats: bool = False) -> jax.Array:
        """Args: x (batch, ..., channels) with batch a multiple of m; update_stats: passed to
        the inner critic.

        Returns: one output per group of m samples, (batch / m,).
        """
        return self.critic(pack(x, self.m), update_stats=update_stats)
