"""Input checks shared by the metrics: rank, matching dimensions, finiteness."""

from __future__ import annotations

import jax
import numpy as np


def check_rank(name: str, x, ndim: int, layout: str) -> None:
    """Raises ValueError unless `x` has `ndim` dimensions (`layout` names them)."""
    if np.ndim(x) != ndim:
        raise ValueError(
            f"{name} must have shape {layout} ({ndim} dimensions), got shape {np.shape(x)}."
        )


def check_finite(name: str, x) -> None:
    """Raises ValueError if a concrete `x` holds NaN or inf (traced values are not inspected)."""
    if isinstance(x, jax.core.Tracer):
        return
    if not np.all(np.isfinite(np.asarray(x))):
        raise ValueError(f"{name} contains NaN or inf values; expected finite numbers.")


def check_point_clouds(x, y) -> None:
    """Checks that `x` (n, d) and `y` (m, d) are finite point clouds in the same dimension."""
    check_rank("x", x, 2, "(num_points, dim)")
    check_rank("y", y, 2, "(num_points, dim)")
    if np.shape(x)[1] != np.shape(y)[1]:
        raise ValueError(
            f"x and y must have the same point dimension, got x {np.shape(x)} and y {np.shape(y)}."
        )
    check_finite("x", x)
    check_finite("y", y)
