"""What every sampler shares: argument checks, the initial state and its dtype, and the model's
(x_0, eps) at one time.

State dtype: a sampler keeps its state in the dtype of ``x_init`` when given, else in ``dtype``
(default float32); times and path coefficients are computed in the same dtype. The model's output
is cast to the state dtype, so a bfloat16 ``model_fn`` runs under a float32 state.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.parameterization import check_prediction, to_x0_eps
from gendiff.paths.base import GaussianPath
from gendiff.utils import right_broadcast

ModelFn = Callable[..., jax.Array]

__all__ = [
    "ModelFn",
    "check_count",
    "check_finite_log_snr",
    "check_prediction",
    "initial_state",
    "model_x0_eps",
    "state_dtype",
]


def check_count(name: str, value: int, minimum: int = 1, reason: str = "") -> None:
    """Raises ValueError unless ``value`` is an integer >= ``minimum``.

    Example:
      >>> from gendiff.sampling import check_count
      >>> check_count("num_steps", 10)
      >>> check_count("num_steps", 0)
      Traceback (most recent call last):
      ValueError: num_steps must be a positive integer, got 0.
      >>> check_count("order", 1, minimum=2, reason=" for a multistep solver")
      Traceback (most recent call last):
      ValueError: order must be an integer >= 2 for a multistep solver, got 1.
    """
    if isinstance(value, bool) or int(value) != value or value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {expected}{reason}, got {value!r}.")


def check_finite_log_snr(path: GaussianPath, t_end: float | None = None) -> None:
    """Raises ValueError when lambda(t_max) or lambda(t_end) (default t_min) is infinite.

    The check runs whenever the path's parameters are known at trace time (always outside
    ``jit``, and inside it for paths whose fields are static); it is skipped otherwise.

    Example:
      >>> from gendiff.paths import RectifiedFlowPath
      >>> from gendiff.sampling import check_finite_log_snr
      >>> check_finite_log_snr(RectifiedFlowPath(t_min=1e-3, t_max=0.999))
      >>> check_finite_log_snr(RectifiedFlowPath())  # alpha(1) = 0: lambda(1) = -inf
      Traceback (most recent call last):
      ValueError: RectifiedFlowPath has log-SNR -inf at t_max = 1.0 ...
    """
    t_end = path.t_min if t_end is None else t_end
    with jax.ensure_compile_time_eval():
        lam = path.log_snr(jnp.array([path.t_max, t_end], jnp.float32))
    if isinstance(lam, jax.core.Tracer) or np.all(np.isfinite(lam)):
        return
    raise ValueError(
        f"{type(path).__name__} has log-SNR {float(lam[0])} at t_max = {path.t_max} and "
        f"{float(lam[1])} at t = {t_end}; samplers that step in the log-SNR need both finite "
        "(alpha(t_max) > 0 and sigma(t_min) > 0), e.g. "
        "RectifiedFlowPath(t_min=1e-3, t_max=0.999) instead of RectifiedFlowPath()."
    )


def state_dtype(x_init: jax.Array | None, dtype=None):
    """The dtype a sampler keeps its state in: ``dtype`` if given, else x_init's, else float32.

    Example:
      >>> from gendiff.sampling import state_dtype
      >>> [str(d) for d in (state_dtype(None), state_dtype(jnp.zeros(2, jnp.bfloat16)),
      ...                   state_dtype(jnp.zeros(2, jnp.bfloat16), jnp.float32))]
      ['float32', 'bfloat16', 'float32']
      >>> state_dtype(jnp.zeros(2, jnp.int32))
      Traceback (most recent call last):
      ValueError: the state dtype must be a floating-point dtype, got int32.
    """
    if dtype is not None:
        dtype = jnp.dtype(dtype)
    elif x_init is not None:
        dtype = jnp.asarray(x_init).dtype
    else:
        dtype = jnp.dtype(jnp.float32)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"the state dtype must be a floating-point dtype, got {dtype}.")
    return dtype


def initial_state(
    key: jax.Array | None,
    path: GaussianPath,
    shape: tuple[int, ...],
    x_init: jax.Array | None,
    dtype=None,
) -> jax.Array:
    """x_init when given (then ``key`` is unused and may be None), else a prior draw at t_max.

    The result has the dtype of :func:`state_dtype`. Raises ValueError for an x_init whose shape
    is not ``shape``, or a missing key without x_init.

    Example:
      >>> from gendiff.paths import VEPath
      >>> from gendiff.sampling import initial_state
      >>> path = VEPath()  # sigma(1) = sigma_max
      >>> x = initial_state(jax.random.key(0), path, (4000, 2), None)
      >>> x.shape, x.dtype, round(float(x.std() / path.sigma(jnp.array(1.0))), 1)
      ((4000, 2), dtype('float32'), 1.0)
      >>> initial_state(None, path, (1, 2), jnp.ones((1, 2)), jnp.bfloat16)  # x_init, cast
      Array([[1, 1]], dtype=bfloat16)
    """
    dtype = state_dtype(x_init, dtype)
    if x_init is None:
        if key is None:
            raise ValueError("key is required when x_init is None (the prior draw needs it).")
        return path.prior_sample(key, tuple(shape), dtype)
    if tuple(jnp.shape(x_init)) != tuple(shape):
        raise ValueError(f"x_init must have shape {tuple(shape)}, got {tuple(jnp.shape(x_init))}.")
    return jnp.asarray(x_init, dtype)


def model_x0_eps(
    model_fn: ModelFn,
    path: GaussianPath,
    x: jax.Array,
    t: jax.Array,
    prediction: str,
    clip_x0: bool = False,
    **cond,
) -> tuple[jax.Array, jax.Array]:
    """(x_0, eps) predicted by the model at state x and time t (scalar or (batch,)); one evaluation.

    The model receives t of shape (batch,) in the state dtype and its output is cast to that
    dtype. With ``clip_x0`` the x_0 estimate is clipped to [-1, 1] and eps recomputed from it, so
    that x = alpha x_0 + sigma eps still holds.

    Example:
      >>> from gendiff.paths import VPPath
      >>> x = jnp.ones((3, 2))
      >>> x0, eps = model_x0_eps(model_fn, VPPath(), x, 0.5, "eps")
      >>> eps.shape, x0.shape
      ((3, 2), (3, 2))
    """
    t = jnp.broadcast_to(jnp.asarray(t, x.dtype), (x.shape[0],))
    pred = jnp.asarray(model_fn(x, t, **cond)).astype(x.dtype)
    x0, eps = to_x0_eps(path, pred, x, t, prediction)
    if not clip_x0:
        return x0, eps
    x0 = jnp.clip(x0, -1.0, 1.0)
    alpha, sigma = right_broadcast(path.alpha(t), x), right_broadcast(path.sigma(t), x)
    return x0, (x - alpha * x0) / sigma
