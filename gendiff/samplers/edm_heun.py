"""EDM's Heun sampler (Karras et al. 2022, Algorithms 1 and 2) on any Gaussian path.

On a path x_t = alpha x_0 + sigma eps the rescaled state x~ = x / alpha has the marginals
x_0 + sigma~ eps of EDM's own path, with sigma~ = sigma / alpha, and the probability-flow ODE
in these coordinates is EDM's

  dx~ / dsigma~ = eps(alpha(t) x~, t),   t = t(sigma~)   (the model's eps at the matching time).

The sampler integrates it on Karras's noise levels with Heun's method, falling back to Euler
on the last step, the one into sigma~ = 0 where the model is not evaluated: that step returns the
model's x_0 prediction at t_min (``denoise_final=True``, EDM's Algorithm 1). With
``denoise_final=False`` every step is a Heun step and the result is the state at t_min.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from gendiff.paths.base import GaussianPath
from gendiff.paths.grid import check_rho, time_grid
from gendiff.sampling import (
    ModelFn,
    check_count,
    check_finite_log_snr,
    check_prediction,
    initial_state,
    model_x0_eps,
)


def edm_heun_sample(
    key: jax.Array | None,
    model_fn: ModelFn,
    path: GaussianPath,
    shape: tuple[int, ...],
    *,
    num_steps: int,
    rho: float = 7.0,
    prediction: str = "eps",
    s_churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = math.inf,
    s_noise: float = 1.0,
    x_init: jax.Array | None = None,
    clip_x0: bool = False,
    denoise_final: bool = True,
    spacing: str = "karras",
    dtype=None,
    **cond,
) -> jax.Array:
    """Solves the probability-flow ODE from t_max to the data with N steps and 2N - 1 evaluations.

    The levels are sigma~_i = karras_sigmas(N, sigma~(t_min), sigma~(t_max), rho)
    (sigma~_{N-1} at t_min, sigma~_N = 0), i.e. the times ``time_grid(path, N - 1, 'karras')``.
    Steps 0..N-2 are Heun steps (Algorithm 1, lines 5-8); step N-1 is an Euler step into
    sigma~ = 0, which returns the model's x_0 estimate at t_min. With ``denoise_final=False`` the
    N steps are all Heun steps on ``time_grid(path, N, 'karras')`` (2N evaluations), ending at
    t_min.
    With s_churn > 0 each step first raises the noise to sigma^_i = (1 + gamma_i) sigma~_i,
    gamma_i = min(s_churn / N, sqrt(2) - 1) for s_tmin <= sigma~_i <= s_tmax (Algorithm 2),
    capped at sigma~(t_max), by adding fresh noise of std s_noise sqrt(sigma^_i^2 - sigma~_i^2)
    (drawn with ``fold_in(key, i + 1)``); s_churn = 0 is the deterministic Algorithm 1.

    Args:
      key: PRNG key of the prior draw (and of the churn noise); may be None with x_init and
        no churn.
      model_fn: ``model_fn(x_t, t, **cond)``, t of shape (batch,).
      path: the Gaussian path of the model (finite log-SNR at t_min and t_max).
      shape: (batch, ...) of the samples.
      num_steps: the number of steps N >= 1.
      rho: the spacing exponent of the levels, > 0.
      prediction: what ``model_fn`` outputs ('eps', 'x0', 'v', 'score', 'velocity').
      s_churn, s_tmin, s_tmax, s_noise: Algorithm 2's churn, in units of sigma~.
      x_init: the state at t_max (the probability-flow latent) instead of a prior draw.
      clip_x0: clip every x_0 prediction to [-1, 1] (eps recomputed to match).
      denoise_final: end with the Euler step into sigma~ = 0 (the x_0 prediction at t_min).
      spacing: the levels' spacing (:func:`gendiff.paths.grid.time_grid`), 'karras' by default.
      dtype: the state dtype when x_init is None (default float32).
      **cond: conditioning for ``model_fn``.

    Returns:
      Samples of the given shape (the data end, sigma~ = 0, or the state at t_min).

    Example:
      >>> from gendiff.paths import EDMPath
      >>> edm_heun_sample(key, model_fn, EDMPath(), (16, 8, 8, 3), num_steps=18).shape  # 35 NFE
      (16, 8, 8, 3)
    """
    check_prediction(prediction)
    check_count("num_steps", num_steps)
    check_rho(rho)
    check_finite_log_snr(path)
    if s_churn < 0:
        raise ValueError(f"s_churn must be >= 0, got {s_churn}.")
    if s_churn > 0 and key is None:
        raise ValueError("key is required when s_churn > 0 (the churn noise needs it).")
    x = initial_state(key, path, shape, x_init, dtype)

    num_heun = num_steps - 1 if denoise_final else num_steps
    if num_heun == 0:
        times = jnp.full((1,), path.t_max, x.dtype)
    else:
        times = time_grid(path, num_heun, spacing, rho=rho, dtype=x.dtype)
    sigmas = jnp.exp(-0.5 * path.log_snr(times))  # sigma~ = sigma / alpha
    if denoise_final:
        sigma_next, times_next = jnp.append(sigmas[1:], 0.0), times[1:]
    else:
        times, sigmas, sigma_next = times[:-1], sigmas[:-1], sigmas[1:]
        times_next = time_grid(path, num_heun, spacing, rho=rho, dtype=x.dtype)[1:]
    t_hat, sigma_hat = times, sigmas
    if s_churn > 0:
        in_range = (sigmas >= s_tmin) & (sigmas <= s_tmax)
        gamma = jnp.where(in_range, min(s_churn / num_steps, math.sqrt(2.0) - 1.0), 0.0)
        sigma_hat = jnp.minimum((1.0 + gamma) * sigmas, sigmas[0])
        t_hat = jnp.where(gamma > 0, path.t_from_log_snr(-2.0 * jnp.log(sigma_hat)), times)
        churn_std = s_noise * jnp.sqrt(jnp.maximum(sigma_hat**2 - sigmas**2, 0.0))

    def churn(x_tilde, i):
        # Algorithm 2, lines 4-6: x^ = x + sqrt(sigma^^2 - sigma^2) S_noise z.
        if s_churn == 0:
            return x_tilde
        z = jax.random.normal(jax.random.fold_in(key, i + 1), x_tilde.shape, x_tilde.dtype)
        return x_tilde + churn_std[i] * z

    def slope(x_tilde, t):
        # d = (x~ - D(x~; sigma~)) / sigma~ = eps, the model evaluated at x = alpha x~.
        x = (path.alpha(t) * x_tilde).astype(x_tilde.dtype)
        return model_x0_eps(model_fn, path, x, t, prediction, clip_x0, **cond)[1]

    def heun_step(x_tilde, i):
        x_hat = churn(x_tilde, i)
        h = sigma_next[i] - sigma_hat[i]
        d = slope(x_hat, t_hat[i])
        x_euler = x_hat + h * d  # Euler predictor
        d_next = slope(x_euler, times_next[i])
        return x_hat + 0.5 * h * (d + d_next), None  # trapezoidal corrector

    x_tilde = x / path.alpha(jnp.asarray(path.t_max, x.dtype))
    if num_heun > 0:  # with one level and denoise_final, the only step is the last Euler one
        x_tilde, _ = jax.lax.scan(heun_step, x_tilde, jnp.arange(num_heun))
    if not denoise_final:
        return x_tilde * path.alpha(jnp.asarray(path.t_min, x.dtype))
    # The last step, into sigma~_N = 0, is Euler: x~_N = x^ - sigma^ d, the x_0 estimate.
    last = num_steps - 1
    x_hat = churn(x_tilde, last)
    return x_hat - sigma_hat[last] * slope(x_hat, t_hat[last])
