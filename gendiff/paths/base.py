"""The Gaussian path x_t = alpha(t) x_0 + sigma(t) eps that unifies the diffusion family.

A path only has to say what alpha(t) and sigma(t) are; the log-SNR, time derivatives,
the forward-SDE coefficients and the marginal sampler are derived here once, for every
path (DDPM, VP, sub-VP, VE, EDM, rectified flow).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.utils import as_time, right_broadcast


class GaussianPath:
    """Base class of Gaussian corruption paths over continuous time t in [0, 1].

    Subclasses are frozen pytree dataclasses (see :func:`gendiff.utils.pytree_dataclass`)
    that implement :meth:`alpha` and :meth:`sigma` elementwise in ``t``. Paths that can
    compute the log-SNR more accurately than from alpha and sigma override :meth:`log_snr`.

    Example:
      >>> from gendiff.paths import GaussianPath
      >>> class Straight(GaussianPath):  # alpha = 1 - t, sigma = t: the rectified-flow path
      ...     def alpha(self, t):
      ...         return 1.0 - t
      ...     def sigma(self, t):
      ...         return t
      >>> path, t = Straight(), jnp.array([0.5])
      >>> path.log_snr(t), path.d_alpha(t), path.d_sigma(t)
      (Array([0.], dtype=float32), Array([-1.], dtype=float32), Array([1.], dtype=float32))
      >>> path.marginal(jnp.ones((1, 2)), t, jnp.full((1, 2), 3.0))  # (1 - t) x_0 + t eps
      Array([[2., 2.]], dtype=float32)
    """

    # Smallest and largest times used for training and sampling.
    t_min: float = 0.0
    t_max: float = 1.0

    def alpha(self, t: jax.Array) -> jax.Array:
        raise NotImplementedError

    def sigma(self, t: jax.Array) -> jax.Array:
        raise NotImplementedError

    def log_snr(self, t: jax.Array) -> jax.Array:
        """lambda(t) = log(alpha^2 / sigma^2)."""
        return 2.0 * (jnp.log(self.alpha(t)) - jnp.log(self.sigma(t)))

    def log_snr_gap(self, s: jax.Array, t: jax.Array) -> jax.Array:
        """lambda(s) - lambda(t) >= 0 for s < t: the log-SNR gained by a step from t back to s.

        Every transition coefficient of a step (DDPM's beta and beta-tilde, DDIM's noise) is a
        function of this gap. Here it is the difference of two log-SNRs; variance-preserving paths
        override it with a form free of cancellation when t is close to s.
        """
        return self.log_snr(s) - self.log_snr(t)

    def t_from_log_snr(self, log_snr: jax.Array) -> jax.Array:
        """The time t with lambda(t) = log_snr: the inverse of :meth:`log_snr`, elementwise.

        The log-SNR decreases strictly in t on every path, so 40 bisection steps on
        [t_min, t_max] reach float32 resolution (64 in float64); values outside the path's range clip to its ends.
        Samplers that step in lambda (DPM-Solver, Karras sigmas) use it to map back to t.

        Example:
          >>> from gendiff.paths import VPPath
          >>> path = VPPath()
          >>> t = jnp.array([0.1, 0.5])
          >>> bool(jnp.allclose(path.t_from_log_snr(path.log_snr(t)), t, atol=1e-6))
          True
        """
        log_snr = as_time(log_snr)
        lo = jnp.full_like(log_snr, self.t_min)
        hi = jnp.full_like(log_snr, self.t_max)
        # 2^-40 of [0, 1] is below float32 resolution; float64 needs 2^-60.
        iterations = 64 if jnp.finfo(log_snr.dtype).bits > 32 else 40

        def bisect(_, bounds):
            lo, hi = bounds
            mid = 0.5 * (lo + hi)
            above = self.log_snr(mid) > log_snr  # the root lies later than mid
            return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

        lo, hi = jax.lax.fori_loop(0, iterations, bisect, (lo, hi))
        return 0.5 * (lo + hi)

    def d_alpha(self, t: jax.Array) -> jax.Array:
        """d alpha / dt, by forward-mode autodiff of the elementwise :meth:`alpha`."""
        t = as_time(t)
        return jax.jvp(self.alpha, (t,), (jnp.ones_like(t),))[1]

    def d_sigma(self, t: jax.Array) -> jax.Array:
        """d sigma / dt, by forward-mode autodiff of the elementwise :meth:`sigma`."""
        t = as_time(t)
        return jax.jvp(self.sigma, (t,), (jnp.ones_like(t),))[1]

    def drift_coeff(self, t: jax.Array) -> jax.Array:
        """f(t) = d log alpha / dt of the forward SDE dx = f(t) x dt + g(t) dW."""
        return self.d_alpha(t) / self.alpha(t)

    def diffusion_sq(self, t: jax.Array) -> jax.Array:
        """g(t)^2 = d sigma^2 / dt - 2 f(t) sigma^2 of the forward SDE."""
        sigma = self.sigma(t)
        return 2.0 * sigma * self.d_sigma(t) - 2.0 * self.drift_coeff(t) * sigma**2

    def sample_t(self, key: jax.Array, batch_size: int) -> jax.Array:
        """Training times, uniform on [t_min, t_max]. Discrete paths override this."""
        return jax.random.uniform(key, (batch_size,), minval=self.t_min, maxval=self.t_max)

    def marginal(self, x0: jax.Array, t: jax.Array, eps: jax.Array) -> jax.Array:
        """x_t = alpha(t) x_0 + sigma(t) eps, with t of shape (batch,)."""
        return right_broadcast(self.alpha(t), x0) * x0 + right_broadcast(self.sigma(t), x0) * eps

    def sample_marginal(
        self, key: jax.Array, x0: jax.Array, t: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """Draws x_t ~ q(x_t | x_0). Returns (x_t, eps)."""
        eps = jax.random.normal(key, x0.shape, x0.dtype)
        return self.marginal(x0, t, eps), eps

    def prior_sample(self, key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        """x_1 ~ N(alpha(1) * 0, sigma(1)^2 I), the distribution samplers start from."""
        t1 = jnp.full((shape[0],), self.t_max, dtype)
        z = jax.random.normal(key, shape, dtype)
        return (right_broadcast(self.sigma(t1), z) * z).astype(dtype)


def vp_log_snr_gap(log_alpha_bar_s: jax.Array, log_ratio: jax.Array) -> jax.Array:
    """lambda_s - lambda_t of a variance-preserving path (sigma^2 = 1 - alpha^2), s < t.

    With a_s = alpha_s^2 = exp(log_alpha_bar_s) and log_ratio = log(alpha_t^2 / alpha_s^2) <= 0:

      lambda_s - lambda_t = -log_ratio + log(sigma_t^2 / sigma_s^2),
      sigma_t^2 / sigma_s^2 = 1 + a_s (1 - alpha_t^2 / alpha_s^2) / sigma_s^2,

    a sum of two non-negative terms, each computed with expm1/log1p, so neither the gap nor the
    transition variance 1 - alpha_t^2 / alpha_s^2 (DDPM's beta for consecutive steps) loses
    digits to cancellation. At s = 0 (sigma_s = 0) the gap is +inf.
    """
    one_minus_ratio = -jnp.expm1(log_ratio)  # sigma_{t|s}^2 = 1 - alpha_t^2 / alpha_s^2
    sigma2_s = jnp.abs(jnp.expm1(log_alpha_bar_s))  # abs: +0, not -0, at s = 0
    return -log_ratio + jnp.log1p(jnp.exp(log_alpha_bar_s) * one_minus_ratio / sigma2_s)
