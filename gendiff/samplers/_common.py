"""What the fast samplers share: argument checks, the log-SNR range of a path, and the model
output turned into (x_0, eps) at a scalar time.

The samplers step in the log-SNR lambda(t) = log(alpha^2 / sigma^2), or equivalently in the
"scaled sigma" sigma~ = sigma / alpha = exp(-lambda / 2) of the rescaled state x~ = x / alpha,
whose marginals x~ = x_0 + sigma~ eps are the same on every path.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.parameterization import to_x0_eps
from gendiff.paths.base import GaussianPath

ModelFn = Callable[..., jax.Array]


def check_count(name: str, value: int, minimum: int = 1, reason: str = "") -> None:
    """Raises ValueError unless ``value`` is an integer >= ``minimum``."""
    if int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}{reason}, got {value}.")


def check_finite_log_snr(path: GaussianPath) -> None:
    """Raises ValueError when lambda(t_max) or lambda(t_min) is infinite (alpha or sigma is 0).

    The check runs whenever the path's parameters are known at trace time (always outside
    ``jit``, and inside it for paths whose fields are static); it is skipped otherwise.
    """
    with jax.ensure_compile_time_eval():
        lam = path.log_snr(jnp.array([path.t_max, path.t_min], jnp.float32))
    if isinstance(lam, jax.core.Tracer) or np.all(np.isfinite(lam)):
        return
    raise ValueError(
        f"{type(path).__name__} has log-SNR {float(lam[0])} at t_max = {path.t_max} and "
        f"{float(lam[1])} at t_min = {path.t_min}; these samplers step in the log-SNR and need "
        "both finite (alpha(t_max) > 0 and sigma(t_min) > 0), e.g. "
        "RectifiedFlowPath(t_min=1e-3, t_max=0.999) instead of RectifiedFlowPath()."
    )


def scaled_sigma(path: GaussianPath, t: jax.Array) -> jax.Array:
    """sigma~(t) = sigma(t) / alpha(t) = exp(-lambda(t) / 2)."""
    return jnp.exp(-0.5 * path.log_snr(t))


def times_from_log_snr(path: GaussianPath, log_snr: jax.Array) -> jax.Array:
    """Times of a decreasing-in-t grid of log-SNRs from lambda(t_max) to lambda(t_min).

    ``path.t_from_log_snr`` inverts lambda to float32 bisection accuracy; the first and (for
    more than one value) last times are set to exactly t_max and t_min.
    """
    times = path.t_from_log_snr(log_snr).at[0].set(path.t_max)
    return times.at[-1].set(path.t_min) if times.shape[0] > 1 else times


def initial_state(
    key: jax.Array | None, path: GaussianPath, shape: tuple[int, ...], x_init: jax.Array | None
) -> jax.Array:
    """x_init when given (then ``key`` is unused and may be None), else a prior draw at t_max."""
    if x_init is None:
        if key is None:
            raise ValueError("key is required when x_init is None (the prior draw needs it).")
        return path.prior_sample(key, shape)
    if tuple(x_init.shape) != tuple(shape):
        raise ValueError(f"x_init must have shape {tuple(shape)}, got {tuple(x_init.shape)}.")
    return jnp.asarray(x_init, jnp.float32)


def x0_eps(
    model_fn: ModelFn,
    path: GaussianPath,
    x: jax.Array,
    t: jax.Array,
    prediction: str,
    **cond,
) -> tuple[jax.Array, jax.Array]:
    """(x_0, eps) predicted by the model at state x and scalar time t (one model evaluation)."""
    t = jnp.full((x.shape[0],), t, jnp.float32)
    return to_x0_eps(path, model_fn(x, t, **cond), x, t, prediction)
