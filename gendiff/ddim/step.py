"""One DDIM step (Song et al. 2021) between two times s < t of any Gaussian path.

Written with alpha and sigma instead of alpha_bar, the update of eq. 12 is

  x_s = alpha_s x0_hat + sqrt(sigma_s^2 - c^2) eps_hat + c z,   z ~ N(0, I),
  c   = eta sqrt(sigma_s^2 / sigma_t^2 (1 - alpha_t^2 sigma_s^2 / (alpha_s^2 sigma_t^2)))   (eq. 16)

where (x0_hat, eps_hat) is the model's decomposition of x_t = alpha_t x0_hat + sigma_t eps_hat.
c^2 / eta^2 is the posterior variance of q(x_s | x_t, x_0), so eta = 1 is DDPM's ancestral step
with the 'small' (beta-tilde) variance and eta = 0 is the deterministic DDIM, a first-order
solver of the probability-flow ODE in the coordinates x / alpha and sigma / alpha.
With e = exp(lambda_t - lambda_s) = alpha_t^2 sigma_s^2 / (alpha_s^2 sigma_t^2), the eps
coefficient is sigma_s sqrt(1 - eta^2 + eta^2 e), which has no cancellation for any eta.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.ddpm.posterior import reverse_variance
from gendiff.paths.base import GaussianPath
from gendiff.sampling import model_x0_eps
from gendiff.utils import right_broadcast

ModelFn = Callable[..., jax.Array]


def check_eta(eta) -> None:
    """Raises ValueError unless eta is a finite scalar in [0, 1]; traced values pass unchecked.

    Example:
      >>> check_eta(0.0), check_eta(1.0)  # DDIM and the ancestral sampler's noise
      (None, None)
      >>> check_eta(1.5)
      Traceback (most recent call last):
      ValueError: eta must be finite and in [0, 1], got 1.5.
    """
    if isinstance(eta, jax.core.Tracer):
        return
    if jnp.ndim(eta) != 0:
        raise ValueError(f"eta must be a scalar in [0, 1], got an array of shape {jnp.shape(eta)}.")
    value = float(eta)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"eta must be finite and in [0, 1], got {value}.")


def predict_x0_eps(
    model_fn: ModelFn,
    path: GaussianPath,
    x_t: jax.Array,
    t: jax.Array,
    *,
    prediction: str = "eps",
    clip_x0: bool = False,
    **cond,
) -> tuple[jax.Array, jax.Array]:
    """The model's (x0_hat, eps_hat) at (x_t, t), with x_t = alpha_t x0_hat + sigma_t eps_hat.

    With ``clip_x0`` the x_0 estimate is clipped to the data range [-1, 1] and eps_hat is
    recomputed from it, so the pair still reproduces x_t.

    Example:
      >>> from gendiff.paths import VPPath
      >>> path, t = VPPath(), jnp.full((3,), 0.5)
      >>> x_t = 3.0 * jnp.ones((3, 2))
      >>> for clip in (False, True):
      ...     x0, eps = predict_x0_eps(model_fn, path, x_t, t, clip_x0=clip)
      ...     x_again = path.alpha(t)[:, None] * x0 + path.sigma(t)[:, None] * eps
      ...     print(float(x0.max()) <= 1.0, bool(jnp.allclose(x_again, x_t, atol=1e-5)))
      False True
      True True
    """
    return model_x0_eps(model_fn, path, x_t, t, prediction, clip_x0, **cond)


def ddim_noise_std(path: GaussianPath, s: jax.Array, t: jax.Array, eta) -> jax.Array:
    """c = eta sqrt(beta-tilde(s, t)), the std of the noise a DDIM step from t to s adds (eq. 16).

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_schedule("linear", 1000)
      >>> c = ddim_noise_std(path, jnp.array([0.5]), jnp.array([0.6]), eta=1.0)
      >>> bool(c[0] > 0)  # eta = 1: the ancestral sampler's noise
      True
    """
    return eta * jnp.sqrt(reverse_variance(path, s, t, "small"))


def ddim_mean(
    model_fn: ModelFn,
    path: GaussianPath,
    x_t: jax.Array,
    s: jax.Array,
    t: jax.Array,
    *,
    eta=0.0,
    prediction: str = "eps",
    clip_x0: bool = False,
    **cond,
) -> jax.Array:
    """alpha_s x0_hat + sqrt(sigma_s^2 - c^2) eps_hat: the mean of the DDIM step from t to s.

    With eta = 1 this is the posterior mean of q(x_s | x_t, x0_hat), DDPM's reverse mean.

    Example:
      >>> from gendiff.paths import VPPath
      >>> x_t = jnp.ones((8, 2))
      >>> ddim_mean(model_fn, VPPath(), x_t, s=jnp.full(8, 0.4), t=jnp.full(8, 0.5)).shape
      (8, 2)
    """
    check_eta(eta)
    x0, eps = predict_x0_eps(model_fn, path, x_t, t, prediction=prediction, clip_x0=clip_x0, **cond)
    # decay = exp(lambda_t - lambda_s) = alpha_t^2 sigma_s^2 / (alpha_s^2 sigma_t^2)
    decay = jnp.exp(-path.log_snr_gap(s, t))
    eps_coef = path.sigma(s) * jnp.sqrt(1.0 - eta**2 + eta**2 * decay)  # sqrt(sigma_s^2 - c^2)
    return right_broadcast(path.alpha(s), x_t) * x0 + right_broadcast(eps_coef, x_t) * eps


def ddim_step(
    key: jax.Array | None,
    model_fn: ModelFn,
    path: GaussianPath,
    x_t: jax.Array,
    s: jax.Array,
    t: jax.Array,
    *,
    eta=0.0,
    prediction: str = "eps",
    clip_x0: bool = False,
    **cond,
) -> jax.Array:
    """One DDIM step x_s = alpha_s x0_hat + sqrt(sigma_s^2 - c^2) eps_hat + c z (eq. 12).

    Args:
      key: PRNG key of z; may be None when eta is 0 (then no noise is drawn).
      model_fn: ``model_fn(x_t, t, **cond)``.
      path: the Gaussian path the model was trained on.
      x_t: current state, (batch, ...).
      s, t: times s < t, each (batch,).
      eta: the noise scale in [0, 1]: 0 is the deterministic DDIM, 1 is DDPM's ancestral step.
      prediction: what ``model_fn`` outputs ('eps', 'x0', 'v', 'score', 'velocity').
      clip_x0: clip the x_0 estimate to [-1, 1] (eps_hat is recomputed to match).
      **cond: conditioning for ``model_fn``.

    Returns:
      x_s, same shape as x_t.

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_schedule("linear", 1000)
      >>> s, t, x_t = jnp.full(16, 0.5), jnp.full(16, 0.6), jnp.ones((16, 2))
      >>> ddim_step(None, model_fn, path, x_t, s, t).shape  # eta = 0: deterministic
      (16, 2)
    """
    check_eta(eta)
    deterministic = not isinstance(eta, jax.core.Tracer) and float(eta) == 0.0
    if key is None and not deterministic:
        raise ValueError("key may be None only when eta is a concrete 0.")
    mean = ddim_mean(
        model_fn, path, x_t, s, t, eta=eta, prediction=prediction, clip_x0=clip_x0, **cond
    )
    if deterministic:  # c = 0: no noise to draw
        return mean
    z = jax.random.normal(key, x_t.shape, x_t.dtype)
    return mean + right_broadcast(ddim_noise_std(path, s, t, eta), x_t) * z
