"""Input checks shared by the VAE kernels: counts, matching shapes, data support."""

from __future__ import annotations

import jax
import numpy as np


def is_concrete(x) -> bool:
    """True when ``x`` holds values (not a tracer), so its contents can be inspected."""
    return not isinstance(x, jax.core.Tracer)


def check_num_samples(name: str, k) -> int:
    """Returns ``k`` as an int; ValueError unless it is an integer >= 1."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {k!r}.")
    return int(k)


def check_gaussian_params(mu, log_var, what: str = "posterior") -> None:
    """ValueError unless the mean and log-variance of a diagonal Gaussian have one shape."""
    if np.shape(mu) != np.shape(log_var):
        raise ValueError(
            f"the {what} mean and log-variance must have the same shape (batch, *latent_shape), "
            f"got mu {np.shape(mu)} and log_var {np.shape(log_var)}."
        )
    if np.ndim(mu) < 2:
        raise ValueError(
            f"the {what} mean must have shape (batch, *latent_shape) with at least one latent "
            f"dimension, got {np.shape(mu)}."
        )


def check_batch(x, mu) -> None:
    """ValueError unless the encoder returned one posterior per example of ``x``."""
    if np.ndim(x) < 1 or np.shape(x)[0] != np.shape(mu)[0]:
        raise ValueError(
            f"encode_fn(x) must return mu and log_var with the batch size of x "
            f"({np.shape(x)[:1]}), got mu of shape {np.shape(mu)}."
        )


def check_like(name: str, a, x) -> None:
    """ValueError unless the decoder parameter ``a`` has the shape of the data ``x``."""
    if np.shape(a) != np.shape(x):
        raise ValueError(
            f"decoder output {name} must have the shape of the data {np.shape(x)}, "
            f"got {np.shape(a)}."
        )
