"""Conversions between what a diffusion network predicts: eps, x0, v, score or velocity.

On a Gaussian path x_t = alpha x_0 + sigma eps every parameterisation is an invertible
linear function of (x_0, eps) given x_t, so one pair of functions covers every case:

  eps:       eps
  x0:        x_0
  v:         alpha eps - sigma x_0                 (Salimans & Ho 2022)
  score:     grad log q(x_t) = -eps / sigma       (for the exact x_0 posterior mean, Tweedie)
  velocity:  d x_t / dt = alpha' x_0 + sigma' eps  (flow matching's target)
"""

from __future__ import annotations

import jax

from gendiff.paths.base import GaussianPath
from gendiff.utils import right_broadcast

PREDICTIONS = ("eps", "x0", "v", "score", "velocity")


def check_prediction(prediction: str) -> None:
    """Raises ValueError unless ``prediction`` is one of eps, x0, v, score, velocity.

    Example:
      >>> from gendiff.sampling import check_prediction
      >>> check_prediction("v")
      >>> check_prediction("noise")
      Traceback (most recent call last):
      ValueError: Unknown prediction type 'noise'; expected one of ('eps', 'x0', 'v', 'score', 'velocity').
    """
    if prediction not in PREDICTIONS:
        raise ValueError(f"Unknown prediction type {prediction!r}; expected one of {PREDICTIONS}.")


def _coefficients(path: GaussianPath, t: jax.Array, x: jax.Array):
    return right_broadcast(path.alpha(t), x), right_broadcast(path.sigma(t), x)


def to_x0_eps(
    path: GaussianPath, pred: jax.Array, x_t: jax.Array, t: jax.Array, prediction: str
) -> tuple[jax.Array, jax.Array]:
    """Recovers (x_0, eps) from a model output of the given parameterisation.

    Args:
      path: the Gaussian path.
      pred: the model output, same shape as x_t.
      x_t: the noisy input.
      t: times, shape (batch,).
      prediction: one of 'eps', 'x0', 'v', 'score', 'velocity'.

    Returns:
      (x0, eps) with x_t = alpha x0 + sigma eps.

    Example:
      >>> from gendiff.paths import VPPath
      >>> path, t = VPPath(), jnp.full((3,), 0.5)
      >>> x_t, eps_hat = jnp.ones((3, 2)), jnp.zeros((3, 2))
      >>> x0, eps = to_x0_eps(path, eps_hat, x_t, t, "eps")
      >>> bool(jnp.allclose(path.alpha(t)[:, None] * x0 + path.sigma(t)[:, None] * eps, x_t))
      True
    """
    check_prediction(prediction)
    alpha, sigma = _coefficients(path, t, x_t)
    if prediction == "eps":
        eps = pred
        return (x_t - sigma * eps) / alpha, eps
    if prediction == "x0":
        x0 = pred
        return x0, (x_t - alpha * x0) / sigma
    if prediction == "score":
        eps = -sigma * pred
        return (x_t - sigma * eps) / alpha, eps
    if prediction == "v":
        # [x_t; v] = [[alpha, sigma], [-sigma, alpha]] [x0; eps].
        norm = alpha**2 + sigma**2
        return (alpha * x_t - sigma * pred) / norm, (sigma * x_t + alpha * pred) / norm
    # velocity: [x_t; u] = [[alpha, sigma], [alpha', sigma']] [x0; eps].
    d_alpha, d_sigma = right_broadcast(path.d_alpha(t), x_t), right_broadcast(path.d_sigma(t), x_t)
    det = alpha * d_sigma - sigma * d_alpha
    return (d_sigma * x_t - sigma * pred) / det, (alpha * pred - d_alpha * x_t) / det


def from_x0_eps(
    path: GaussianPath, x0: jax.Array, eps: jax.Array, t: jax.Array, prediction: str
) -> jax.Array:
    """The target a model of the given parameterisation should output for (x_0, eps) at t.

    Example:
      >>> from gendiff.paths import RectifiedFlowPath
      >>> path, t = RectifiedFlowPath(), jnp.full((1,), 0.25)  # alpha = 1 - t, sigma = t
      >>> x0, eps = jnp.full((1, 2), 2.0), jnp.ones((1, 2))
      >>> # v = alpha eps - sigma x0 = 0.75 - 0.5, score = -eps / sigma, velocity = -x0 + eps
      >>> [float(from_x0_eps(path, x0, eps, t, p)[0, 0]) for p in ("v", "score", "velocity")]
      [0.25, -4.0, -1.0]
    """
    check_prediction(prediction)
    alpha, sigma = _coefficients(path, t, x0)
    if prediction == "eps":
        return eps
    if prediction == "x0":
        return x0
    if prediction == "score":
        return -eps / sigma
    if prediction == "v":
        return alpha * eps - sigma * x0
    d_alpha, d_sigma = right_broadcast(path.d_alpha(t), x0), right_broadcast(path.d_sigma(t), x0)
    return d_alpha * x0 + d_sigma * eps


def convert(
    path: GaussianPath, pred: jax.Array, x_t: jax.Array, t: jax.Array, source: str, target: str
) -> jax.Array:
    """Converts a model output from one parameterisation to another at (x_t, t).

    Example:
      >>> from gendiff.paths import VPPath
      >>> path, t = VPPath(), jnp.full((3,), 0.4)
      >>> x_t, eps_hat = jnp.ones((3, 2)), jnp.full((3, 2), 0.5)
      >>> v = convert(path, eps_hat, x_t, t, "eps", "v")
      >>> bool(jnp.allclose(convert(path, v, x_t, t, "v", "eps"), eps_hat, atol=1e-5))  # round trip
      True
      >>> score = convert(path, eps_hat, x_t, t, "eps", "score")
      >>> bool(jnp.allclose(score, -eps_hat / path.sigma(t)[:, None]))  # score = -eps / sigma
      True
    """
    x0, eps = to_x0_eps(path, pred, x_t, t, source)
    return from_x0_eps(path, x0, eps, t, target)
