"""Multistep DPM-Solver++(2M) (Lu et al. 2022b, Algorithm 2) with the data (x_0) prediction.

With lambda = log(alpha / sigma), the probability-flow ODE written for the data prediction
x_theta has the exact solution from t to s < t

  x_s = sigma_s / sigma_t x_t + sigma_s int_{lambda_t}^{lambda_s} e^{lambda} x_theta(lambda) dlambda.

DPM-Solver++(2M) keeps the x_0 prediction of the previous step and extrapolates linearly in
lambda, so each step costs one model evaluation and the method is second order; the first step
has no history and is first order (DDIM).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.parameterization import check_prediction
from gendiff.paths.base import GaussianPath
from gendiff.samplers._common import ModelFn, initial_state, x0_eps
from gendiff.samplers.grid import time_steps


def dpm_solver_pp_sample(
    key: jax.Array | None,
    model_fn: ModelFn,
    path: GaussianPath,
    shape: tuple[int, ...],
    *,
    num_steps: int,
    spacing: str = "logsnr",
    rho: float = 7.0,
    prediction: str = "eps",
    clip_x0: bool = False,
    x_init: jax.Array | None = None,
    **cond,
) -> jax.Array:
    """Solves the probability-flow ODE from t_max to t_min in num_steps steps and evaluations.

    On steps t_0 = t_max > ... > t_M = t_min, with h_i = lambda_{t_i} - lambda_{t_{i-1}}:

      x_1 = sigma_1 / sigma_0 x_0 - alpha_1 (e^{-h_1} - 1) x_theta(x_0, t_0),
      D_i = (1 + 1 / (2 r_i)) x_theta(x_{i-1}, t_{i-1}) - 1 / (2 r_i) x_theta(x_{i-2}, t_{i-2}),
      x_i = sigma_i / sigma_{i-1} x_{i-1} - alpha_i (e^{-h_i} - 1) D_i,   r_i = h_{i-1} / h_i.

    Args:
      key: PRNG key of the prior draw (its only randomness); may be None with x_init.
      model_fn: ``model_fn(x_t, t, **cond)``, t of shape (batch,).
      path: the Gaussian path of the model (finite log-SNR at t_min and t_max).
      shape: (batch, ...) of the samples.
      num_steps: the number of steps M >= 1, which is also the number of model evaluations.
      spacing: the step ends, 'logsnr' (uniform in lambda), 'time' or 'karras'.
      rho: the exponent of the 'karras' spacing.
      prediction: what ``model_fn`` outputs ('eps', 'x0', 'v', 'score', 'velocity').
      clip_x0: clip every x_0 prediction to the data range [-1, 1] (off by default).
      x_init: the state at t_max (the probability-flow latent) instead of a prior draw.
      **cond: conditioning for ``model_fn``.

    Returns:
      The state at t_min, of the given shape.

    Example:
      >>> x = dpm_solver_pp_sample(key, model_fn, VPPath(), (64, 2), num_steps=20)
    """
    check_prediction(prediction)
    times = time_steps(path, num_steps, spacing, rho)
    x = initial_state(key, path, shape, x_init)
    alpha, sigma = path.alpha(times), path.sigma(times)
    h = 0.5 * jnp.diff(path.log_snr(times))  # h_i, i = 1..M

    def denoise(x, t):
        x0 = x0_eps(model_fn, path, x, t, prediction, **cond)[0]
        return jnp.clip(x0, -1.0, 1.0) if clip_x0 else x0

    def update(x, i, d):
        # x_i = sigma_i / sigma_{i-1} x_{i-1} - alpha_i (e^{-h_i} - 1) D_i.
        return sigma[i] / sigma[i - 1] * x - alpha[i] * jnp.expm1(-h[i - 1]) * d

    def step(carry, i):
        x, x0_prev = carry
        x0 = denoise(x, times[i - 1])
        r = h[i - 2] / h[i - 1]
        d = (1.0 + 0.5 / r) * x0 - 0.5 / r * x0_prev
        return (update(x, i, d), x0), None

    x0 = denoise(x, times[0])
    x = update(x, 1, x0)  # the first step is first order
    (x, _), _ = jax.lax.scan(step, (x, x0), jnp.arange(2, num_steps + 1))
    return x
