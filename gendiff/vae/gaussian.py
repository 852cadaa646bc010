"""The diagonal Gaussian posterior q(z | x) = N(mu, diag(exp(log_var))) against the prior N(0, I).

Reparameterisation (F0:958-1019, F1:190-233; Kingma & Welling 2014):

    z = mu + sigma * eps,   sigma = exp(log_var / 2),   eps ~ N(0, I).                  (1)

KL to the standard normal prior, in closed form (F0:1040, F1:306), summed over latent dims j:

    KL(q || p) = 1/2 sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1),                     (2)

and its Monte Carlo estimate from draws z ~ q,

    KL(q || p) ~= 1/L sum_l [log q(z_l | x) - log p(z_l)].                               (3)

Every function takes ``(batch, *latent_shape)`` arrays and treats all non-batch axes as latent
dimensions, so flat (batch, dim) latents and spatial (batch, h, w, c) latents both work.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from gendiff.distributions import normal_kl, standard_normal_log_prob
from gendiff.utils import sum_over_non_batch
from gendiff.vae._checks import check_gaussian_params, check_num_samples

_LOG_2PI = math.log(2.0 * math.pi)


def reparameterize(key: jax.Array, mu: jax.Array, log_var: jax.Array) -> jax.Array:
    """Draws z ~ N(mu, exp(log_var)) as a differentiable function of (mu, log_var), eq. (1).

    Args:
      key: PRNG key.
      mu: posterior means, ``(batch, *latent_shape)``.
      log_var: posterior log-variances, same shape.

    Returns:
      z of the shape of ``mu``.

    References:
      Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014, section 2.4.

    Example:
      >>> z = reparameterize(jax.random.key(0), jnp.zeros((2, 3)), jnp.zeros((2, 3)))
      >>> z.shape
      (2, 3)
    """
    check_gaussian_params(mu, log_var)
    eps = jax.random.normal(key, jnp.shape(mu), jnp.result_type(mu, jnp.float32))
    return mu + jnp.exp(0.5 * log_var) * eps


def diag_normal_log_prob(z: jax.Array, mu: jax.Array, log_var: jax.Array) -> jax.Array:
    """Elementwise log N(z; mu, exp(log_var)); sum over latent axes for log q(z | x).

    Args:
      z: points, broadcastable against ``mu``.
      mu: means.
      log_var: log-variances.

    Returns:
      -1/2 [log 2 pi + log_var + (z - mu)^2 exp(-log_var)], elementwise.

    Example:
      >>> round(float(diag_normal_log_prob(0.0, 0.0, 0.0)), 6)  # -1/2 log 2 pi
      -0.918939
    """
    return -0.5 * (_LOG_2PI + log_var + (z - mu) ** 2 * jnp.exp(-log_var))


def kl_to_standard_normal_per_dim(mu: jax.Array, log_var: jax.Array) -> jax.Array:
    """Elementwise KL(N(mu_j, sigma_j^2) || N(0, 1)), the summands of eq. (2).

    Reuses :func:`gendiff.distributions.normal_kl` with the prior's mean 0 and log-variance 0.

    Args:
      mu: posterior means, ``(batch, *latent_shape)``.
      log_var: posterior log-variances, same shape.

    Returns:
      Per-dimension KL in nats, the shape of ``mu`` (used by free bits and active units).

    Example:
      >>> kl_to_standard_normal_per_dim(jnp.zeros((1, 2)), jnp.zeros((1, 2)))
      Array([[0., 0.]], dtype=float32)
    """
    check_gaussian_params(mu, log_var)
    return normal_kl(mu, log_var, 0.0, 0.0)


def kl_to_standard_normal(mu: jax.Array, log_var: jax.Array) -> jax.Array:
    """Closed-form KL(q(z | x) || N(0, I)) per example, eq. (2).

    Args:
      mu: posterior means, ``(batch, *latent_shape)``.
      log_var: posterior log-variances, same shape.

    Returns:
      KL in nats, shape (batch,).

    References:
      Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014, appendix B.

    Example:
      >>> # k = 2, mu = (1, 0), sigma^2 = 2: 1/2 (k (sigma^2 - 1 - log sigma^2) + |mu|^2) = 3/2 - log 2
      >>> kl = kl_to_standard_normal(jnp.array([[1.0, 0.0]]), jnp.log(jnp.array([[2.0, 2.0]])))
      >>> round(float(kl[0]), 6)
      0.806853
    """
    return sum_over_non_batch(kl_to_standard_normal_per_dim(mu, log_var))


def kl_sample_per_dim(z: jax.Array, mu: jax.Array, log_var: jax.Array) -> jax.Array:
    """One-sample KL estimate per latent dimension: log q(z_j | x) - log p(z_j), eq. (3).

    Args:
      z: a draw from q(z | x), the shape of ``mu``.
      mu: posterior means, ``(batch, *latent_shape)``.
      log_var: posterior log-variances, same shape.

    Returns:
      The elementwise estimate; its expectation under q is the elementwise closed-form KL.

    Example:
      >>> # At the prior itself the estimate is 0 for every z.
      >>> kl_sample_per_dim(jnp.array([[0.3, -2.0]]), jnp.zeros((1, 2)), jnp.zeros((1, 2)))
      Array([[0., 0.]], dtype=float32)
    """
    check_gaussian_params(mu, log_var)
    return diag_normal_log_prob(z, mu, log_var) - standard_normal_log_prob(z)


def kl_monte_carlo(
    key: jax.Array, mu: jax.Array, log_var: jax.Array, num_samples: int
) -> jax.Array:
    """Monte Carlo KL(q(z | x) || N(0, I)) per example from ``num_samples`` draws, eq. (3).

    Draw ``j`` uses ``fold_in(key, j)``.

    Args:
      key: PRNG key.
      mu: posterior means, ``(batch, *latent_shape)``.
      log_var: posterior log-variances, same shape.
      num_samples: L >= 1.

    Returns:
      The unbiased estimate in nats, shape (batch,).

    Example:
      >>> mu, log_var = jnp.array([[1.0, 0.0]]), jnp.log(jnp.array([[2.0, 2.0]]))
      >>> kl = kl_monte_carlo(jax.random.key(0), mu, log_var, 20000)
      >>> bool(abs(float(kl[0]) - 0.806853) < 0.05)
      True
    """
    num_samples = check_num_samples("num_samples", num_samples)
    check_gaussian_params(mu, log_var)

    def one(j):
        z = reparameterize(jax.random.fold_in(key, j), mu, log_var)
        return sum_over_non_batch(kl_sample_per_dim(z, mu, log_var))

    draws = jax.lax.map(one, jnp.arange(num_samples), batch_size=min(num_samples, 256))
    return jnp.mean(draws, axis=0)


def active_units(mu: jax.Array, threshold: float = 1e-2) -> jax.Array:
    """Number of latent dimensions whose posterior mean varies across the data.

    A_u = Var_x(E_q[u | x]) > threshold (Burda et al. 2016, section 5.2, threshold 0.01): a
    dimension whose mean ignores x carries no information (it has collapsed to the prior).

    Args:
      mu: posterior means over a data set, ``(num_examples, *latent_shape)``, num_examples >= 2.
      threshold: the variance below which a unit is inactive.

    Returns:
      An int32 scalar count.

    Example:
      >>> mu = jnp.stack([jnp.array([0.0, 1.0, 0.0]), jnp.array([0.0, -1.0, 0.001])])
      >>> int(active_units(mu))  # only the middle unit varies
      1
    """
    if jnp.ndim(mu) < 2 or jnp.shape(mu)[0] < 2:
        raise ValueError(
            f"mu must have shape (num_examples, *latent_shape) with num_examples >= 2, "
            f"got {jnp.shape(mu)}."
        )
    return jnp.sum(jnp.var(mu, axis=0) > threshold).astype(jnp.int32)
