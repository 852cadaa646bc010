"""A two-layer hierarchical VAE with a top-down (ladder) inference path, as MLPs.

Bottom-up d1 = MLP(x), d2 = MLP(d1); q(z2 | x) from d2; top-down p(z1 | z2) = MLP(z2); the
posterior q(z1 | x, z2) combines the bottom-up estimate from d1 with p(z1 | z2) by precision
weighting (:func:`gendiff.vae.ladder.precision_weighted`); the decoder p(x | z1) is an MLP.
Burda et al.'s 2-layer sizes for 28x28 MNIST: 784-200-200-(z1 100)-100-100-(z2 50).
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gendiff.nets.vae import MLPDecoder, _activation, _check_batch_input
from gendiff.vae.ladder import LadderTerms, ladder_terms, precision_weighted
from gendiff.vae.likelihoods import Likelihood

__all__ = ["LadderVAE"]


class _Gaussian(nn.Module):
    """MLP(h) -> (mu, log_var) of a diagonal Gaussian."""

    hidden: Sequence[int]
    dim: int
    activation: str

    @nn.compact
    def __call__(self, h):
        act = _activation(self.activation)
        for width in self.hidden:
            h = act(nn.Dense(width)(h))
        return nn.Dense(self.dim, name="mu")(h), nn.Dense(self.dim, name="log_var")(h)


class LadderVAE(nn.Module):
    """p(z2) p(z1 | z2) p(x | z1) with the ladder posterior q(z2 | x) q(z1 | x, z2).

    ``apply(params, x, key, likelihood=...)`` draws (z2, z1) from the posterior with ``key``
    and returns the :class:`~gendiff.vae.ladder.LadderTerms` of that draw (``.elbo``,
    ``.log_weight``, ...); ``method="encode_top"`` gives q(z2 | x) (for active units);
    ``method="generate"`` decodes prior draws.

    Attributes:
      hidden1: widths between x and z1 (bottom-up and decoder), e.g. (200, 200).
      hidden2: widths between z1 and z2 (bottom-up and top-down), e.g. (100, 100).
      latent1, latent2: dimensions of z1 and z2.
      output_shape: the shape of one example.
      head: the decoder head (see :mod:`gendiff.nets.vae`).
      activation: 'tanh', 'relu', 'silu' or 'elu'.

    Example:
      >>> from gendiff.vae import Bernoulli
      >>> net = LadderVAE((16,), (8,), 6, 3, output_shape=(4,))
      >>> x, key = jnp.ones((2, 4)), jax.random.key(0)
      >>> params = net.init(key, x, key, likelihood=Bernoulli())
      >>> net.apply(params, x, key, likelihood=Bernoulli()).log_weight.shape
      (2,)
    """

    hidden1: Sequence[int] = (200, 200)
    hidden2: Sequence[int] = (100, 100)
    latent1: int = 100
    latent2: int = 50
    output_shape: Sequence[int] = (28, 28, 1)
    head: str = "logits"
    activation: str = "tanh"

    def setup(self):
        self.up1 = _Gaussian(self.hidden1, self.latent1, self.activation)  # d1 -> mu^_1
        self.up2 = _Gaussian(self.hidden2, self.latent2, self.activation)  # q(z2 | x)
        self.down = _Gaussian(self.hidden2, self.latent1, self.activation)  # p(z1 | z2)
        self.decoder = MLPDecoder(self.hidden1, self.output_shape, self.head, self.activation)

    def encode_top(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """q(z2 | x) and the bottom-up estimate of z1: ((mu2, lv2), (mu^_1, lv^_1))."""
        _check_batch_input(x, "LadderVAE")
        hat1 = self.up1(x.reshape(x.shape[0], -1))
        # The top layer reads the bottom-up estimate of z1 (its mean and log-variance).
        q2 = self.up2(jnp.concatenate(hat1, axis=-1))
        return q2, hat1

    def prior1(self, z2: jax.Array) -> tuple[jax.Array, jax.Array]:
        """p(z1 | z2)."""
        return self.down(z2)

    def __call__(self, x: jax.Array, key: jax.Array, *, likelihood: Likelihood) -> LadderTerms:
        q2, hat1 = self.encode_top(x)
        k2, k1 = jax.random.split(key)
        z2 = q2[0] + jnp.exp(0.5 * q2[1]) * jax.random.normal(k2, q2[0].shape, q2[0].dtype)
        p1 = self.prior1(z2)
        q1 = precision_weighted(*hat1, *p1)
        z1 = q1[0] + jnp.exp(0.5 * q1[1]) * jax.random.normal(k1, q1[0].shape, q1[0].dtype)
        log_px = likelihood.log_prob(x, self.decoder(z1))
        reconstruction = jnp.sum(log_px.reshape(x.shape[0], -1), axis=-1)
        return ladder_terms(reconstruction, z2, q2, z1, q1, p1)

    def generate(self, key: jax.Array, num: int) -> Any:
        """Decoder parameters for ``num`` draws z2 ~ N(0, I), z1 ~ p(z1 | z2)."""
        k2, k1 = jax.random.split(key)
        z2 = jax.random.normal(k2, (num, self.latent2))
        mu, log_var = self.prior1(z2)
        z1 = mu + jnp.exp(0.5 * log_var) * jax.random.normal(k1, mu.shape)
        return self.decoder(z1)
