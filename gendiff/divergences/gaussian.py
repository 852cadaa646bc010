"""Closed forms between Gaussians: KL (full and diagonal covariance), W2 (Bures), 1-D JS.

Full-covariance functions take means (..., d) and covariances (..., d, d) (symmetric positive
definite: they are factorised by Cholesky) and map over leading axes. Diagonal ones take
variances (..., d) and sum over the last axis.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from gendiff.divergences._checks import as_float, safe_sqrt


def _check_gaussian(mean, cov, name: str, diagonal: bool) -> None:
    if np.ndim(mean) < 1:
        raise ValueError(f"mean_{name} must have shape (..., d), got a scalar.")
    d = np.shape(mean)[-1]
    want = np.shape(mean) if diagonal else np.shape(mean) + (d,)
    what = "var" if diagonal else "cov"
    if np.shape(cov) != want:
        raise ValueError(
            f"{what}_{name} must have shape {want} to match mean_{name} {np.shape(mean)}, "
            f"got {np.shape(cov)}."
        )


def _check_pair(mean_p, cov_p, mean_q, cov_q, diagonal: bool) -> None:
    _check_gaussian(mean_p, cov_p, "p", diagonal)
    _check_gaussian(mean_q, cov_q, "q", diagonal)
    if np.shape(mean_p) != np.shape(mean_q):
        raise ValueError(
            f"mean_p and mean_q must have the same shape, got {np.shape(mean_p)} and "
            f"{np.shape(mean_q)}."
        )


def gaussian_kl(mean_p, cov_p, mean_q, cov_q) -> jax.Array:
    """KL(N(mean_p, cov_p) || N(mean_q, cov_q)) for full covariances, in nats.

    KL = 1/2 [tr(S_q^-1 S_p) + (m_q - m_p)^T S_q^-1 (m_q - m_p) - d + log det S_q - log det S_p],
    computed through the Cholesky factors S = L L^T.

    Args:
      mean_p, mean_q: means, (..., d).
      cov_p, cov_q: symmetric positive-definite covariances, (..., d, d).

    Returns:
      KL, shape (...).

    References:
      Rasmussen & Williams, "Gaussian Processes for Machine Learning", 2006, appendix A.

    Example:
      >>> round(float(gaussian_kl(jnp.array([1.0, 0.0]), 2.0 * jnp.eye(2), jnp.zeros(2), jnp.eye(2))), 6)
      0.806853
    """
    _check_pair(mean_p, cov_p, mean_q, cov_q, diagonal=False)
    return _gaussian_kl(*map(as_float, (mean_p, cov_p, mean_q, cov_q)))


@jax.jit
def _gaussian_kl(mean_p, cov_p, mean_q, cov_q):
    d = mean_p.shape[-1]
    L_p = jnp.linalg.cholesky(cov_p)
    L_q = jnp.linalg.cholesky(cov_q)
    # tr(S_q^-1 S_p) = ||L_q^-1 L_p||_F^2 and the Mahalanobis term ||L_q^-1 (m_q - m_p)||^2.
    A = solve_triangular(L_q, L_p, lower=True)
    z = solve_triangular(L_q, (mean_q - mean_p)[..., None], lower=True)[..., 0]
    logdet_q = 2.0 * jnp.sum(jnp.log(jnp.diagonal(L_q, axis1=-2, axis2=-1)), axis=-1)
    logdet_p = 2.0 * jnp.sum(jnp.log(jnp.diagonal(L_p, axis1=-2, axis2=-1)), axis=-1)
    trace = jnp.sum(A**2, axis=(-2, -1))
    return 0.5 * (trace + jnp.sum(z**2, axis=-1) - d + logdet_q - logdet_p)


def gaussian_kl_diag(mean_p, var_p, mean_q, var_q) -> jax.Array:
    """KL(N(mean_p, diag var_p) || N(mean_q, diag var_q)), summed over the last axis.

    KL = 1/2 sum_i [var_p / var_q + (m_p - m_q)^2 / var_q - 1 + log var_q - log var_p].
    Against N(0, I) this is the VAE term 1/2 sum (mu^2 + sigma^2 - log sigma^2 - 1)
    (F0:1040, F1:306); with var_p = var_q = sigma^2 it is ||m_p - m_q||^2 / (2 sigma^2) (F1:986).
    For log-variances see :func:`gendiff.distributions.normal_kl` (elementwise).

    Args:
      mean_p, mean_q: means, (..., d).
      var_p, var_q: positive variances, (..., d).

    Returns:
      KL, shape (...).

    Example:
      >>> round(float(gaussian_kl_diag(jnp.array([1.0, 0.0]), jnp.full(2, 2.0), jnp.zeros(2), jnp.ones(2))), 6)
      0.806853
    """
    _check_pair(mean_p, var_p, mean_q, var_q, diagonal=True)
    return _gaussian_kl_diag(*map(as_float, (mean_p, var_p, mean_q, var_q)))


@jax.jit
def _gaussian_kl_diag(mean_p, var_p, mean_q, var_q):
    ratio = var_p / var_q
    return 0.5 * jnp.sum(ratio + (mean_p - mean_q) ** 2 / var_q - 1.0 - jnp.log(ratio), axis=-1)


def gaussian_w2(mean_p, cov_p, mean_q, cov_q, *, squared: bool = False) -> jax.Array:
    """2-Wasserstein distance between two Gaussians (the Bures-Wasserstein formula).

    W2^2 = ||m_p - m_q||^2 + tr(S_p + S_q - 2 (S_p^1/2 S_q S_p^1/2)^1/2).
    The trace of the matrix square root is the nuclear norm of L_q^T L_p (singular values),
    since (L_q^T L_p)^T (L_q^T L_p) = L_p^T S_q L_p has the eigenvalues of S_p^1/2 S_q S_p^1/2;
    this avoids eigendecompositions, whose gradients break on repeated eigenvalues.
    W2^2 is the Frechet distance of FID between the two Gaussians.

    Args:
      mean_p, mean_q: means, (..., d).
      cov_p, cov_q: symmetric positive-definite covariances, (..., d, d).
      squared: return W2^2 instead of W2.

    Returns:
      W2 (or W2^2), shape (...).

    References:
      Dowson & Landau, "The Frechet distance between multivariate normal distributions", 1982;
      Givens & Shortt, "A class of Wasserstein metrics for probability distributions", 1984.

    Example:
      >>> float(gaussian_w2(jnp.zeros(1), jnp.eye(1), jnp.ones(1), 4.0 * jnp.eye(1), squared=True))  # 1 + (1 - 2)^2
      2.0
    """
    _check_pair(mean_p, cov_p, mean_q, cov_q, diagonal=False)
    return _gaussian_w2(*map(as_float, (mean_p, cov_p, mean_q, cov_q)), squared)


@functools.partial(jax.jit, static_argnums=4)
def _gaussian_w2(mean_p, cov_p, mean_q, cov_q, squared):
    L_p = jnp.linalg.cholesky(cov_p)
    L_q = jnp.linalg.cholesky(cov_q)
    B = jnp.swapaxes(L_q, -1, -2) @ L_p
    nuclear = jnp.sum(jnp.linalg.svd(B, compute_uv=False), axis=-1)
    trace = jnp.trace(cov_p, axis1=-2, axis2=-1) + jnp.trace(cov_q, axis1=-2, axis2=-1)
    w2_sq = jnp.sum((mean_p - mean_q) ** 2, axis=-1) + jnp.maximum(trace - 2.0 * nuclear, 0.0)
    return w2_sq if squared else safe_sqrt(w2_sq)


def gaussian_w2_diag(mean_p, var_p, mean_q, var_q, *, squared: bool = False) -> jax.Array:
    """2-Wasserstein distance between Gaussians with diagonal covariances.

    W2^2 = ||m_p - m_q||^2 + sum_i (sqrt var_p,i - sqrt var_q,i)^2 (the covariances commute).

    Args:
      mean_p, mean_q: means, (..., d).
      var_p, var_q: non-negative variances, (..., d).
      squared: return W2^2 instead of W2.

    Returns:
      W2 (or W2^2), shape (...).

    Example:
      >>> round(float(gaussian_w2_diag(jnp.zeros(2), jnp.ones(2), jnp.zeros(2), jnp.full(2, 4.0))), 6)  # sqrt 2
      1.414214
    """
    _check_pair(mean_p, var_p, mean_q, var_q, diagonal=True)
    return _gaussian_w2_diag(*map(as_float, (mean_p, var_p, mean_q, var_q)), squared)


@functools.partial(jax.jit, static_argnums=4)
def _gaussian_w2_diag(mean_p, var_p, mean_q, var_q, squared):
    w2_sq = jnp.sum((mean_p - mean_q) ** 2 + (safe_sqrt(var_p) - safe_sqrt(var_q)) ** 2, axis=-1)
    return w2_sq if squared else safe_sqrt(w2_sq)


def gaussian_js_1d(mean_p, std_p, mean_q, std_q, *, num_points: int = 2001) -> jax.Array:
    """Jensen-Shannon divergence between N(mean_p, std_p^2) and N(mean_q, std_q^2), by quadrature.

    JS has no closed form between Gaussians. With m = (p + q) / 2,

        JS = 1/2 E_p[log(p / m)] + 1/2 E_q[log(q / m)],
        log(p / m) = log 2 - softplus(log q - log p),

    and each expectation is a trapezoid sum over `num_points` equally spaced standardised
    points z in [-12, 12] of its own Gaussian, x = mean + std z, with weights phi(z) dz. For
    smooth integrands under a Gaussian weight the trapezoid rule converges geometrically; with
    the default 2001 points the error is below 1e-9 for std ratios up to 30 and about 3e-5 at a
    ratio of 100 (the narrow Gaussian must span a few grid steps of the wide one: raise
    `num_points` for more extreme ratios). Broadcasts over its arguments.

    Args:
      mean_p, std_p, mean_q, std_q: parameters (std > 0), broadcastable to one shape.
      num_points: quadrature points per expectation (a Python int >= 3).

    Returns:
      JS in nats, in [0, ln 2].

    References:
      Trefethen & Weideman, "The exponentially convergent trapezoidal rule", SIAM Review 2014.

    Example:
      >>> round(float(gaussian_js_1d(0.0, 1.0, 0.0, 1.0)), 6)
      0.0
    """
    if int(num_points) < 3:
        raise ValueError(f"num_points must be an int >= 3, got {num_points}.")
    mean_p, std_p, mean_q, std_q = jnp.broadcast_arrays(
        *map(as_float, (mean_p, std_p, mean_q, std_q))
    )
    return _gaussian_js_1d(mean_p, std_p, mean_q, std_q, int(num_points))


@functools.partial(jax.jit, static_argnums=4)
def _gaussian_js_1d(mean_p, std_p, mean_q, std_q, num_points):
    dtype = mean_p.dtype
    z = np.linspace(-12.0, 12.0, num_points)
    w = np.exp(-0.5 * z**2)
    w = w / w.sum()  # phi(z) dz, normalised so that constants integrate exactly
    z, w = jnp.asarray(z, dtype), jnp.asarray(w, dtype)
    log2 = jnp.log(2.0).astype(dtype)

    def log_normal(x, m, s):
        return -0.5 * ((x - m) / s) ** 2 - jnp.log(s)  # the common constant cancels

    def half_term(m_a, s_a, m_b, s_b):
        m_a, s_a, m_b, s_b = (a[..., None] for a in (m_a, s_a, m_b, s_b))
        x = m_a + s_a * z  # the grid of N(m_a, s_a^2)
        log_ratio = log_normal(x, m_b, s_b) - log_normal(x, m_a, s_a)
        return jnp.sum(w * (log2 - jax.nn.softplus(log_ratio)), axis=-1)

    js = 0.5 * half_term(mean_p, std_p, mean_q, std_q) + 0.5 * half_term(
        mean_q, std_q, mean_p, std_p
    )
    return jnp.maximum(js, 0.0)  # round-off below 0 when p = q
