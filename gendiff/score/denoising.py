"""Denoising score matching: at one noise level, over NCSN's levels, and over an SDE's times.

All three regress s(x~) onto the score of the Gaussian corruption kernel,
grad_x~ log N(x~; alpha x, sigma^2 I) = -eps / sigma for x~ = alpha x + sigma eps, whose
expectation given x~ is the score of the noised data (Vincent 2011).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.paths.base import GaussianPath
from gendiff.score.divergence import check_score_shape
from gendiff.score.sigmas import check_noise_levels, check_positive
from gendiff.utils import right_broadcast, sum_over_non_batch

WEIGHTINGS = ("sigma_sq", "likelihood")


def denoising_score_matching(
    key: jax.Array, score_fn: Callable[[jax.Array], jax.Array], x: jax.Array, sigma: float
) -> tuple[jax.Array, dict]:
    """J_DSM = 1/2 E_{x, eps} || s(x + sigma eps) + eps / sigma ||^2 (Vincent 2011).

    Equivalently (1 / (2 sigma^2)) E || sigma s(x + sigma eps) + eps ||^2. It equals explicit
    score matching against the noised data density p_sigma = p * N(0, sigma^2 I) plus a
    constant, so its minimiser is s = grad log p_sigma, where it takes the value
    D / (2 sigma^2) - 1/2 E || grad log p_sigma ||^2.

    Args:
      key: PRNG key of the noise eps.
      score_fn: the model ``s(x~)``, (batch, ...) -> (batch, ...).
      x: clean data, (batch, ...).
      sigma: noise standard deviation, > 0.

    Returns:
      (loss, metrics) with metrics['loss'] the same scalar.

    Example:
      >>> x = jax.random.normal(key, (4096, 2))  # data N(0, I): the noisy score is -x / (1 + s^2)
      >>> loss, _ = denoising_score_matching(key, lambda x: -x / (1 + 0.1**2), x, 0.1)
      >>> loss.shape
      ()
    """
    check_positive("sigma", sigma)
    eps = jax.random.normal(key, x.shape, x.dtype)
    score = score_fn(x + sigma * eps)  # x~ = x + sigma eps
    check_score_shape(score, x)
    loss = jnp.mean(0.5 * sum_over_non_batch((score + eps / sigma) ** 2))
    return loss, {"loss": loss}


def ncsn_loss(
    key: jax.Array,
    score_fn: Callable[[jax.Array, jax.Array], jax.Array],
    x: jax.Array,
    sigmas: jax.Array,
) -> tuple[jax.Array, dict]:
    """NCSN's objective (1/L) sum_i lambda(sigma_i) l(sigma_i), lambda = sigma^2 (Song & Ermon 2019).

    l(sigma) is :func:`denoising_score_matching` for the noise-conditional model
    s(x~, sigma), so each term is lambda(sigma) l(sigma) = 1/2 E || sigma s(x~, sigma) + eps ||^2,
    of order one at every level. The average over levels is estimated by drawing one level
    uniformly per example.

    Args:
      key: PRNG key of the levels and the noise.
      score_fn: ``score_fn(x~, sigma)`` with sigma of shape (batch,).
      x: clean data, (batch, ...).
      sigmas: (L,) noise levels sigma_1 > ... > sigma_L > 0 (e.g. :func:`geometric_sigmas`).

    Returns:
      (loss, metrics) with metrics['loss'] the same scalar.

    Example:
      >>> from gendiff.score import geometric_sigmas
      >>> x = jax.random.normal(key, (256, 2))
      >>> sigmas = geometric_sigmas(1.0, 0.01, 10)
      >>> loss, _ = ncsn_loss(key, lambda x, s: -x / (1 + s[:, None] ** 2), x, sigmas)
    """
    check_noise_levels(sigmas)
    sigmas = jnp.asarray(sigmas, x.dtype)
    key_level, key_eps = jax.random.split(key)
    level = jax.random.randint(key_level, (x.shape[0],), 0, sigmas.shape[0])
    sigma = sigmas[level]
    sigma_b = right_broadcast(sigma, x)
    eps = jax.random.normal(key_eps, x.shape, x.dtype)
    score = score_fn(x + sigma_b * eps, sigma)
    check_score_shape(score, x)
    # sigma^2 * 1/2 || s + eps / sigma ||^2 = 1/2 || sigma s + eps ||^2.
    loss = jnp.mean(0.5 * sum_over_non_batch((sigma_b * score + eps) ** 2))
    return loss, {"loss": loss}


def score_sde_loss(
    key: jax.Array,
    score_fn: Callable[[jax.Array, jax.Array], jax.Array],
    x: jax.Array,
    path: GaussianPath,
    *,
    weighting: str | Callable[[jax.Array], jax.Array] = "sigma_sq",
) -> tuple[jax.Array, dict]:
    """E_t lambda(t) E || s(x_t, t) + eps / sigma_t ||^2 on a Gaussian path (Song et al. 2021, eq. 7).

    t ~ path.sample_t, eps ~ N(0, I) and x_t = alpha_t x + sigma_t eps. With the default
    lambda(t) = sigma_t^2 and s = -eps_theta / sigma_t it is E || eps_theta - eps ||^2, the
    eps-prediction MSE summed over dimensions (D times :func:`gendiff.ddpm.denoising_loss`).
    'likelihood' uses lambda(t) = g(t)^2, the forward SDE's squared diffusion, which makes the
    loss a bound on the negative log-likelihood up to a constant (Song, Durkan, Murray & Ermon 2021).

    Args:
      key: PRNG key of the times and the noise.
      score_fn: ``score_fn(x_t, t)`` with t of shape (batch,).
      x: clean data, (batch, ...).
      path: the Gaussian path (VP, DDPM, ...).
      weighting: 'sigma_sq', 'likelihood', or a function t -> lambda(t) of shape (batch,).

    Returns:
      (loss, metrics) with metrics['loss'] the same scalar.

    Example:
      >>> from gendiff.paths import VPPath
      >>> x = jax.random.normal(key, (256, 2))
      >>> score_fn = lambda x, t: -x  # the exact score of p_t = N(0, I) on a VP path
      >>> loss, _ = score_sde_loss(key, score_fn, x, VPPath())
      >>> loss.shape
      ()
    """
    if callable(weighting):
        weight_fn = weighting
    elif weighting == "sigma_sq":
        weight_fn = lambda t: path.sigma(t) ** 2
    elif weighting == "likelihood":
        weight_fn = path.diffusion_sq
    else:
        raise ValueError(
            f"Unknown weighting {weighting!r}; expected one of {WEIGHTINGS} or a callable."
        )
    key_t, key_eps = jax.random.split(key)
    t = path.sample_t(key_t, x.shape[0])
    x_t, eps = path.sample_marginal(key_eps, x, t)
    score = score_fn(x_t, t)
    check_score_shape(score, x)
    sigma = right_broadcast(path.sigma(t), x)
    per_example = weight_fn(t) * sum_over_non_batch((score + eps / sigma) ** 2)
    loss = jnp.mean(per_example)
    return loss, {"loss": loss}
