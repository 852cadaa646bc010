"""The diffusion classifier (Li et al. 2023): a conditional diffusion model as a zero-shot classifier.

By Bayes, p(y | x) is proportional to p(x | y) p(y), and the conditional model bounds log p(x | y)
by its denoising error. With a uniform class prior the decision is

    y_hat = argmin_y E_{t, eps} || eps - eps_theta(alpha_t x + sigma_t eps, t, y) ||^2,

estimated by Monte Carlo with the SAME (t, eps) draws for every class, so the noise common
to all classes cancels in the comparison (the variance reduction of the paper).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.parameterization import check_prediction, to_x0_eps
from gendiff.paths.base import GaussianPath
from gendiff.utils import sum_over_non_batch

ModelFn = Callable[..., jax.Array]


def diffusion_classifier_logits(
    key: jax.Array,
    model_fn: ModelFn,
    path: GaussianPath,
    x: jax.Array,
    num_classes: int,
    *,
    num_samples: int,
    prediction: str = "eps",
) -> jax.Array:
    """Class scores -1/2 E_{t, eps} ||eps - eps_theta(x_t, t, y)||^2 of a conditional model.

    For each of ``num_samples`` draws t ~ path.sample_t and eps ~ N(0, I) (per image, shared by
    all classes), x_t = alpha_t x + sigma_t eps goes through the model once for all classes
    together (a batch of num_classes * batch rows); the squared error of the eps prediction is
    summed over the dimensions and averaged over the draws. The constant -1/2 is that of a
    Gaussian log-density: the logits are the ELBO of log p(x | y) with the unit ("simple", Ho et
    al. 2020) weighting of the times in place of the exact weighting -d log SNR / dt, up to a
    term that is the same for every class. It sets the temperature of softmax(logits) only;
    the decision, the arg-max, is the one of Li et al.

    Args:
      key: PRNG key; draw i uses ``fold_in(key, i)``.
      model_fn: ``model_fn(x_t, t, y=labels)``, a class-conditional model.
      path: its Gaussian path.
      x: clean inputs, (batch, ...).
      num_classes: classes 0..num_classes-1 are scored.
      num_samples: Monte Carlo draws of (t, eps) per input (a Python int >= 1).
      prediction: what ``model_fn`` outputs ('eps', 'x0', 'v', 'score', 'velocity').

    Returns:
      Logits of shape (batch, num_classes); the arg-max is the diffusion classifier's decision.

    Example:
      >>> from gendiff.paths import VPPath
      >>> conditional = lambda x, t, y: 0.5 * x + 0.01 * y[:, None]  # a toy eps(x_t, t, y)
      >>> x = jnp.zeros((4, 2))
      >>> diffusion_classifier_logits(key, conditional, VPPath(), x, 10, num_samples=8).shape
      (4, 10)
    """
    check_prediction(prediction)
    for name, value in (("num_classes", num_classes), ("num_samples", num_samples)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive Python int, got {value!r}.")
    batch = x.shape[0]
    classes = jnp.repeat(jnp.arange(num_classes), batch)  # class-major rows: (K * B,)

    def squared_error(total, i):
        key_t, key_eps = jax.random.split(jax.random.fold_in(key, i))
        t = path.sample_t(key_t, batch)
        x_t, eps = path.sample_marginal(key_eps, x, t)
        tile = lambda a: jnp.tile(a, (num_classes,) + (1,) * (a.ndim - 1))
        x_t, t, eps = tile(x_t), tile(t), tile(eps)  # the same (t, eps) for every class
        _, eps_hat = to_x0_eps(path, model_fn(x_t, t, y=classes), x_t, t, prediction)
        error = sum_over_non_batch((eps - eps_hat) ** 2)  # (K * B,)
        return total + error.reshape(num_classes, batch), None

    total, _ = jax.lax.scan(squared_error, jnp.zeros((num_classes, batch)), jnp.arange(num_samples))
    return -0.5 * total.T / num_samples
