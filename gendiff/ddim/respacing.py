"""Sub-sequences of times for DDIM: the grid t_N > ... > t_0 a sampler visits in N steps.

The grids come from the library's one time-grid module, :func:`gendiff.paths.grid.time_grid`,
with its vocabulary of spacings, plus DDIM's historical name 'uniform'. On a
:class:`~gendiff.paths.DiscreteVPPath` with T steps a DDIM grid lies on the integer steps i / T
and ends at step 0 (alpha_bar_0 = 1, clean data). The model steps follow the DDIM paper's code,
whose 0-based timestep j is our 1-based step j + 1 (its alpha_bar table starts at alpha_bar_1;
"the +1 offset"):

  uniform    = 'leading': steps 1 + k floor(T / N), k = N-1..0 (Song et al. 2021; the first model
             step is 1 + (N - 1) floor(T / N) <= T, so for N < T sampling starts below t = 1);
  quadratic  steps 1 + floor((T - 1) (k / (N - 1))^2), k = N-1..0 (Song et al.'s CIFAR-10 grid,
             with the constant chosen so that the last step is T, and a single step is T -> 0;
             integers that repeat at the dense end are pushed up by one);
  trailing   steps round(T - k T / N), k = 0..N-1 (Lin et al. 2024: starts exactly at T);

each followed by the final step 0. With N = T all three are DDPM's full chain T, T-1, ..., 0.
'time', 'logsnr' and 'karras' are rounded to integer steps.

On continuous paths the grid spans [t_min, t_max] (t_min, not 0: VP, VE and EDM paths are
singular or unused below it): uniform is equally spaced, quadratic puts t_k - t_min proportional
to (k / N)^2 (dense near the data), and trailing and leading coincide with uniform.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.paths.base import GaussianPath
from gendiff.paths.discrete import DiscreteVPPath
from gendiff.paths.grid import SPACINGS as GRID_SPACINGS
from gendiff.paths.grid import time_grid

SPACINGS = ("uniform",) + GRID_SPACINGS


def end_time(path: GaussianPath) -> float:
    """The time a DDIM grid ends at: 0 on a DiscreteVPPath, path.t_min on continuous paths.

    Example:
      >>> from gendiff.paths import DiscreteVPPath, VPPath
      >>> end_time(DiscreteVPPath.from_schedule("cosine", 10)), end_time(VPPath(t_min=1e-3))
      (0.0, 0.001)
    """
    return 0.0 if isinstance(path, DiscreteVPPath) else float(path.t_min)


def timesteps(
    path: GaussianPath,
    num_steps: int,
    spacing: str = "uniform",
    *,
    t_end: float | None = None,
    rho: float = 7.0,
    dtype=jnp.float32,
) -> jax.Array:
    """The DDIM time grid: num_steps + 1 decreasing times, the first at (or near) t_max.

    Args:
      path: the Gaussian path the model was trained on.
      num_steps: the number of sampler steps N (>= 1; <= T on a DiscreteVPPath).
      spacing: 'uniform' or a spacing of :func:`gendiff.paths.grid.time_grid` (module docstring).
      t_end: the last time; defaults to :func:`end_time`.
      rho: the exponent of the 'karras' spacing.
      dtype: the dtype of the times.

    Returns:
      (num_steps + 1,) times t_N > ... > t_0, with t_0 = 0 on a DiscreteVPPath (where
      every time is an integer step i / T) and t_0 = path.t_min on continuous paths.

    Example:
      >>> path = DiscreteVPPath.from_schedule("linear", 1000)
      >>> timesteps(path, 4, "trailing") * 1000
      Array([1000.,  750.,  500.,  250.,    0.], dtype=float32)
    """
    if spacing not in SPACINGS:
        raise ValueError(f"Unknown DDIM spacing {spacing!r}; expected one of {SPACINGS}.")
    if spacing == "uniform":
        spacing = "leading" if isinstance(path, DiscreteVPPath) else "time"
    t_end = end_time(path) if t_end is None else t_end
    return time_grid(path, num_steps, spacing, rho=rho, t_end=t_end, dtype=dtype)
