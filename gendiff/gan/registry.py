"""GAN losses by name: each entry is a (discriminator, generator) pair of pure functions.

``get_gan_loss(name, **params)`` returns a :class:`GANLoss` whose ``discriminator(real, fake)``
and ``generator(fake)`` take discriminator outputs and return ``(loss, metrics)``; both are
minimised. Names: "minimax" (saturating generator), "non_saturating", "wasserstein", "hinge",
"least_squares" (params a, b, c) and "fgan_<divergence>" for every f-divergence of
``gendiff.divergences.F_DIVERGENCES`` (params ``form=`` "minimax" | "alternative" for the
generator, and ``alpha=`` for "fgan_alpha").
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp  # noqa: F401  (used by the examples)

from gendiff.divergences.f_divergences import F_DIVERGENCES, FDivergence, get_f_divergence
from gendiff.gan.fgan import GENERATOR_FORMS, fgan_discriminator_loss, fgan_generator_loss
from gendiff.gan.hinge import hinge_discriminator_loss, hinge_generator_loss
from gendiff.gan.least_squares import (
    least_squares_discriminator_loss,
    least_squares_generator_loss,
)
from gendiff.gan.minimax import (
    minimax_discriminator_loss,
    minimax_generator_loss,
    non_saturating_generator_loss,
)
from gendiff.gan.wasserstein import wasserstein_critic_loss, wasserstein_generator_loss

LossFn = Callable[..., tuple[jax.Array, dict]]


class GANLoss(NamedTuple):
    """A pair of GAN losses.

    Attributes:
      discriminator: ``(real_outputs, fake_outputs) -> (loss, metrics)``.
      generator: ``(fake_outputs) -> (loss, metrics)``.
      requires_lipschitz: the loss is only meaningful with a Lipschitz critic (weight
        clipping, a gradient penalty or spectral normalisation).

    Example:
      >>> from gendiff.gan import GANLoss, get_gan_loss
      >>> pair = get_gan_loss("minimax")
      >>> isinstance(pair, GANLoss), pair.requires_lipschitz, get_gan_loss("wasserstein").requires_lipschitz
      (True, False, True)
      >>> loss, metrics = pair.discriminator(jnp.zeros(4), jnp.zeros(4))  # D = 1/2: 2 log 2
      >>> round(float(loss), 6), float(metrics["d_real"])
      (1.386294, 0.5)
    """

    discriminator: LossFn
    generator: LossFn
    requires_lipschitz: bool = False


def minimax() -> GANLoss:
    """Goodfellow et al.'s minimax game with the saturating generator loss."""
    return GANLoss(minimax_discriminator_loss, minimax_generator_loss)


def non_saturating() -> GANLoss:
    """The minimax discriminator with the non-saturating generator loss -E log D(G(z))."""
    return GANLoss(minimax_discriminator_loss, non_saturating_generator_loss)


def wasserstein() -> GANLoss:
    """The WGAN critic and generator losses; the critic must be kept Lipschitz."""
    return GANLoss(wasserstein_critic_loss, wasserstein_generator_loss, requires_lipschitz=True)


def hinge() -> GANLoss:
    """Hinge discriminator loss with the generator loss -E V(G(z))."""
    return GANLoss(hinge_discriminator_loss, hinge_generator_loss)


def least_squares(a: float = 0.0, b: float = 1.0, c: float = 1.0) -> GANLoss:
    """LSGAN with targets a (fake), b (real) for D and c for G."""
    return GANLoss(
        functools.partial(least_squares_discriminator_loss, a=a, b=b),
        functools.partial(least_squares_generator_loss, c=c),
    )


def fgan(divergence: str | FDivergence, *, form: str = "minimax", **params) -> GANLoss:
    """f-GAN on one f-divergence (a name in F_DIVERGENCES or an FDivergence).

    The entry is resolved (and its parameters checked) here, once.
    """
    entry = get_f_divergence(divergence, **params)
    if form not in GENERATOR_FORMS:
        raise ValueError(f"form must be one of {GENERATOR_FORMS}, got {form!r}.")
    return GANLoss(
        functools.partial(fgan_discriminator_loss, divergence=entry),
        functools.partial(fgan_generator_loss, divergence=entry, form=form),
    )


GAN_LOSSES: dict[str, Callable[..., GANLoss]] = {
    "minimax": minimax,
    "non_saturating": non_saturating,
    "wasserstein": wasserstein,
    "hinge": hinge,
    "least_squares": least_squares,
    **{f"fgan_{name}": functools.partial(fgan, name) for name in F_DIVERGENCES},
}
"""Factories of :class:`GANLoss` by name; call them through :func:`get_gan_loss`."""


def get_gan_loss(name: str, **params) -> GANLoss:
    """The GAN loss pair registered under `name`.

    Args:
      name: a key of :data:`GAN_LOSSES`.
      **params: that loss's parameters (see the module docstring).

    Returns:
      A :class:`GANLoss`.

    Example:
      >>> pair = get_gan_loss("fgan_alpha", alpha=2.0, form="alternative")
      >>> loss, metrics = pair.discriminator(jnp.ones(8), -jnp.ones(8))
      >>> sorted(metrics)
      ['divergence_estimate', 'fake_as_real', 'loss', 'real_as_real']
    """
    if name not in GAN_LOSSES:
        raise ValueError(f"unknown GAN loss {name!r}; expected one of {sorted(GAN_LOSSES)}.")
    try:
        return GAN_LOSSES[name](**params)
    except TypeError as err:
        raise ValueError(f"bad parameters {sorted(params)} for GAN loss {name!r}: {err}") from None
