"""Multistep DPM-Solver++ (Lu et al. 2022b) with the data (x_0) prediction: 2M, 3M and 2M-SDE, as
coefficients over one multistep driver in lambda = log(alpha / sigma).

On the grid t_0 = t_max > ... > t_K = t_min, with h_i = lambda_{i+1} - lambda_i > 0, each step
evaluates the model once, m_i = x_theta(x_i, t_i), and keeps the last two evaluations (m_{i-1},
m_{i-2}) to extrapolate x_theta in lambda. The probability-flow ODE from t_i to t_{i+1} has the
exact solution

  x_{i+1} = sigma_{i+1} / sigma_i x_i + alpha_{i+1} int_0^h e^{u - h} x_theta(lambda_i + u) du,

and the reverse SDE (the data-prediction form of Lu et al. 2022b, §5)

  x_{i+1} = sigma_{i+1} / sigma_i e^{-h} x_i + alpha_{i+1} int_0^h 2 e^{2 (u - h)} x_theta du
            + sigma_{i+1} sqrt(1 - e^{-2h}) z.

With x_theta(lambda_i + u) ~ m_i + a u + b u^2 (a, b from divided differences of m_i, m_{i-1},
m_{i-2} over the past steps h_{i-1}, h_{i-2}) the integrals are, with e = exp(-h):

  ODE:  phi_1 = 1 - e,   phi_2 = h - 1 + e,   phi_3 = h^2 - 2 h + 2 - 2 e   (times m, a, b);
  SDE:  psi_1 = 1 - e^2,  psi_2 = h - (1 - e^2) / 2                          (times m, a).

- '2m' is the paper's Algorithm 2: x_{i+1} = sigma_{i+1}/sigma_i x_i + alpha_{i+1} phi_1 D,
  D = (1 + 1 / (2 r)) m_i - 1 / (2 r) m_{i-1}, r = h_{i-1} / h_i (second order).
- '3m' uses the quadratic extrapolation with the exact phi_1..phi_3 (third order).
- '2m_sde' uses the linear extrapolation with the exact psi_1, psi_2 (the stochastic second-order
  multistep solver); its first-order step is DDPM's posterior step (DDIM with eta = 1).

The first steps, with less history, drop to the order their history allows.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.paths.base import GaussianPath
from gendiff.paths.grid import time_grid
from gendiff.sampling import (
    ModelFn,
    check_count,
    check_finite_log_snr,
    check_prediction,
    initial_state,
    model_x0_eps,
)

METHODS = {"2m": 2, "3m": 3, "2m_sde": 2}  # method -> order


def _safe(h, valid):
    return jnp.where(valid, h, jnp.ones_like(h))


def dpm_solver_pp_update(method, x, m, h, lam_step, sigma_ratio, alpha_next, sigma_next, z):
    """One step of a multistep DPM-Solver++ method (module docstring).

    Args:
      method: '2m', '3m' or '2m_sde'.
      x: the state at t_i.
      m: (m_i, m_{i-1}, m_{i-2}), the current and past x_0 predictions.
      h: (h_i, h_{i-1}, h_{i-2}), the current and past lambda steps.
      lam_step: the number of past evaluations available, min(i, 2).
      sigma_ratio: sigma_{i+1} / sigma_i.
      alpha_next, sigma_next: alpha and sigma at t_{i+1}.
      z: standard normal noise (used by '2m_sde' only).

    Returns:
      The state at t_{i+1}.

    Example:
      >>> from gendiff.samplers import dpm_solver_pp_update
      >>> x, z, h = jnp.ones(1), jnp.zeros(1), (0.5, 0.4, 0.3)
      >>> step = lambda method, m: dpm_solver_pp_update(method, x, m, h, 2, 0.8, 0.6, 0.7, z)
      >>> # a constant x_0 prediction: 2M is exact, 0.8 x + 0.6 (1 - e^-h) m
      >>> m = (jnp.full(1, 0.2),) * 3
      >>> round(float(step("2m", m)[0]), 6), round(0.8 + 0.6 * (1 - float(np.exp(-0.5))) * 0.2, 6)
      (0.847216, 0.847216)
      >>> # x_theta(lambda_i + u) = u^2 through the three past points: 3M is exact, 0.8 x + 0.6 phi_3
      >>> m = (jnp.zeros(1), jnp.full(1, 0.4**2), jnp.full(1, 0.7**2))
      >>> round(float(step("3m", m)[0]), 5), round(0.8 + 0.6 * (1.25 - 2 * float(np.exp(-0.5))), 5)
      (0.82216, 0.82216)
    """
    m0, m1, m2 = m
    h0, h1, h2 = h  # h0 is this step's
    has1, has2 = lam_step >= 1, lam_step >= 2
    d1 = jnp.where(has1, (m0 - m1) / _safe(h1, has1), 0.0)  # ~ x_theta'
    if method == "2m":
        r = _safe(h1, has1) / h0
        d = jnp.where(has1, m0 + 0.5 / r * (m0 - m1), m0)
        return sigma_ratio * x - alpha_next * jnp.expm1(-h0) * d
    if method == "2m_sde":
        psi_1 = -jnp.expm1(-2.0 * h0)
        psi_2 = h0 + 0.5 * jnp.expm1(-2.0 * h0)
        mean = sigma_ratio * jnp.exp(-h0) * x + alpha_next * (psi_1 * m0 + psi_2 * d1)
        return mean + sigma_next * jnp.sqrt(psi_1) * z
    # 3m: x_theta(u) = m0 + a u + b u^2 through (0, m0), (-h1, m1), (-h1 - h2, m2).
    d2 = jnp.where(has2, (m1 - m2) / _safe(h2, has2), 0.0)
    b = jnp.where(has2, (d1 - d2) / _safe(h1 + h2, has2), 0.0)
    a = d1 + h1 * b
    phi_1 = -jnp.expm1(-h0)
    phi_2 = h0 + jnp.expm1(-h0)
    phi_3 = h0**2 - 2.0 * phi_2
    return sigma_ratio * x + alpha_next * (phi_1 * m0 + phi_2 * a + phi_3 * b)


def dpm_solver_pp_sample(
    key: jax.Array | None,
    model_fn: ModelFn,
    path: GaussianPath,
    shape: tuple[int, ...],
    *,
    num_steps: int,
    method: str = "2m",
    spacing: str = "logsnr",
    rho: float = 7.0,
    prediction: str = "eps",
    clip_x0: bool = False,
    x_init: jax.Array | None = None,
    denoise_final: bool = False,
    dtype=None,
    **cond,
) -> jax.Array:
    """Runs num_steps multistep DPM-Solver++ steps from t_max to t_min, one evaluation each.

    The whole run is one ``lax.scan`` whose carry holds the state and the last two x_0
    predictions.

    Args:
      key: PRNG key of the prior draw and, for '2m_sde', of the step noise (step i uses
        ``fold_in(key, i + 1)``); may be None with x_init for the ODE methods.
      model_fn: ``model_fn(x_t, t, **cond)``, t of shape (batch,).
      path: the Gaussian path of the model (finite log-SNR at t_min and t_max).
      shape: (batch, ...) of the samples.
      num_steps: the number of steps K >= 1, which is also the number of model evaluations.
      method: '2m' (the paper's Algorithm 2), '3m' or '2m_sde' (module docstring).
      spacing: the grid's spacing (:func:`gendiff.paths.grid.time_grid`), 'logsnr' by default.
      rho: the exponent of the 'karras' spacing.
      prediction: what ``model_fn`` outputs ('eps', 'x0', 'v', 'score', 'velocity').
      clip_x0: clip every x_0 prediction to the data range [-1, 1] (off by default).
      x_init: the state at t_max (the probability-flow latent) instead of a prior draw.
      denoise_final: after reaching t_min, return the model's x_0 prediction there (one more
        evaluation, K + 1 in all).
      dtype: the state dtype when x_init is None (default float32).
      **cond: conditioning for ``model_fn``.

    Returns:
      The state at t_min (or its x_0 prediction), of the given shape.

    Example:
      >>> from gendiff.paths import VPPath
      >>> x = dpm_solver_pp_sample(key, model_fn, VPPath(), (64, 2), num_steps=20)
      >>> x = dpm_solver_pp_sample(key, model_fn, VPPath(), (64, 2), num_steps=20, method="3m")
      >>> x.shape
      (64, 2)
    """
    check_prediction(prediction)
    if method not in METHODS:
        raise ValueError(
            f"Unknown DPM-Solver++ method {method!r}; expected one of {tuple(METHODS)}."
        )
    check_count("num_steps", num_steps)
    check_finite_log_snr(path)
    stochastic = method == "2m_sde"
    if stochastic and key is None:
        raise ValueError("key is required by the '2m_sde' method (its step noise needs it).")
    x = initial_state(key, path, shape, x_init, dtype)
    times = time_grid(path, num_steps, spacing, rho=rho, dtype=x.dtype)
    alpha, sigma = path.alpha(times), path.sigma(times)
    h = 0.5 * path.log_snr_gap(times[1:], times[:-1])  # h_i = lambda_{i+1} - lambda_i
    h_past = jnp.concatenate([jnp.zeros(2, h.dtype), h])  # h_past[i + 2 - j] = h_{i-j}

    def denoise(x, t):
        return model_x0_eps(model_fn, path, x, t, prediction, clip_x0, **cond)[0]

    def step(carry, i):
        x, m1, m2 = carry
        m0 = denoise(x, times[i])
        z = None
        if stochastic:
            z = jax.random.normal(jax.random.fold_in(key, i + 1), x.shape, x.dtype)
        x_next = dpm_solver_pp_update(
            method,
            x,
            (m0, m1, m2),
            (h[i], h_past[i + 1], h_past[i]),
            jnp.minimum(i, 2),
            sigma[i + 1] / sigma[i],
            alpha[i + 1],
            sigma[i + 1],
            z,
        )
        return (x_next.astype(x.dtype), m0, m1), None

    zeros = jnp.zeros_like(x)
    (x, _, _), _ = jax.lax.scan(step, (x, zeros, zeros), jnp.arange(num_steps))
    if denoise_final:
        x = denoise(x, times[-1])
    return x
