"""A two-layer hierarchical VAE with top-down (ladder) inference: the bound's terms.

Generative model p(z2) p(z1 | z2) p(x | z1), with p(z2) = N(0, I) and p(z1 | z2) a diagonal
Gaussian whose mean and log-variance a network computes from z2 (F2:1080-1109). The ladder
posterior (Sonderby et al. 2016) runs bottom-up once, d1 = f1(x), d2 = f2(d1), and then
top-down: q(z2 | x) = N(mu2(d2), sigma2^2(d2)), and q(z1 | x, z2) is the precision-weighted
combination of a bottom-up estimate N(mu^_1(d1), sigma^_1^2(d1)) and the prior p(z1 | z2):

    1/sigma_q^2 = 1/sigma^_1^2 + 1/sigma_p^2,
    mu_q = (mu^_1 / sigma^_1^2 + mu_p / sigma_p^2) sigma_q^2,                                 (1)

the normalised product of the two densities. With z2 ~ q(z2 | x) and z1 ~ q(z1 | x, z2),

    log w = log p(x | z1) + log p(z1 | z2) + log p(z2) - log q(z1 | x, z2) - log q(z2 | x),   (2)
    ELBO = E_q[log p(x | z1)] - KL(q(z2 | x) || p(z2)) - E_q(z2)[KL(q(z1 | x, z2) || p(z1 | z2))],

where the KLs are closed forms between diagonal Gaussians. (The notes' hierarchical ELBO at
F2:1107 writes q in the numerator; the standard form is (2).) Averaging exp(log w) over k draws
gives the IWAE bound of the model (:func:`gendiff.vae.importance_weighted_bound`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gendiff.distributions import normal_kl
from gendiff.utils import sum_over_non_batch
from gendiff.vae._checks import check_gaussian_params
from gendiff.vae.gaussian import diag_normal_log_prob


def precision_weighted(
    mu_a: jax.Array, log_var_a: jax.Array, mu_b: jax.Array, log_var_b: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """The normalised product of two diagonal Gaussians, eq. (1): ``(mu, log_var)``.

    Example:
      >>> mu, log_var = precision_weighted(jnp.array([[0.0]]), jnp.array([[0.0]]),
      ...                                  jnp.array([[2.0]]), jnp.array([[0.0]]))
      >>> float(mu[0, 0]), round(float(jnp.exp(log_var[0, 0])), 6)  # equal precisions: midpoint, 1/2
      (1.0, 0.5)
    """
    check_gaussian_params(mu_a, log_var_a, "first")
    check_gaussian_params(mu_b, log_var_b, "second")
    if jnp.shape(mu_a) != jnp.shape(mu_b):
        raise ValueError(
            f"the two Gaussians must have one shape, got {jnp.shape(mu_a)} and {jnp.shape(mu_b)}."
        )
    prec_a, prec_b = jnp.exp(-log_var_a), jnp.exp(-log_var_b)
    log_var = -jnp.logaddexp(-log_var_a, -log_var_b)
    mu = (mu_a * prec_a + mu_b * prec_b) * jnp.exp(log_var)
    return mu, log_var


class LadderTerms(NamedTuple):
    """Per-example terms of eq. (2) for one draw (z1, z2), in nats, each (batch,).

    Attributes:
      reconstruction: log p(x | z1).
      kl_top: KL(q(z2 | x) || N(0, I)), closed form.
      kl_bottom: KL(q(z1 | x, z2) || p(z1 | z2)) at the drawn z2, closed form.
      log_weight: log w of eq. (2) at the drawn (z1, z2).

    Example:
      >>> z = jnp.zeros((1, 2)); g = (z, z)
      >>> t = ladder_terms(jnp.array([-3.0]), z, g, z, g, g)  # returns LadderTerms
      >>> float(t.elbo[0]) == float(t.reconstruction[0] - t.kl[0])
      True
    """

    reconstruction: jax.Array
    kl_top: jax.Array
    kl_bottom: jax.Array
    log_weight: jax.Array

    @property
    def kl(self) -> jax.Array:
        """The rate: kl_top + kl_bottom."""
        return self.kl_top + self.kl_bottom

    @property
    def elbo(self) -> jax.Array:
        """One-draw ELBO with closed-form KLs: reconstruction - kl_top - kl_bottom."""
        return self.reconstruction - self.kl_top - self.kl_bottom


def ladder_terms(
    reconstruction: jax.Array,
    z2: jax.Array,
    q2: tuple[jax.Array, jax.Array],
    z1: jax.Array,
    q1: tuple[jax.Array, jax.Array],
    p1: tuple[jax.Array, jax.Array],
) -> LadderTerms:
    """The terms of eq. (2) from the log-likelihood log p(x | z1), the draws and the Gaussians.

    Args:
      reconstruction: log p(x | z1), (batch,).
      z2: the top latent drawn from q2, (batch, d2).
      q2: ``(mu, log_var)`` of q(z2 | x).
      z1: the bottom latent drawn from q1, (batch, d1).
      q1: ``(mu, log_var)`` of q(z1 | x, z2).
      p1: ``(mu, log_var)`` of p(z1 | z2).

    Returns:
      :class:`LadderTerms`.

    Example:
      >>> z = jnp.zeros((1, 2)); g = (z, z)
      >>> t = ladder_terms(jnp.array([-3.0]), z, g, z, g, g)  # posterior = prior
      >>> float(t.kl[0]), round(float(t.log_weight[0]), 5)
      (0.0, -3.0)
    """
    for name, g in (("q(z2 | x)", q2), ("q(z1 | x, z2)", q1), ("p(z1 | z2)", p1)):
        check_gaussian_params(*g, name)
    if jnp.shape(z2) != jnp.shape(q2[0]) or jnp.shape(z1) != jnp.shape(q1[0]):
        raise ValueError(
            f"latent draws must match their posteriors: z2 {jnp.shape(z2)} vs "
            f"{jnp.shape(q2[0])}, z1 {jnp.shape(z1)} vs {jnp.shape(q1[0])}."
        )
    if jnp.shape(q1[0]) != jnp.shape(p1[0]):
        raise ValueError(
            f"q(z1 | x, z2) and p(z1 | z2) must have one shape, got {jnp.shape(q1[0])} and "
            f"{jnp.shape(p1[0])}."
        )
    kl_top = sum_over_non_batch(normal_kl(q2[0], q2[1], 0.0, 0.0))
    kl_bottom = sum_over_non_batch(normal_kl(q1[0], q1[1], p1[0], p1[1]))
    zeros = jnp.zeros_like(z2)
    log_weight = (
        reconstruction
        + sum_over_non_batch(diag_normal_log_prob(z1, *p1))
        + sum_over_non_batch(diag_normal_log_prob(z2, zeros, zeros))
        - sum_over_non_batch(diag_normal_log_prob(z1, *q1))
        - sum_over_non_batch(diag_normal_log_prob(z2, *q2))
    )
    return LadderTerms(reconstruction, kl_top, kl_bottom, log_weight)
