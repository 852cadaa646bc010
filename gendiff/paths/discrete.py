"""Discrete-time DDPM as a Gaussian path, exact at the integer steps t = i / T."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.paths.base import GaussianPath, vp_log_snr_gap
from gendiff.paths.schedules import make_betas
from gendiff.utils import as_time, pytree_dataclass

# Times within this many steps of an integer step are snapped onto it (float32 rounding of i / T
# is about T * 6e-8 steps).
SNAP_TOLERANCE = 1e-3


@pytree_dataclass
class DiscreteVPPath(GaussianPath):
    """DDPM's forward process q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I).

    Step i = 1..T sits at continuous time t = i / T, so alpha(i/T)^2 = alpha_bar_i =
    prod_{j<=i} (1 - beta_j) and sigma(i/T)^2 = 1 - alpha_bar_i. Between steps log alpha_bar
    is interpolated linearly, which makes the path usable by continuous-time samplers.

    Exactness in float32: a time within 1e-3 steps of an integer step is snapped onto it (so
    the rounding of i / T does not land between steps), and log alpha_bar is stored as a float32
    pair hi + lo of its float64 value, so differences of log alpha_bar between steps (and with
    them beta_i, beta-tilde_i and the log-SNR gaps, see :meth:`log_snr_gap`) keep float32
    relative accuracy. sigma^2 = -expm1(log alpha_bar), never 1 - alpha^2. With x64 enabled,
    float64 times give float64 values accurate to ~1e-14.

    Attributes:
      betas: (T,) the variances beta_1..beta_T of q(x_i | x_{i-1}).
      log_alpha_bars: (T + 1,) log alpha_bar_0..log alpha_bar_T (float32), with alpha_bar_0 = 1.
      log_alpha_bars_lo: (T + 1,) the float32 remainders, float64 table minus log_alpha_bars
        (None: zeros).

    Example:
      >>> path = DiscreteVPPath.from_schedule("linear", 1000)
      >>> float(path.alpha(jnp.array(0.0)))
      1.0
    """

    betas: jax.Array
    log_alpha_bars: jax.Array
    log_alpha_bars_lo: jax.Array | None = None

    @classmethod
    def from_betas(cls, betas) -> "DiscreteVPPath":
        betas = np.asarray(betas, np.float64)
        if betas.ndim != 1 or not np.all((betas > 0) & (betas < 1)):
            raise ValueError("betas must be a 1-D array with every entry in (0, 1).")
        # Cumulative products in float64, stored as a float32 pair hi + lo.
        log_alpha_bars = np.concatenate([[0.0], np.cumsum(np.log1p(-betas))])
        hi = log_alpha_bars.astype(np.float32)
        lo = (log_alpha_bars - hi.astype(np.float64)).astype(np.float32)
        return cls(jnp.asarray(betas, jnp.float32), jnp.asarray(hi), jnp.asarray(lo))

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

    def _steps(self, t: jax.Array) -> jax.Array:
        """u = t T, snapped onto the nearest integer step when within SNAP_TOLERANCE of it.

        The snap moves the value only (``u + stop_gradient(k - u)``), so d/dt keeps the slope of
        the linear interpolation.
        """
        u = as_time(t) * self.num_steps
        k = jnp.round(u)
        return jnp.where(jnp.abs(u - k) <= SNAP_TOLERANCE, u + jax.lax.stop_gradient(k - u), u)

    def _interp(self, table: jax.Array, u: jax.Array) -> jax.Array:
        """table linearly interpolated at u, returning exactly table[k] at an integer u = k."""
        table = table.astype(u.dtype)
        # One extrapolated entry past T, so that u = T has its own interval and slope.
        table = jnp.append(table, 2.0 * table[-1] - table[-2])
        i0 = jnp.clip(jnp.floor(u), 0, self.num_steps).astype(jnp.int32)
        frac = u - i0.astype(u.dtype)
        return table[i0] + frac * (table[i0 + 1] - table[i0])

    def _tables(self):
        lo = self.log_alpha_bars_lo
        return self.log_alpha_bars, jnp.zeros_like(self.log_alpha_bars) if lo is None else lo

    def log_alpha_bar(self, t: jax.Array) -> jax.Array:
        """log alpha_bar at continuous t, linear in i = t T between integer steps."""
        u = self._steps(t)
        hi, lo = self._tables()
        return self._interp(hi, u) + self._interp(lo, u)

    def log_alpha_bar_ratio(self, s: jax.Array, t: jax.Array) -> jax.Array:
        """log(alpha_bar_t / alpha_bar_s), from differences of the hi and lo tables separately
        (so a step of small beta keeps its relative accuracy)."""
        u_s, u_t = self._steps(s), self._steps(t)
        hi, lo = self._tables()
        return (self._interp(hi, u_t) - self._interp(hi, u_s)) + (
            self._interp(lo, u_t) - self._interp(lo, u_s)
        )

    def alpha(self, t):
        return jnp.exp(0.5 * self.log_alpha_bar(t))

    def sigma(self, t):
        return jnp.sqrt(-jnp.expm1(self.log_alpha_bar(t)))

    def log_snr(self, t):
        # log(alpha_bar / (1 - alpha_bar)) without cancellation near alpha_bar = 1.
        lab = self.log_alpha_bar(t)
        return lab - jnp.log(-jnp.expm1(lab))

    def log_snr_gap(self, s, t):
        """lambda_s - lambda_t without cancellation (:func:`gendiff.paths.base.vp_log_snr_gap`)."""
        return vp_log_snr_gap(self.log_alpha_bar(s), self.log_alpha_bar_ratio(s, t))

    def sample_t(self, key, batch_size):
        """Integer steps i ~ U{1, ..., T}, returned as t = i / T (Ho et al. 2020, Alg. 1)."""
        i = jax.random.randint(key, (batch_size,), 1, self.num_steps + 1)
        return i.astype(jnp.float32) / self.num_steps

    def step_index(self, t: jax.Array) -> jax.Array:
        """The integer step i = round(t T)."""
        return jnp.round(jnp.asarray(t) * self.num_steps).astype(jnp.int32)
