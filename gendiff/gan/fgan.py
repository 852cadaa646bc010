"""f-GAN losses for every entry of ``gendiff.divergences.F_DIVERGENCES`` (Nowozin et al. 2016).

The critic outputs a raw V(x); the output activation g_f maps it into dom f*, and the
variational objective is

    F(theta, omega) = E_P[g_f(V(x))] - E_Q[f*(g_f(V(x)))],                         (eq. 6)

a lower bound on D_f(P || Q_theta) that is tight at g_f(V(x)) = f'(p(x) / q(x)). The critic
maximises F (loss -F); the generator minimises F, and only the second term depends on it
(loss -E_Q[f*(g_f(V))], the "minimax" form), or it maximises E_Q[g_f(V)] (the heuristic of
Nowozin et al., section 3, which for the ``gan`` entry is the non-saturating loss).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.divergences.f_divergences import FDivergence, get_f_divergence
from gendiff.gan._checks import as_outputs, check_pair

GENERATOR_FORMS = ("minimax", "alternative")


def fgan_discriminator_loss(
    real_outputs, fake_outputs, divergence: str | FDivergence = "kl", **params
) -> tuple[jax.Array, dict]:
    """The f-GAN critic loss -(E_P[g_f(V)] - E_Q[f*(g_f(V))]).

    Args:
      real_outputs: raw critic outputs V on data, (batch_real, ...).
      fake_outputs: raw outputs on generated samples, (batch_fake, ...), same trailing shape.
      divergence: a name in ``F_DIVERGENCES`` or an ``FDivergence``.
      **params: parameters of a factory entry (``alpha=`` for ``"alpha"``).

    Returns:
      (loss, metrics): metrics 'loss', 'divergence_estimate' (F, the lower bound on D_f),
      'real_as_real' and 'fake_as_real' (fractions with g_f(V) > f'(1), Table 6's threshold).

    References:
      Nowozin, Cseke & Tomioka, "f-GAN", NeurIPS 2016, eq. (6), Tables 2 and 6.

    Example:
      >>> loss, m = fgan_discriminator_loss(jnp.zeros(3), jnp.zeros(3), "gan")  # = minimax
      >>> round(float(loss), 6)
      1.386294
    """
    entry = get_f_divergence(divergence, **params)
    real_outputs, fake_outputs = check_pair(real_outputs, fake_outputs)
    t_real = entry.activation(real_outputs)
    estimate = jnp.mean(t_real) - jnp.mean(entry.conjugate_of_activation(fake_outputs))
    loss = -estimate
    metrics = {
        "loss": loss,
        "divergence_estimate": estimate,
        "real_as_real": jnp.mean(t_real > entry.threshold),
        "fake_as_real": jnp.mean(entry.activation(fake_outputs) > entry.threshold),
    }
    return loss, metrics


def fgan_generator_loss(
    fake_outputs,
    divergence: str | FDivergence = "kl",
    *,
    form: str = "minimax",
    **params,
) -> tuple[jax.Array, dict]:
    """The f-GAN generator loss.

    Args:
      fake_outputs: raw critic outputs V on generated samples, (batch, ...).
      divergence: a name in ``F_DIVERGENCES`` or an ``FDivergence``.
      form: "minimax" (default): -E_Q[f*(g_f(V))], the generator's part of F;
        "alternative": -E_Q[g_f(V)] (Nowozin et al., section 3).
      **params: parameters of a factory entry (``alpha=`` for ``"alpha"``).

    Returns:
      (loss, metrics): metrics 'loss' and 'fake_as_real'.

    Example:
      >>> loss, _ = fgan_generator_loss(jnp.zeros(3), "gan")  # log(1 - 1/2)
      >>> round(float(loss), 6)
      -0.693147
    """
    if form not in GENERATOR_FORMS:
        raise ValueError(f"form must be one of {GENERATOR_FORMS}, got {form!r}.")
    entry = get_f_divergence(divergence, **params)
    fake_outputs = as_outputs("fake_outputs", fake_outputs)
    t_fake = entry.activation(fake_outputs)
    if form == "minimax":
        loss = -jnp.mean(entry.conjugate_of_activation(fake_outputs))
    else:
        loss = -jnp.mean(t_fake)
    return loss, {"loss": loss, "fake_as_real": jnp.mean(t_fake > entry.threshold)}
