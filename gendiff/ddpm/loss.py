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
    **cond,
) -> tuple[jax.Array, dict]:
    """Mean squared error of the model's prediction of its target at a random time.

    t ~ path.sample_t (U{1..T}/T on the discrete DDPM path), eps ~ N(0, I),
    x_t = alpha_t x_0 + sigma_t eps, and the loss is E || model(x_t, t) - target ||^2 averaged
    over dimensions. With prediction='eps' it is L_simple of Ho et al. (2020, eq. 14),
    E || eps - eps_theta(sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, t) ||^2; 'x0' and 'v'
    regress x_0 and v = alpha eps - sigma x_0 (Salimans & Ho 2022) instead.

    Args:
      key: PRNG key.
      model_fn: ``model_fn(x_t, t, **cond)`` with t of shape (batch,).
      x0: clean data, (batch, ...).
      path: the Gaussian path.
      prediction: 'eps', 'x0', 'v', 'score' or 'velocity'.
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
    key_t, key_eps = jax.random.split(key)
    t = path.sample_t(key_t, x0.shape[0])
    x_t, eps = path.sample_marginal(key_eps, x0, t)
    target = from_x0_eps(path, x0, eps, t, prediction)
    per_example = mean_over_non_batch((model_fn(x_t, t, **cond) - target) ** 2)
    loss = jnp.mean(per_example)
    return loss, {"loss": loss}
