"""Boundary checks shared by the classic models: clear errors before anything is traced."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(x) -> bool:
    """True when ``x`` holds values (not a tracer inside jit/vmap/grad)."""
    return not isinstance(x, jax.core.Tracer)


def as_float_array(name: str, x, ndim: int | None = None) -> jax.Array:
    """x as a floating JAX array (integers become the default float dtype), rank checked."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {x.shape}.")
    return x


def check_finite(name: str, x, where=None) -> None:
    """Raise if a concrete ``x`` holds NaN or inf (only the entries selected by ``where``)."""
    if not (is_concrete(x) and (where is None or is_concrete(where))):
        return
    values = np.asarray(x)
    if where is not None:
        values = values[np.asarray(where, bool)]
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or inf; remove or mask those entries first.")


def check_positive(name: str, value) -> None:
    """Raise if a concrete scalar ``value`` is not > 0."""
    if is_concrete(value) and not float(value) > 0:
        raise ValueError(f"{name} must be > 0, got {value}.")


def check_num_components(name: str, num: int, num_samples: int, num_features: int | None = None):
    """1 <= num <= num_samples (and <= num_features when given)."""
    if not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"{name} must be a positive integer, got {num!r}.")
    if num > num_samples:
        raise ValueError(f"{name}={num} is larger than the number of samples ({num_samples}).")
    if num_features is not None and num > num_features:
        raise ValueError(f"{name}={num} is larger than the number of features ({num_features}).")


def check_option(name: str, value: str, options) -> None:
    if value not in options:
        raise ValueError(f"Unknown {name} {value!r}; expected one of {tuple(options)}.")


def check_iters(name: str, value: int) -> None:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
