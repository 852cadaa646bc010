"""Gaussian mixture densities: parameters for four covariance types, log-density and sampling.

p(x) = sum_z p_z N(x; mu_z, Sigma_z) (F3:42-55, there with Sigma_z = sigma_z^2 I, the "spherical"
type). Covariance shapes, as in scikit-learn's GaussianMixture:

    "full"       (k, d, d)  one full covariance per component
    "tied"       (d, d)     one full covariance shared by all components
    "diag"       (k, d)     one diagonal covariance per component
    "spherical"  (k,)       one variance per component

``precisions_cholesky`` holds a square root L of each precision matrix, Sigma^{-1} = L L^T
(for "diag" and "spherical": L = Sigma^{-1/2} elementwise). The log-density only needs L:
log N(x; mu, Sigma) = -d/2 log 2 pi + log|det L| - ||(x - mu)^T L||^2 / 2.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from gendiff.classic import _checks

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


class GMMParams(NamedTuple):
    """Parameters of a Gaussian mixture (a pytree).

    Attributes:
      weights: (k,) mixing proportions p_z, summing to 1.
      means: (k, d) component means.
      covariances: covariances in the shape of the covariance type (module docstring).
      precisions_cholesky: L with Sigma^{-1} = L L^T, same shape as ``covariances``.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import GMMParams, gmm_log_prob
      >>> p = GMMParams(weights=jnp.array([0.5, 0.5]), means=jnp.array([[-1.0], [1.0]]),
      ...               covariances=jnp.ones(2), precisions_cholesky=jnp.ones(2))  # "spherical"
      >>> round(float(gmm_log_prob(jnp.zeros((1, 1)), p, "spherical")[0]), 6)  # -1/2 - log sqrt(2 pi)
      -1.418939
    """

    weights: jax.Array
    means: jax.Array
    covariances: jax.Array
    precisions_cholesky: jax.Array


def covariance_shape(covariance_type: str, k: int, d: int) -> tuple[int, ...]:
    """Shape of the covariances of a k-component mixture in d dimensions."""
    return {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[covariance_type]


def precisions_cholesky_from_covariances(covariances: jax.Array, covariance_type: str) -> jax.Array:
    """L = C^{-T} where Sigma = C C^T (Cholesky), so that L L^T = Sigma^{-1}."""
    if covariance_type in ("full", "tied"):
        C = jnp.linalg.cholesky(covariances)
        eye = jnp.broadcast_to(jnp.eye(C.shape[-1], dtype=C.dtype), C.shape)
        return jnp.swapaxes(solve_triangular(C, eye, lower=True), -1, -2)
    return jax.lax.rsqrt(covariances)


def precisions_cholesky_from_precisions(precisions: jax.Array, covariance_type: str) -> jax.Array:
    """Lower-triangular Cholesky factor of each precision matrix (sqrt for diag / spherical)."""
    if covariance_type in ("full", "tied"):
        return jnp.linalg.cholesky(precisions)
    return jnp.sqrt(precisions)


def covariances_from_precisions_cholesky(prec_chol: jax.Array, covariance_type: str) -> jax.Array:
    """Sigma = (L L^T)^{-1} = L^{-T} L^{-1} for a triangular L (1 / L^2 for diag / spherical)."""
    if covariance_type in ("full", "tied"):
        P = prec_chol @ jnp.swapaxes(prec_chol, -1, -2)
        C = jnp.linalg.cholesky(P)  # P = C C^T, Sigma = C^{-T} C^{-1}
        eye = jnp.broadcast_to(jnp.eye(C.shape[-1], dtype=C.dtype), C.shape)
        Cinv = solve_triangular(C, eye, lower=True)
        return jnp.swapaxes(Cinv, -1, -2) @ Cinv
    return 1.0 / prec_chol**2


def gmm_precisions(params: GMMParams, covariance_type: str = "full") -> jax.Array:
    """The precision matrices Sigma^{-1} = L L^T (elementwise L^2 for diag / spherical).

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import GMMParams, gmm_precisions
      >>> from gendiff.classic.gmm import precisions_cholesky_from_covariances
      >>> cov = jnp.array([[[2.0, 1.0], [1.0, 2.0]]])
      >>> p = GMMParams(jnp.ones(1), jnp.zeros((1, 2)), cov,
      ...               precisions_cholesky_from_covariances(cov, "full"))
      >>> bool(jnp.allclose(gmm_precisions(p, "full")[0] @ cov[0], jnp.eye(2), atol=1e-5))
      True
      >>> gmm_precisions(p._replace(precisions_cholesky=jnp.array([0.5])), "spherical").tolist()
      [0.25]
    """
    L = params.precisions_cholesky
    if covariance_type in ("full", "tied"):
        return L @ jnp.swapaxes(L, -1, -2)
    return L**2


def _component_log_prob(x, means, prec_chol, covariance_type):
    """(n, k) log N(x_i; mu_z, Sigma_z)."""
    d = x.shape[1]
    diff = x[:, None, :] - means[None]  # (n, k, d)
    if covariance_type == "full":
        y = jnp.einsum("nkd,kde->nke", diff, prec_chol)
        log_det = jnp.sum(jnp.log(jnp.abs(jnp.diagonal(prec_chol, 0, -2, -1))), -1)
    elif covariance_type == "tied":
        y = diff @ prec_chol
        log_det = jnp.sum(jnp.log(jnp.abs(jnp.diagonal(prec_chol))))
    elif covariance_type == "diag":
        y = diff * prec_chol[None]
        log_det = jnp.sum(jnp.log(prec_chol), -1)
    else:
        y = diff * prec_chol[None, :, None]
        log_det = d * jnp.log(prec_chol)
    return -0.5 * (d * math.log(2 * math.pi) + jnp.sum(y * y, -1)) + log_det


def gmm_joint_log_prob(x: jax.Array, params: GMMParams, covariance_type: str = "full") -> jax.Array:
    """(n, k) log p_z + log N(x_i; mu_z, Sigma_z), the terms of the note's gradient (F3:59).

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import GMMParams, gmm_joint_log_prob
      >>> p = GMMParams(jnp.array([0.25, 0.75]), jnp.zeros((2, 1)), jnp.ones(2), jnp.ones(2))
      >>> lp = gmm_joint_log_prob(jnp.zeros((3, 1)), p, "spherical")
      >>> lp.shape, [round(float(v), 5) for v in lp[0]]  # log p_z - log sqrt(2 pi)
      ((3, 2), [-2.30523, -1.20662])
    """
    return jnp.log(params.weights) + _component_log_prob(
        x, params.means, params.precisions_cholesky, covariance_type
    )


def gmm_log_prob(x: jax.Array, params: GMMParams, covariance_type: str = "full") -> jax.Array:
    """log p(x) = log sum_z p_z N(x; mu_z, Sigma_z) for each row of x.

    Args:
      x: (n, d) points.
      params: :class:`GMMParams`.
      covariance_type: "full", "tied", "diag" or "spherical".

    Returns:
      (n,) log-densities.

    References:
      Bishop, "Pattern Recognition and Machine Learning", 2006, section 9.2.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import GMMParams, gmm_log_prob
      >>> p = GMMParams(jnp.array([1.0]), jnp.zeros((1, 1)), jnp.ones(1), jnp.ones(1))
      >>> round(float(gmm_log_prob(jnp.zeros((1, 1)), p, "spherical")[0]), 6)  # -log sqrt(2 pi)
      -0.918939
    """
    _checks.check_option("covariance_type", covariance_type, COVARIANCE_TYPES)
    x = _checks.as_float_array("x", x, 2)
    return jax.nn.logsumexp(gmm_joint_log_prob(x, params, covariance_type), axis=1)


def gmm_sample(
    key: jax.Array, params: GMMParams, num_samples: int, covariance_type: str = "full"
) -> tuple[jax.Array, jax.Array]:
    """Draw z ~ Categorical(p) and x = mu_z + C_z eps, Sigma_z = C_z C_z^T, eps ~ N(0, I).

    Args:
      key: PRNG key.
      params: :class:`GMMParams`.
      num_samples: number of draws.
      covariance_type: "full", "tied", "diag" or "spherical".

    Returns:
      ``(x, z)``: (num_samples, d) samples and their (num_samples,) components.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import GMMParams, gmm_sample
      >>> p = GMMParams(jnp.array([0.5, 0.5]), jnp.array([[-5.0], [5.0]]), jnp.ones(2), jnp.ones(2))
      >>> x, z = gmm_sample(jax.random.key(0), p, 1000, "spherical")
      >>> bool(jnp.all(jnp.sign(x[:, 0]) == 2 * z - 1))
      True
    """
    _checks.check_option("covariance_type", covariance_type, COVARIANCE_TYPES)
    key_z, key_eps = jax.random.split(key)
    means = params.means
    k, d = means.shape
    z = jax.random.categorical(key_z, jnp.log(params.weights), shape=(num_samples,))
    eps = jax.random.normal(key_eps, (num_samples, d), means.dtype)
    cov = params.covariances
    if covariance_type == "full":
        noise = jnp.einsum("nde,ne->nd", jnp.linalg.cholesky(cov)[z], eps)
    elif covariance_type == "tied":
        noise = eps @ jnp.linalg.cholesky(cov).T
    elif covariance_type == "diag":
        noise = eps * jnp.sqrt(cov[z])
    else:
        noise = eps * jnp.sqrt(cov[z])[:, None]
    return means[z] + noise, z.astype(jnp.int32)


def gaussian_statistics(
    x: jax.Array, resp: jax.Array, reg_covar: float, covariance_type: str
) -> GMMParams:
    """The closed-form M-step: weighted mixing proportions, means and covariances.

    With responsibilities r_iz (already multiplied by any sample weights) and n_z = sum_i r_iz:
    p_z = n_z / sum n, mu_z = sum_i r_iz x_i / n_z, Sigma_z = sum_i r_iz (x_i - mu_z)(x_i - mu_z)^T
    / n_z + reg_covar I ("tied": pooled over z and divided by sum n; "diag": the diagonal;
    "spherical": the mean of the diagonal). n_z gets 10 machine epsilons so an empty component
    keeps finite parameters (its mean is 0 and its covariance reg_covar I).
    """
    d = x.shape[1]
    eps = 10 * jnp.finfo(x.dtype).eps
    nk = jnp.sum(resp, 0) + eps  # (k,)
    means = (resp.T @ x) / nk[:, None]
    diff = x[:, None, :] - means[None]  # (n, k, d)
    rdiff = resp[:, :, None] * diff
    if covariance_type == "full":
        cov = jnp.einsum("nkd,nke->kde", rdiff, diff) / nk[:, None, None]
        cov = cov + reg_covar * jnp.eye(d, dtype=x.dtype)
    elif covariance_type == "tied":
        cov = jnp.einsum("nkd,nke->de", rdiff, diff) / jnp.sum(nk)
        cov = cov + reg_covar * jnp.eye(d, dtype=x.dtype)
    else:
        cov = jnp.sum(rdiff * diff, 0) / nk[:, None] + reg_covar
        if covariance_type == "spherical":
            cov = jnp.mean(cov, 1)
    weights = nk / jnp.sum(nk)
    return GMMParams(
        weights, means, cov, precisions_cholesky_from_covariances(cov, covariance_type)
    )
