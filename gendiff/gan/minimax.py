"""The original GAN losses (Goodfellow et al. 2014), on discriminator logits.

With D(x) = sigmoid(V(x)) the discriminator maximises

    V(D, G) = E_data log D(x) + E_G log(1 - D(G(z))),

so its loss is E softplus(-V(x_real)) + E softplus(V(x_fake)) (the binary cross-entropy, in
logits so it is finite for any output). The generator of the minimax game minimises
E log(1 - D(G(z))) = -E softplus(V(G(z))) (the *saturating* loss: its gradient vanishes
when D confidently rejects the samples); the non-saturating generator minimises
-E log D(G(z)) = E softplus(-V(G(z))) instead (Goodfellow et al., section 3; F0:545).
The notes' saturating loss L_G = -E log(1 - D(G(z))) (F0:541) has its sign flipped: minimising
it would push D(G(z)) towards 0, helping the discriminator.

At the optimal discriminator D*(x) = p_data / (p_data + p_G), V(D*, G) = 2 JS(p_data, p_G)
- log 4 (Goodfellow et al., theorem 1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.gan._checks import as_outputs, check_pair


def minimax_discriminator_loss(real_logits, fake_logits) -> tuple[jax.Array, dict]:
    """-[E log D(x_real) + E log(1 - D(x_fake))] with D = sigmoid(logits).

    Args:
      real_logits: discriminator logits V on data, (batch_real, ...).
      fake_logits: logits on generated samples, (batch_fake, ...), same trailing shape.

    Returns:
      (loss, metrics): metrics 'loss', 'd_real' and 'd_fake' (mean D on each batch).

    References:
      Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, eq. (1).

    Example:
      >>> loss, m = minimax_discriminator_loss(jnp.zeros(4), jnp.zeros(4))  # D = 1/2: 2 log 2
      >>> round(float(loss), 6)
      1.386294
    """
    real_logits, fake_logits = check_pair(real_logits, fake_logits)
    loss = jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
    metrics = {
        "loss": loss,
        "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
        "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
    }
    return loss, metrics


def minimax_generator_loss(fake_logits) -> tuple[jax.Array, dict]:
    """The saturating generator loss E log(1 - D(G(z))) of the minimax game.

    Args:
      fake_logits: discriminator logits on generated samples, (batch, ...).

    Returns:
      (loss, metrics): metrics 'loss' and 'd_fake'.

    References:
      Goodfellow et al. 2014, eq. (1).

    Example:
      >>> loss, _ = minimax_generator_loss(jnp.zeros(4))  # log(1/2)
      >>> round(float(loss), 6)
      -0.693147
    """
    fake_logits = as_outputs("fake_logits", fake_logits)
    loss = -jnp.mean(jax.nn.softplus(fake_logits))  # log(1 - sigmoid(v)) = -softplus(v)
    return loss, {"loss": loss, "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}


def non_saturating_generator_loss(fake_logits) -> tuple[jax.Array, dict]:
    """The non-saturating generator loss -E log D(G(z)).

    Args:
      fake_logits: discriminator logits on generated samples, (batch, ...).

    Returns:
      (loss, metrics): metrics 'loss' and 'd_fake'.

    References:
      Goodfellow et al. 2014, section 3.

    Example:
      >>> loss, _ = non_saturating_generator_loss(jnp.zeros(4))  # -log(1/2)
      >>> round(float(loss), 6)
      0.693147
    """
    fake_logits = as_outputs("fake_logits", fake_logits)
    loss = jnp.mean(jax.nn.softplus(-fake_logits))
    return loss, {"loss": loss, "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}
