"""Hinge GAN losses (Lim & Ye 2017; Miyato et al. 2018; the SAGAN/BigGAN default).

The discriminator minimises E_P max(0, 1 - V(x)) + E_Q max(0, 1 + V(x)) and the generator
minimises -E_Q V(G(z)), on raw outputs V.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.gan._checks import as_outputs, check_pair


def hinge_discriminator_loss(real_outputs, fake_outputs) -> tuple[jax.Array, dict]:
    """E_P relu(1 - V(x_real)) + E_Q relu(1 + V(x_fake)).

    Args:
      real_outputs: raw discriminator outputs on data, (batch_real, ...).
      fake_outputs: raw outputs on generated samples, (batch_fake, ...).

    Returns:
      (loss, metrics): metrics 'loss', 'real_margin' and 'fake_margin' (the two hinge terms).

    References:
      Lim & Ye, "Geometric GAN", 2017; Miyato et al., "Spectral normalization for GANs",
      ICLR 2018.

    Example:
      >>> float(hinge_discriminator_loss(jnp.array([2.0, 0.5]), jnp.array([-2.0, 0.0]))[0])
      0.75
    """
    real_outputs, fake_outputs = check_pair(real_outputs, fake_outputs)
    real_term = jnp.mean(jax.nn.relu(1.0 - real_outputs))
    fake_term = jnp.mean(jax.nn.relu(1.0 + fake_outputs))
    loss = real_term + fake_term
    return loss, {"loss": loss, "real_margin": real_term, "fake_margin": fake_term}


def hinge_generator_loss(fake_outputs) -> tuple[jax.Array, dict]:
    """-E_Q V(G(z)).

    Args:
      fake_outputs: raw discriminator outputs on generated samples, (batch, ...).

    Returns:
      (loss, metrics): metrics 'loss'.

    Example:
      >>> float(hinge_generator_loss(jnp.array([1.0, 3.0]))[0])
      -2.0
    """
    fake_outputs = as_outputs("fake_outputs", fake_outputs)
    loss = -jnp.mean(fake_outputs)
    return loss, {"loss": loss}
