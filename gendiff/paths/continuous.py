"""Continuous-time paths of Song et al. (2021): variance preserving (VP), sub-VP and variance
exploding (VE)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.paths.base import GaussianPath, vp_log_snr_gap
from gendiff.utils import as_time, pytree_dataclass, static_field


@pytree_dataclass
class LinearBetaPath(GaussianPath):
    """Base of the paths whose signal decays as dx = -beta(t)/2 x dt with linear beta.

    beta(t) = beta_min + t (beta_max - beta_min), so
    log alpha(t) = -int_0^t beta / 2 = -t^2 (beta_max - beta_min) / 4 - t beta_min / 2.
    Subclasses choose sigma(t).

    Example:
      >>> from gendiff.paths import LinearBetaPath, SubVPPath, VPPath
      >>> [isinstance(p, LinearBetaPath) for p in (VPPath(), SubVPPath())]
      [True, True]
      >>> path = VPPath()  # beta_min = 0.1, beta_max = 20
      >>> float(path.beta(jnp.array(0.5))), float(path.log_alpha(jnp.array(1.0)))  # -19.9/4 - 0.05
      (10.05, -5.025)
    """

    beta_min: float = static_field(default=0.1)
    beta_max: float = static_field(default=20.0)
    t_min: float = static_field(default=1e-3)

    def log_alpha(self, t: jax.Array) -> jax.Array:
        t = as_time(t)
        return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def log_alpha_ratio(self, s: jax.Array, t: jax.Array) -> jax.Array:
        """log(alpha_t / alpha_s) = -(t - s) ((t + s) (beta_max - beta_min) / 4 + beta_min / 2),
        without the cancellation of a difference of two logs when t is close to s."""
        s, t = as_time(s), as_time(t)
        return -(t - s) * (0.25 * (t + s) * (self.beta_max - self.beta_min) + 0.5 * self.beta_min)

    def beta(self, t: jax.Array) -> jax.Array:
        return self.beta_min + as_time(t) * (self.beta_max - self.beta_min)

    def alpha(self, t):
        return jnp.exp(self.log_alpha(t))

    def drift_coeff(self, t):
        """f(t) = -beta(t) / 2, in closed form."""
        return -0.5 * self.beta(t)


@pytree_dataclass
class VPPath(LinearBetaPath):
    """The VP SDE dx = -beta(t)/2 x dt + sqrt(beta(t)) dW with linear beta (Song et al. 2021).

    sigma^2 = 1 - alpha^2, so g^2 = beta(t). With beta_min = 0.1, beta_max = 20 it is the
    continuous limit of DDPM's linear schedule (beta_i = beta(i/T)/T for T = 1000).

    Example:
      >>> path = VPPath()
      >>> round(float(path.diffusion_sq(jnp.array(1.0))), 4)  # = beta(1)
      20.0
    """

    def sigma(self, t):
        return jnp.sqrt(-jnp.expm1(2.0 * self.log_alpha(t)))

    def diffusion_sq(self, t):
        """g(t)^2 = beta(t) in closed form (the generic 2 sigma sigma' is 0 * inf at t = 0)."""
        return self.beta(t)

    def log_snr(self, t):
        la2 = 2.0 * self.log_alpha(t)
        return la2 - jnp.log(-jnp.expm1(la2))

    def log_snr_gap(self, s, t):
        """lambda_s - lambda_t from log(alpha_t^2 / alpha_s^2), free of cancellation (see
        :func:`gendiff.paths.base.vp_log_snr_gap`)."""
        return vp_log_snr_gap(2.0 * self.log_alpha(s), 2.0 * self.log_alpha_ratio(s, t))


@pytree_dataclass
class SubVPPath(LinearBetaPath):
    """The sub-VP SDE dx = -beta/2 x dt + sqrt(beta (1 - exp(-2 int_0^t beta))) dW (Song et al. 2021).

    Same alpha as :class:`VPPath`, but sigma(t) = 1 - alpha(t)^2, which is below the VP's
    sqrt(1 - alpha^2) at every t (hence the name). The diffusion is
    g^2 = beta(t) (1 - alpha(t)^4) = beta(t) (1 - exp(-2 int_0^t beta)).

    Example:
      >>> path = SubVPPath()
      >>> round(float(path.sigma(jnp.array(1.0))), 4)  # 1 - exp(-(20 + 0.1) / 2)
      1.0
    """

    def sigma(self, t):
        return -jnp.expm1(2.0 * self.log_alpha(t))

    def log_snr(self, t):
        la2 = 2.0 * self.log_alpha(t)
        return la2 - 2.0 * jnp.log(-jnp.expm1(la2))


@pytree_dataclass
class VEPath(GaussianPath):
    """The VE SDE dx = sqrt(d sigma^2 / dt) dW (Song et al. 2021; the limit of SMLD).

    alpha(t) = 1 and sigma(t) = sigma_min (sigma_max / sigma_min)^t, so f = 0 and
    g^2 = 2 sigma(t)^2 log(sigma_max / sigma_min). As in Song et al.'s code, sigma(0) = sigma_min
    rather than 0: the data are seen through noise sigma_min at t = 0. The defaults
    (sigma_min = 0.01, sigma_max = 50) are Song et al.'s for 32 x 32 images in [-1, 1]
    (sigma_max about the largest distance between two training points); for 2-D toy data a
    sigma_max of 5-10 suffices. t_min = 1e-5 is their sampling end point.

    Example:
      >>> path = VEPath()
      >>> round(float(path.sigma(jnp.array(1.0))), 3)
      50.0
    """

    sigma_min: float = static_field(default=0.01)
    sigma_max: float = static_field(default=50.0)
    t_min: float = static_field(default=1e-5)

    def alpha(self, t):
        return jnp.ones_like(as_time(t))

    def log_sigma(self, t: jax.Array) -> jax.Array:
        t = as_time(t)
        return jnp.log(self.sigma_min) + t * jnp.log(self.sigma_max / self.sigma_min)

    def sigma(self, t):
        return jnp.exp(self.log_sigma(t))

    def log_snr(self, t):
        return -2.0 * self.log_sigma(t)
