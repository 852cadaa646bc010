"""Singlestep DPM-Solver-1, 2 and 3 (Lu et al. 2022a) with the noise (eps) prediction.

With lambda = log(alpha / sigma) (half the path's log-SNR) the probability-flow ODE has the
exact solution from t to s < t (eq. 3.4)

  x_s = alpha_s / alpha_t x_t - alpha_s int_{lambda_t}^{lambda_s} e^{-lambda} eps(lambda) dlambda,

and DPM-Solver-k approximates eps by its Taylor expansion in lambda to order k - 1, with the
derivatives replaced by differences of k model evaluations between t and s. Order 1 is DDIM:
x_s = alpha_s / alpha_t x_t - sigma_s (e^h - 1) eps(x_t, t), h = lambda_s - lambda_t.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

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

ORDERS = (1, 2, 3)
# Where the intermediate evaluations of an order-k step sit, as fractions r of h
# (Algorithms 1 and 2 with r1 = 1/2, and r1 = 1/3, r2 = 2/3).
INTERMEDIATE_FRACTIONS = {1: (), 2: (0.5,), 3: (1.0 / 3.0, 2.0 / 3.0)}


def singlestep_orders(nfe: int, order: int) -> tuple[int, ...]:
    """The orders of the steps of DPM-Solver-fast (Lu et al. 2022a, §3.4), spending nfe evaluations.

    Order 1: nfe steps of order 1. Order 2: nfe // 2 steps of order 2, then one of order 1 when
    nfe is odd. Order 3, with K = nfe // 3 + 1 steps: nfe % 3 == 0 gives K - 2 steps of order 3
    then one of order 2 and one of order 1; nfe % 3 == 1 gives K - 1 of order 3 then one of
    order 1; nfe % 3 == 2 gives K - 1 of order 3 then one of order 2.

    Example:
      >>> singlestep_orders(10, 3)
      (3, 3, 3, 1)
    """
    if order not in ORDERS:
        raise ValueError(f"Unknown DPM-Solver order {order!r}; expected one of {ORDERS}.")
    check_count("nfe", nfe, order, reason=f" (the order, {order})")
    full, rest = divmod(nfe, order)
    if order == 3 and rest == 0:
        return (3,) * (full - 1) + (2, 1)
    return (order,) * full + ((rest,) if rest else ())


def dpm_solver_update(
    eps_fn: Callable[[jax.Array, jax.Array], jax.Array],
    path: GaussianPath,
    x: jax.Array,
    times: jax.Array,
    order: int,
) -> jax.Array:
    """One DPM-Solver-k step from t = times[0] to s = times[-1], k = ``order``.

    Args:
      eps_fn: ``eps_fn(x, t)`` -> the model's eps at scalar time t.
      path: the Gaussian path.
      x: the state at t.
      times: (order + 1,) the times t, the intermediate times s_1 (, s_2), and s.
      order: 1, 2 or 3.

    Returns:
      The state at s.

    Example:
      >>> from gendiff.paths import VPPath
      >>> from gendiff.samplers import dpm_solver_update
      >>> from gendiff.samplers.dpm_solver import INTERMEDIATE_FRACTIONS
      >>> path, c2 = VPPath(), 4.0  # data N(0, c2): eps(x, t) = sigma_t x / std_t^2
      >>> std = lambda u: jnp.sqrt(path.alpha(u) ** 2 * c2 + path.sigma(u) ** 2)
      >>> eps_fn = lambda x, u: path.sigma(u) * x / std(u) ** 2
      >>> t, s, x = jnp.array(0.5), jnp.array(0.3), jnp.ones(1)
      >>> exact = x * std(s) / std(t)  # the probability-flow ODE keeps x / std_t
      >>> def times(order):  # t, the intermediate times at fractions r of the lambda step, s
      ...     lt, ls = path.log_snr(t), path.log_snr(s)
      ...     mid = [path.t_from_log_snr(lt + r * (ls - lt)) for r in INTERMEDIATE_FRACTIONS[order]]
      ...     return jnp.stack([t, *mid, s])
      >>> errors = [float(jnp.abs(dpm_solver_update(eps_fn, path, x, times(k), k) - exact)[0])
      ...           for k in (1, 2, 3)]
      >>> errors[0] > errors[1] > errors[2], errors[2] < 0.01  # 0.155, 0.051, 0.0034
      (True, True)
    """
    alpha, sigma = path.alpha(times), path.sigma(times)
    lam = 0.5 * path.log_snr(times)
    h = lam[-1] - lam[0]
    eps_t = eps_fn(x, times[0])

    def first_order(j):
        # DDIM from t to times[j]: alpha_j / alpha_t x - sigma_j (e^{h_j} - 1) eps_t.
        return alpha[j] / alpha[0] * x - sigma[j] * jnp.expm1(lam[j] - lam[0]) * eps_t

    if order == 1:
        return first_order(-1)
    if order == 2:
        # Algorithm 1: u = DDIM to s_1, then a correction with D = eps(u, s_1) - eps_t.
        (r1,) = INTERMEDIATE_FRACTIONS[2]
        d1 = eps_fn(first_order(1), times[1]) - eps_t
        return first_order(-1) - sigma[-1] / (2.0 * r1) * jnp.expm1(h) * d1
    # Algorithm 2: u_1 = DDIM to s_1; u_2 at s_2 corrected with D_1; x_s corrected with D_2.
    r1, r2 = INTERMEDIATE_FRACTIONS[3]
    d1 = eps_fn(first_order(1), times[1]) - eps_t
    phi_2 = jnp.expm1(r2 * h) / (r2 * h) - 1.0
    u2 = first_order(2) - sigma[2] * r2 / r1 * phi_2 * d1
    d2 = eps_fn(u2, times[2]) - eps_t
    return first_order(-1) - sigma[-1] / r2 * (jnp.expm1(h) / h - 1.0) * d2


def _step_times(
    path: GaussianPath, nfe: int, order: int, spacing: str, rho: float, dtype
) -> tuple[tuple[int, ...], jax.Array]:
    """DPM-Solver-fast's step orders and (K, 4) rows [t, s_1, s_2, s] of their times.

    The K + 1 step ends come from :func:`gendiff.paths.grid.time_grid`; s_j has
    lambda_t + r_j (lambda_s - lambda_t) with the step's own fractions r_j (unused columns repeat
    t), mapped to times by one ``path.t_from_log_snr``.
    """
    orders = singlestep_orders(nfe, order)
    ends = time_grid(path, len(orders), spacing, rho=rho, dtype=dtype)
    lam = path.log_snr(ends)
    fractions = np.array([(INTERMEDIATE_FRACTIONS[o] + (0.0, 0.0))[:2] for o in orders])
    lam_mid = lam[:-1, None] + jnp.asarray(fractions, dtype) * jnp.diff(lam)[:, None]
    middle = path.t_from_log_snr(lam_mid)
    return orders, jnp.concatenate([ends[:-1, None], middle, ends[1:, None]], axis=1)


def dpm_solver_sample(
    key: jax.Array | None,
    model_fn: ModelFn,
    path: GaussianPath,
    shape: tuple[int, ...],
    *,
    nfe: int,
    order: int = 3,
    spacing: str = "logsnr",
    rho: float = 7.0,
    prediction: str = "eps",
    x_init: jax.Array | None = None,
    clip_x0: bool = False,
    denoise_final: bool = False,
    dtype=None,
    **cond,
) -> jax.Array:
    """Solves the probability-flow ODE from t_max to t_min with nfe model evaluations.

    The steps and their orders are DPM-Solver-fast's (:func:`singlestep_orders`); the K + 1 step
    ends are uniform in lambda by default. The whole run is one ``lax.scan`` over the steps, each
    step choosing its order with ``lax.switch``.

    Args:
      key: PRNG key of the prior draw (its only randomness); may be None with x_init.
      model_fn: ``model_fn(x_t, t, **cond)``, t of shape (batch,).
      path: the Gaussian path of the model (finite log-SNR at t_min and t_max).
      shape: (batch, ...) of the samples.
      nfe: the evaluations of the steps to t_min, >= order.
      order: the largest order, 1, 2 or 3.
      spacing: the step ends, a spacing of :func:`gendiff.paths.grid.time_grid` ('logsnr').
      rho: the exponent of the 'karras' spacing.
      prediction: what ``model_fn`` outputs ('eps', 'x0', 'v', 'score', 'velocity').
      x_init: the state at t_max (the probability-flow latent) instead of a prior draw.
      clip_x0: clip every x_0 prediction to [-1, 1] (eps is recomputed to match).
      denoise_final: after reaching t_min, return the model's x_0 prediction there (one more
        evaluation, nfe + 1 in all).
      dtype: the state dtype when x_init is None (default float32).
      **cond: conditioning for ``model_fn``.

    Returns:
      The state at t_min (or its x_0 prediction), of the given shape.

    Example:
      >>> from gendiff.paths import VPPath
      >>> dpm_solver_sample(key, model_fn, VPPath(), (64, 2), nfe=20, order=3).shape
      (64, 2)
    """
    check_prediction(prediction)
    check_finite_log_snr(path)
    x = initial_state(key, path, shape, x_init, dtype)
    orders, table = _step_times(path, nfe, order, spacing, rho, x.dtype)

    def eps_fn(x, t):
        return model_x0_eps(model_fn, path, x, t, prediction, clip_x0, **cond)[1]

    branches = [
        lambda x, row, k=k: dpm_solver_update(
            eps_fn, path, x, row[jnp.array([0, *range(1, k), 3])], k
        )
        for k in ORDERS
    ]

    def step(x, inputs):
        row, index = inputs
        return jax.lax.switch(index, branches, x, row), None

    x, _ = jax.lax.scan(step, x, (table, jnp.asarray(orders, jnp.int32) - 1))
    if denoise_final:
        x = model_x0_eps(model_fn, path, x, path.t_min, prediction, clip_x0, **cond)[0]
    return x
