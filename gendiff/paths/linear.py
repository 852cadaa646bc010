"""Paths whose alpha and sigma are linear in t: EDM's (alpha = 1, sigma = sigma_max t) and the
optimal-transport / rectified-flow path (alpha = 1 - t, sigma = t)."""

from __future__ import annotations

import jax.numpy as jnp

from gendiff.paths.base import GaussianPath
from gendiff.utils import as_time, pytree_dataclass, static_field


@pytree_dataclass
class EDMPath(GaussianPath):
    """Karras et al. (2022)'s path x = x_0 + sigma eps with sigma(t) = sigma_max t.

    EDM samples the ODE in sigma itself (their sigma(t) = t, s(t) = 1); here time is rescaled to
    [0, 1] by sigma_max so that the path obeys the library's time contract. t_min = sigma_min /
    sigma_max is EDM's last noise level. The defaults are EDM's for images in [-1, 1].

    Example:
      >>> path = EDMPath()
      >>> float(path.sigma(jnp.array(1.0)))
      80.0
    """

    sigma_min: float = static_field(default=0.002)
    sigma_max: float = static_field(default=80.0)

    @property
    def t_min(self) -> float:
        return self.sigma_min / self.sigma_max

    def alpha(self, t):
        return jnp.ones_like(as_time(t))

    def sigma(self, t):
        return self.sigma_max * as_time(t)

    def log_snr(self, t):
        return -2.0 * jnp.log(self.sigma(t))


@pytree_dataclass
class RectifiedFlowPath(GaussianPath):
    """The optimal-transport path x_t = (1 - t) x_0 + (sigma_min + (1 - sigma_min) t) eps.

    With sigma_min = 0 it is rectified flow's straight line between data and noise (Liu et al.
    2023); sigma_min > 0 is Lipman et al. (2023)'s OT conditional path with time reversed (their
    t = 0 is noise, ours is data). The conditional velocity is d x_t / dt = -x_0 + (1 - sigma_min) eps.

    alpha(1) = 0, so quantities divided by alpha (x_0 from eps, the log-SNR) are infinite at t = 1:
    samplers that step in the log-SNR (DDIM, DPM-Solver) should use a path with t_max < 1, e.g.
    ``RectifiedFlowPath(t_max=0.999)``; the flow-matching ODE integrates to t = 1 directly.

    Example:
      >>> path = RectifiedFlowPath()
      >>> float(path.alpha(jnp.array(0.25))), float(path.sigma(jnp.array(0.25)))
      (0.75, 0.25)
    """

    sigma_min: float = static_field(default=0.0)
    t_min: float = static_field(default=0.0)
    t_max: float = static_field(default=1.0)

    def __post_init__(self):
        if not 0.0 <= self.sigma_min < 1.0:
            raise ValueError(f"sigma_min must lie in [0, 1), got {self.sigma_min}.")
        if not 0.0 <= self.t_min < self.t_max <= 1.0:
            raise ValueError(f"need 0 <= t_min < t_max <= 1, got {self.t_min}, {self.t_max}.")

    def alpha(self, t):
        return 1.0 - as_time(t)

    def sigma(self, t):
        return self.sigma_min + (1.0 - self.sigma_min) * as_time(t)

    def d_alpha(self, t):
        return -jnp.ones_like(as_time(t))

    def d_sigma(self, t):
        return jnp.full_like(as_time(t), 1.0 - self.sigma_min)
