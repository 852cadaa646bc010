"""Wasserstein GAN losses (Arjovsky, Chintala & Bottou 2017).

By Kantorovich-Rubinstein duality W1(P, Q) = sup_{||f||_L <= 1} E_P f(x) - E_Q f(x), so the
critic maximises E_P f - E_Q f over (approximately) 1-Lipschitz functions and the generator
minimises -E_Q f(G(z)). The losses alone do not make the critic Lipschitz: pair them with
weight clipping (``clip_weights``), a gradient penalty (``gradient_penalty``) or spectral
normalisation. (The notes' "gradient clipping ||grad f|| <= 1", F0:703, names the constraint,
not a device that enforces it: clipping the optimiser's gradients or updates does not.)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.gan._checks import as_outputs, check_pair


def wasserstein_critic_loss(real_outputs, fake_outputs) -> tuple[jax.Array, dict]:
    """The WGAN critic loss E_Q f(x_fake) - E_P f(x_real).

    Args:
      real_outputs: critic outputs f on data, (batch_real, ...).
      fake_outputs: critic outputs on generated samples, (batch_fake, ...).

    Returns:
      (loss, metrics): metrics 'loss' and 'wasserstein_estimate' (E_P f - E_Q f, an estimate
      of W1 when f is 1-Lipschitz and optimal).

    References:
      Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017, algorithm 1.

    Example:
      >>> loss, m = wasserstein_critic_loss(jnp.array([2.0, 4.0]), jnp.array([1.0]))
      >>> float(m["wasserstein_estimate"])
      2.0
    """
    real_outputs, fake_outputs = check_pair(real_outputs, fake_outputs)
    estimate = jnp.mean(real_outputs) - jnp.mean(fake_outputs)
    return -estimate, {"loss": -estimate, "wasserstein_estimate": estimate}


def wasserstein_generator_loss(fake_outputs) -> tuple[jax.Array, dict]:
    """The WGAN generator loss -E_Q f(G(z)).

    Args:
      fake_outputs: critic outputs on generated samples, (batch, ...).

    Returns:
      (loss, metrics): metrics 'loss'.

    Example:
      >>> float(wasserstein_generator_loss(jnp.array([1.0, 3.0]))[0])
      -2.0
    """
    fake_outputs = as_outputs("fake_outputs", fake_outputs)
    loss = -jnp.mean(fake_outputs)
    return loss, {"loss": loss}
