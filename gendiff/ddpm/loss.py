"""The denoising loss of DDPM, for any Gaussian path and any parameterisation."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.parameterization import check_prediction, from_x0_eps
from gendiff.paths.base import GaussianPath
from gendiff.utils import mean_over_non_batch

ModelFn = Callable[..., jax.Array]


def denoising_loss(
    key: jax.Array,
    model_fn: ModelFn,
    x0: jax.Array,
    path: GaussianPath,
    *,
    prediction: str = "eps",
    weighting: str = "uniform",
    snr_gamma: float = 5.0,
    **cond,
) -> tuple[jax.Array, dict]:
    """Mean squared error of the model's prediction of its target at a random time.

    t ~ path.sample_t (U{1..T}/T on the discrete DDPM path), eps ~ N(0, I),
    x_t = alpha_t x_0 + sigma_t eps, and the loss is E || model(x_t, t) - target ||^2 averaged
    over dimensions. With prediction='eps' it is L_simple of Ho et al. (2020, eq. 14),
    E || eps - eps_theta(sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, t) ||^2; 'x0' and 'v'
    regress x_0 and v = alpha eps - sigma x_0 (Salimans & Ho 2022) instead.

    ``weighting='min_snr'`` weights each example by :func:`min_snr_weight` (Hang et al. 2023,
    "Efficient diffusion training via Min-SNR weighting strategy"): whatever the prediction,
    the loss becomes E min(SNR_t, gamma) || x0_theta - x_0 ||^2, which caps the weight of the
    nearly clean times that the uniform eps loss over-weights.

    Args:
      key: PRNG key.
      model_fn: ``model_fn(x_t, t, **cond)`` with t of shape (batch,).
      x0: clean data, (batch, ...).
      path: the Gaussian path.
      prediction: 'eps', 'x0', 'v', 'score' or 'velocity'.
      weighting: 'uniform' (the simple loss) or 'min_snr' (predictions eps, x0 and v).
      snr_gamma: gamma of 'min_snr' (5 in Hang et al.).
      **cond: conditioning passed through to ``model_fn`` (e.g. ``y=labels``).

    Returns:
      (loss, metrics) with metrics['loss'] the same scalar.

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_schedule("linear", 1000)
      >>> x0 = jnp.zeros((4096, 2))
      >>> loss, _ = denoising_loss(key, lambda x, t: jnp.zeros_like(x), x0, path)
      >>> round(float(loss), 1)  # E|eps|^2 per dimension
      1.0
    """
    check_prediction(prediction)
    if weighting not in WEIGHTINGS:
        raise ValueError(f"Unknown weighting {weighting!r}; expected one of {WEIGHTINGS}.")
    key_t, key_eps = jax.random.split(key)
    t = path.sample_t(key_t, x0.shape[0])
    x_t, eps = path.sample_marginal(key_eps, x0, t)
    target = from_x0_eps(path, x0, eps, t, prediction)
    per_example = mean_over_non_batch((model_fn(x_t, t, **cond) - target) ** 2)
    if weighting == "min_snr":
        per_example = min_snr_weight(path, t, prediction, snr_gamma) * per_example
    loss = jnp.mean(per_example)
    return loss, {"loss": loss}


WEIGHTINGS = ("uniform", "min_snr")


def min_snr_weight(path: GaussianPath, t: jax.Array, prediction: str, gamma: float) -> jax.Array:
    """Weight w(t) with w || pred - target ||^2 = min(SNR_t, gamma) || x0_hat - x_0 ||^2.

    With x_t = alpha x_0 + sigma eps and SNR = alpha^2 / sigma^2, an error in the prediction
    maps to an error in x0_hat scaled by: sigma / alpha (eps), 1 (x0),
    sigma / (alpha^2 + sigma^2) (v). So w = min(SNR, gamma) / SNR for eps (= min(1, gamma/SNR)),
    min(SNR, gamma) for x0, and min(SNR, gamma) sigma^2 / (alpha^2 + sigma^2)^2 for v
    (= min(SNR, gamma) / (SNR + 1) on a variance-preserving path).

    Args:
      path: the Gaussian path.
      t: times, shape (batch,).
      prediction: 'eps', 'x0' or 'v'.
      gamma: the cap on the SNR, > 0.

    Returns:
      Weights of shape (batch,).

    Example:
      >>> from gendiff.paths import VPPath
      >>> path = VPPath()
      >>> t = jnp.array([0.01, 0.5, 0.99])  # SNR from large to small
      >>> w = min_snr_weight(path, t, "eps", 5.0)
      >>> snr = jnp.exp(path.log_snr(t))
      >>> bool(jnp.allclose(w, jnp.minimum(snr, 5.0) / snr)), float(w[-1])  # noisy end: weight 1
      (True, 1.0)
    """
    if prediction not in ("eps", "x0", "v"):
        raise ValueError(
            f"weighting='min_snr' is defined for predictions 'eps', 'x0' and 'v', got {prediction!r}."
        )
    if not gamma > 0:
        raise ValueError(f"snr_gamma must be > 0, got {gamma}.")
    alpha, sigma = path.alpha(t), path.sigma(t)
    snr = jnp.exp(path.log_snr(t))
    capped = jnp.minimum(snr, gamma)
    if prediction == "eps":
        return jnp.minimum(1.0, gamma / snr)  # min(SNR, gamma) / SNR, finite as SNR -> inf
    if prediction == "x0":
        return capped
    return capped * sigma**2 / (alpha**2 + sigma**2) ** 2
