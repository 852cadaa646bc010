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
    """sigma_{t|s}^2, the variance of q(x_t | x_s) (beta_t for consecutive DDPM steps).

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_betas([0.1, 0.2, 0.3])  # alpha_bar = 0.9, 0.72, 0.504
      >>> s, t = jnp.array([0.0, 1 / 3]), jnp.array([1 / 3, 2 / 3])
      >>> transition_variance(path, s, t).round(6).tolist()  # beta_1, beta_2
      [0.1, 0.2]
    """
    return path.sigma(t) ** 2 * transition_variance_ratio(path, s, t)


def posterior_variance(path: GaussianPath, s: jax.Array, t: jax.Array) -> jax.Array:
    """var = sigma_{t|s}^2 sigma_s^2 / sigma_t^2 (beta-tilde_t for consecutive DDPM steps).

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_betas([0.1, 0.2, 0.3])  # alpha_bar = 0.9, 0.72, 0.504
      >>> # beta-tilde_2 = (1 - alpha_bar_1) / (1 - alpha_bar_2) beta_2 = 0.1 / 0.28 * 0.2
      >>> posterior_variance(path, jnp.array([1 / 3]), jnp.array([2 / 3]))
      Array([0.0714286], dtype=float32)
    """
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
    """(mean, var) of q(x_s | x_t, x_0); var has shape (batch,).

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_betas([0.1, 0.2, 0.3])  # alpha_bar = 0.9, 0.72, 0.504
      >>> s, t = jnp.array([1 / 3]), jnp.array([2 / 3])
      >>> mean, var = posterior(path, jnp.ones((1, 1)), jnp.zeros((1, 1)), s, t)
      >>> # the x_0 coefficient sqrt(alpha_bar_1) beta_2 / (1 - alpha_bar_2) = 0.9**0.5 * 0.2 / 0.28
      >>> round(float(mean[0, 0]), 5), round(float(var[0]), 5)
      (0.67763, 0.07143)
    """
    return posterior_mean(path, x0, x_t, s, t), posterior_variance(path, s, t)


VARIANCES = ("small", "large")


def reverse_variance(path: GaussianPath, s: jax.Array, t: jax.Array, variance: str) -> jax.Array:
    """The fixed variance sigma_t^2 of the reverse step p(x_s | x_t), shape (batch,).

    'small' is the posterior variance beta-tilde_t (optimal for deterministic x_0);
    'large' is beta_t = sigma_{t|s}^2 (optimal for x_0 ~ N(0, I)); Ho et al. (2020), §3.2.

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_betas([0.1, 0.2, 0.3])  # alpha_bar = 0.9, 0.72, 0.504
      >>> s, t = jnp.array([1 / 3]), jnp.array([2 / 3])
      >>> reverse_variance(path, s, t, "small"), reverse_variance(path, s, t, "large")
      (Array([0.0714286], dtype=float32), Array([0.2], dtype=float32))
    """
    if variance == "small":
        return posterior_variance(path, s, t)
    if variance == "large":
        return transition_variance(path, s, t)
    raise ValueError(f"Unknown reverse variance {variance!r}; expected one of {VARIANCES}.")
