"""Continuous-time variance-preserving paths."""

from __future__ import annotations

import jax.numpy as jnp

from gendiff.paths.base import GaussianPath
from gendiff.utils import pytree_dataclass, static_field


@pytree_dataclass
class VPPath(GaussianPath):
    """The VP SDE dx = -beta(t)/2 x dt + sqrt(beta(t)) dW with linear beta (Song et al. 2021).

    beta(t) = beta_min + t (beta_max - beta_min), so
    log alpha(t) = -t^2 (beta_max - beta_min) / 4 - t beta_min / 2 and sigma^2 = 1 - alpha^2.
    With beta_min = 0.1, beta_max = 20 it is the continuous limit of DDPM's linear schedule
    (beta_i = beta(i/T)/T for T = 1000).

    Example:
      >>> path = VPPath()
      >>> round(float(path.diffusion_sq(jnp.array(1.0))), 4)  # = beta(1)
      20.0
    """

    beta_min: float = static_field(default=0.1)
    beta_max: float = static_field(default=20.0)
    t_min: float = static_field(default=1e-3)

    def log_alpha(self, t):
        t = jnp.asarray(t, jnp.float32)
        return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def beta(self, t):
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def alpha(self, t):
        return jnp.exp(self.log_alpha(t))

    def sigma(self, t):
        return jnp.sqrt(-jnp.expm1(2.0 * self.log_alpha(t)))

    def log_snr(self, t):
        la2 = 2.0 * self.log_alpha(t)
        return la2 - jnp.log(-jnp.expm1(la2))
