"""Input checks shared by the guidance functions: run on concrete values, skipped under jit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def concrete(value) -> np.ndarray | None:
    """``value`` as a NumPy array, or None when it is a tracer (inside jit/vmap/grad)."""
    try:
        return np.asarray(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def check_guidance_scale(scale) -> None:
    """A guidance scale must be a finite number >= 0 (checked when concrete)."""
    value = concrete(scale)
    if value is None:
        return
    if value.ndim != 0 or not np.isfinite(value) or value < 0:
        raise ValueError(f"guidance_scale must be a finite scalar >= 0, got {scale!r}.")


def check_labels(labels, batch: int | None, num_classes: int, allow_null: bool) -> None:
    """Integer labels of shape (batch,) in [0, num_classes), or [0, num_classes] with the null label.

    The shape and dtype are always checked; the range only when ``labels`` is concrete.
    """
    shape = getattr(labels, "shape", None)
    if shape is None or len(shape) != 1 or (batch is not None and shape[0] != batch):
        expected = "(batch,)" if batch is None else f"(batch,) = ({batch},)"
        raise ValueError(f"labels y must have shape {expected}, got shape {shape}.")
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(f"labels y must be an integer array, got dtype {labels.dtype}.")
    values = concrete(labels)
    if values is None or values.size == 0:
        return
    high = num_classes if allow_null else num_classes - 1
    if values.min() < 0 or values.max() > high:
        null = f" ({num_classes} = null label)" if allow_null else ""
        raise ValueError(
            f"labels y must lie in [0, {high}]{null}, got values in [{values.min()}, {values.max()}]."
        )


def check_batch(name: str, array: jax.Array, batch: int) -> None:
    """``array`` must have a leading batch axis of size ``batch``."""
    shape = getattr(array, "shape", ())
    if len(shape) < 1 or shape[0] != batch:
        raise ValueError(
            f"{name} must have a leading batch axis of size {batch}, got shape {shape}."
        )
