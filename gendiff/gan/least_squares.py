"""Least-squares GAN losses (Mao et al. 2017), on raw discriminator outputs.

The discriminator minimises 1/2 E_P (V(x) - b)^2 + 1/2 E_Q (V(x) - a)^2 and the generator
1/2 E_Q (V(G(z)) - c)^2. The default (a, b, c) = (0, 1, 1) is the "0-1 coding" of the paper's
experiments; (a, b, c) = (-1, 1, 0) satisfies b - c = 1 and b - a = 2, under which minimising
the generator objective minimises the Pearson chi^2 divergence chi^2(P + Q || 2 Q)
(Mao et al., theorem 1). For a fixed generator the optimal output is
V*(x) = (b p(x) + a q(x)) / (p(x) + q(x)).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.gan._checks import as_outputs, check_pair


def least_squares_discriminator_loss(
    real_outputs, fake_outputs, *, a: float = 0.0, b: float = 1.0
) -> tuple[jax.Array, dict]:
    """1/2 E_P (V(x_real) - b)^2 + 1/2 E_Q (V(x_fake) - a)^2.

    Args:
      real_outputs: raw discriminator outputs on data, (batch_real, ...).
      fake_outputs: raw outputs on generated samples, (batch_fake, ...).
      a: the target for generated samples.
      b: the target for data.

    Returns:
      (loss, metrics): metrics 'loss', 'v_real' and 'v_fake' (mean outputs).

    References:
      Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017.

    Example:
      >>> float(least_squares_discriminator_loss(jnp.array([1.0]), jnp.array([1.0]))[0])
      0.5
    """
    real_outputs, fake_outputs = check_pair(real_outputs, fake_outputs)
    loss = 0.5 * jnp.mean((real_outputs - b) ** 2) + 0.5 * jnp.mean((fake_outputs - a) ** 2)
    metrics = {"loss": loss, "v_real": jnp.mean(real_outputs), "v_fake": jnp.mean(fake_outputs)}
    return loss, metrics


def least_squares_generator_loss(fake_outputs, *, c: float = 1.0) -> tuple[jax.Array, dict]:
    """1/2 E_Q (V(G(z)) - c)^2.

    Args:
      fake_outputs: raw discriminator outputs on generated samples, (batch, ...).
      c: the value the generator wants the discriminator to believe for its samples.

    Returns:
      (loss, metrics): metrics 'loss'.

    Example:
      >>> float(least_squares_generator_loss(jnp.array([0.0, 2.0]))[0])
      0.5
    """
    fake_outputs = as_outputs("fake_outputs", fake_outputs)
    loss = 0.5 * jnp.mean((fake_outputs - c) ** 2)
    return loss, {"loss": loss}
