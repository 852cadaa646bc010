"""Sub-sequences of times for DDIM: the grid t_N > ... > t_0 a sampler visits in N steps.

On a :class:`~gendiff.paths.DiscreteVPPath` with T steps the grid lies on the integer steps
i / T and ends at step 0 (alpha_bar_0 = 1, clean data). The model steps follow the DDIM paper's
code, whose 0-based timestep j is our 1-based step j + 1 (its alpha_bar table starts at
alpha_bar_1; "the +1 offset"):

  uniform    steps 1 + k floor(T / N), k = N-1..0  (Song et al. 2021; the first model step is
             1 + (N - 1) floor(T / N) <= T, so for N < T sampling starts below t = 1);
  quadratic  steps 1 + floor((T - 1) (k / (N - 1))^2), k = N-1..0  (Song et al.'s CIFAR-10 grid,
             with the constant chosen so that the last step is T, and a single step is T -> 0;
             integers that repeat at the dense end are pushed up by one, so the grid stays
             strictly decreasing);
  trailing   steps round(T - k T / N), k = 0..N-1  (Lin et al. 2024: starts exactly at T).

each followed by the final step 0. With N = T all three are DDPM's full chain T, T-1, ..., 0.

On continuous paths the grid spans [t_min, t_max] (t_min, not 0: VP, VE and EDM paths are
singular or unused below it): uniform is equally spaced, quadratic puts t_k - t_min proportional
to (k / N)^2 (dense near the data), and trailing coincides with uniform, since equal steps back
from t_max already end at t_min when times are not rounded to integers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.paths.base import GaussianPath
from gendiff.paths.discrete import DiscreteVPPath
from gendiff.sde.grid import check_num_steps

SPACINGS = ("uniform", "quadratic", "trailing")


def end_time(path: GaussianPath) -> float:
    """The time a DDIM grid ends at: 0 on a DiscreteVPPath, path.t_min on continuous paths."""
    return 0.0 if isinstance(path, DiscreteVPPath) else float(path.t_min)


def _discrete_steps(num_diffusion_steps: int, num_steps: int, spacing: str) -> np.ndarray:
    """The integer model steps k = 0..N-1 (increasing), returned reversed, without step 0."""
    T, N = num_diffusion_steps, num_steps
    k = np.arange(N)
    if spacing == "uniform":
        steps = 1 + k * (T // N)
    elif spacing == "quadratic":
        frac = k / (N - 1) if N > 1 else np.ones(1)  # a single step starts at T
        steps = 1 + np.floor((T - 1) * frac**2).astype(np.int64)
        # steps[k] - k never decreases after this, so steps strictly increase and stay <= T.
        steps = k + np.maximum.accumulate(steps - k)
    else:  # trailing: T - j T / N for j = N-1..0
        steps = np.round(T - (N - 1 - k) * T / N).astype(np.int64)
    return steps[::-1]


def timesteps(path: GaussianPath, num_steps: int, spacing: str = "uniform") -> jax.Array:
    """The DDIM time grid: num_steps + 1 decreasing times, the first at (or near) t_max.

    Args:
      path: the Gaussian path the model was trained on.
      num_steps: the number of sampler steps N (>= 1; <= T on a DiscreteVPPath).
      spacing: 'uniform', 'quadratic' or 'trailing' (see the module docstring).

    Returns:
      (num_steps + 1,) float32 times t_N > ... > t_0, with t_0 = 0 on a DiscreteVPPath (where
      every time is an integer step i / T) and t_0 = path.t_min on continuous paths.

    Example:
      >>> path = DiscreteVPPath.from_schedule("linear", 1000)
      >>> timesteps(path, 4, "trailing") * 1000
      Array([1000.,  750.,  500.,  250.,    0.], dtype=float32)
    """
    if spacing not in SPACINGS:
        raise ValueError(f"Unknown DDIM spacing {spacing!r}; expected one of {SPACINGS}.")
    check_num_steps(num_steps)
    num_steps = int(num_steps)
    if isinstance(path, DiscreteVPPath):
        T = path.num_steps
        if num_steps > T:
            raise ValueError(f"num_steps must be <= T = {T} on a DiscreteVPPath, got {num_steps}.")
        steps = np.append(_discrete_steps(T, num_steps, spacing), 0)
        return jnp.asarray(steps / T, jnp.float32)
    t_end, t_max = end_time(path), float(path.t_max)
    frac = np.arange(num_steps, -1, -1) / num_steps  # 1, ..., 0
    if spacing == "quadratic":
        frac = frac**2
    return jnp.asarray(t_end + (t_max - t_end) * frac, jnp.float32)
