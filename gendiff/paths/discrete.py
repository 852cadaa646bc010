"""Discrete-time DDPM as a Gaussian path, exact at the integer steps t = i / T."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.paths.base import GaussianPath
from gendiff.paths.schedules import make_betas
from gendiff.utils import pytree_dataclass


@pytree_dataclass
class DiscreteVPPath(GaussianPath):
    """DDPM's forward process q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I).

    Step i = 1..T sits at continuous time t = i / T, so alpha(i/T)^2 = alpha_bar_i =
    prod_{j<=i} (1 - beta_j) and sigma(i/T)^2 = 1 - alpha_bar_i. Between steps log alpha_bar
    is interpolated linearly, which makes the path usable by continuous-time samplers.

    Attributes:
      betas: (T,) the variances beta_1..beta_T of q(x_i | x_{i-1}).
      log_alpha_bars: (T + 1,) log alpha_bar_0..log alpha_bar_T, with alpha_bar_0 = 1.

    Example:
      >>> path = DiscreteVPPath.from_schedule("linear", 1000)
      >>> float(path.alpha(jnp.array(0.0)))
      1.0
    """

    betas: jax.Array
    log_alpha_bars: jax.Array

    @classmethod
    def from_betas(cls, betas) -> "DiscreteVPPath":
        betas = np.asarray(betas, np.float64)
        if betas.ndim != 1 or not np.all((betas > 0) & (betas < 1)):
            raise ValueError("betas must be a 1-D array with every entry in (0, 1).")
        # Cumulative products in float64, stored as float32 logs.
        log_alpha_bars = np.concatenate([[0.0], np.cumsum(np.log1p(-betas))])
        return cls(jnp.asarray(betas, jnp.float32), jnp.asarray(log_alpha_bars, jnp.float32))

    @classmethod
    def from_schedule(cls, schedule: str = "linear", num_steps: int = 1000) -> "DiscreteVPPath":
        """Path of a named beta schedule ('linear' or 'cosine') with T = num_steps."""
        return cls.from_betas(make_betas(schedule, num_steps))

    @property
    def num_steps(self) -> int:
        return self.betas.shape[0]

    @property
    def t_min(self) -> float:
        return 1.0 / self.num_steps

    def log_alpha_bar(self, t: jax.Array) -> jax.Array:
        """log alpha_bar at continuous t, linear in i = t T between integer steps."""
        steps = jnp.arange(self.num_steps + 1, dtype=jnp.float32)
        return jnp.interp(jnp.asarray(t, jnp.float32) * self.num_steps, steps, self.log_alpha_bars)

    def alpha(self, t):
        return jnp.exp(0.5 * self.log_alpha_bar(t))

    def sigma(self, t):
        return jnp.sqrt(-jnp.expm1(self.log_alpha_bar(t)))

    def log_snr(self, t):
        # log(alpha_bar / (1 - alpha_bar)) without cancellation near alpha_bar = 1.
        lab = self.log_alpha_bar(t)
        return lab - jnp.log(-jnp.expm1(lab))

    def sample_t(self, key, batch_size):
        """Integer steps i ~ U{1, ..., T}, returned as t = i / T (Ho et al. 2020, Alg. 1)."""
        i = jax.random.randint(key, (batch_size,), 1, self.num_steps + 1)
        return i.astype(jnp.float32) / self.num_steps

    def step_index(self, t: jax.Array) -> jax.Array:
        """The integer step i = round(t T)."""
        return jnp.round(jnp.asarray(t) * self.num_steps).astype(jnp.int32)
