"""The Gaussian posterior q(x_s | x_t, x_0) between two times s < t of any Gaussian path.

With alpha_{t|s} = alpha_t / alpha_s and sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2
(the variance of q(x_t | x_s)), the posterior is N(mean, var) with (Kingma et al. 2021, eq. 29)

  mean = alpha_{t|s} sigma_s^2 / sigma_t^2 * x_t + alpha_s sigma_{t|s}^2 / sigma_t^2 * x_0,
  var  = sigma_{t|s}^2 sigma_s^2 / sigma_t^2.

For DDPM (s = t - 1 on the discrete path) this is eq. 7 of Ho et al. (2020):
alpha_{t|s}^2 = alpha_t, sigma_{t|s}^2 = beta_t and var = beta-tilde_t. Both sigma_{t|s}^2 and
var are computed from the log-SNR gap, sigma_{t|s}^2 / sigma_t^2 = 1 - exp(lambda_t - lambda_s),
with the gap from ``path.log_snr_gap`` (free of cancellation on variance-preserving paths), which
avoids the cancellation of the direct difference when beta_t is small.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.paths.base import GaussianPath
from gendiff.utils import right_broadcast


def transition_variance_ratio(path: GaussianPath, s: jax.Array, t: jax.Array) -> jax.Array:
    """sigma_{t|s}^2 / sigma_t^2 = 1 - exp(lambda_t - lambda_s), shape (batch,)."""
    return -jnp.expm1(-path.log_snr_gap(s, t))


def transition_variance(path: GaussianPath, s: jax.Array, t: jax.Array) -> jax.Array:
    """sigma_{t|s}^2, the variance of q(x_t | x_s) (beta_t for consecutive DDPM steps)."""
    return path.sigma(t) ** 2 * transition_variance_ratio(path, s, t)


def posterior_variance(path: GaussianPath, s: jax.Array, t: jax.Array) -> jax.Array:
    """var = sigma_{t|s}^2 sigma_s^2 / sigma_t^2 (beta-tilde_t for consecutive DDPM steps)."""
    return path.sigma(s) ** 2 * transition_variance_ratio(path, s, t)


def posterior_mean(
    path: GaussianPath, x0: jax.Array, x_t: jax.Array, s: jax.Array, t: jax.Array
) -> jax.Array:
    """Mean of q(x_s | x_t, x_0), s < t, each of shape (batch,).

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_schedule("linear", 1000)
      >>> x0, x_t = jnp.ones((3, 2)), jnp.zeros((3, 2))
      >>> posterior_mean(path, x0, x_t, s=jnp.full(3, 0.499), t=jnp.full(3, 0.5)).shape
      (3, 2)
    """
    ratio = transition_variance_ratio(path, s, t)
    alpha_s, alpha_t = path.alpha(s), path.alpha(t)
    sigma_s, sigma_t = path.sigma(s), path.sigma(t)
    coef_xt = (alpha_t / alpha_s) * (sigma_s / sigma_t) ** 2
    coef_x0 = alpha_s * ratio
    return right_broadcast(coef_xt, x_t) * x_t + right_broadcast(coef_x0, x0) * x0


def posterior(
    path: GaussianPath, x0: jax.Array, x_t: jax.Array, s: jax.Array, t: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """(mean, var) of q(x_s | x_t, x_0); var has shape (batch,)."""
    return posterior_mean(path, x0, x_t, s, t), posterior_variance(path, s, t)


VARIANCES = ("small", "large")


def reverse_variance(path: GaussianPath, s: jax.Array, t: jax.Array, variance: str) -> jax.Array:
    """The fixed variance sigma_t^2 of the reverse step p(x_s | x_t), shape (batch,).

    'small' is the posterior variance beta-tilde_t (optimal for deterministic x_0);
    'large' is beta_t = sigma_{t|s}^2 (optimal for x_0 ~ N(0, I)); Ho et al. (2020), §3.2.
    """
    if variance == "small":
        return posterior_variance(path, s, t)
    if variance == "large":
        return transition_variance(path, s, t)
    raise ValueError(f"Unknown reverse variance {variance!r}; expected one of {VARIANCES}.")
