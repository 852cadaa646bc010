"""Fréchet distance between Gaussians fitted to two sets of features.

For N(mu1, S1) and N(mu2, S2) the squared Fréchet (2-Wasserstein) distance is

    d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}).                      (1)

The matrix square root is never formed: S1 S2 has the same eigenvalues as the
symmetric positive semi-definite matrix M = S1^{1/2} S2 S1^{1/2}, so

    Tr (S1 S2)^{1/2} = sum_i sqrt(lambda_i(M)),                                 (2)

with S1^{1/2} and lambda_i(M) taken from symmetric eigendecompositions (eigh).
Tiny negative eigenvalues from round-off are clipped to zero. Everything here
runs in float64 inside a scoped `jax.enable_x64(True)`; the rest of the library
stays in float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.metrics._validation import check_finite, check_rank


@jax.jit
def _statistics(features: jax.Array) -> tuple[jax.Array, jax.Array]:
    n = features.shape[0]
    mu = jnp.mean(features, axis=0)
    centred = features - mu
    # Unbiased covariance (ddof = 1): S = X_c^T X_c / (n - 1).
    sigma = centred.T @ centred / (n - 1)
    return mu, sigma


@jax.jit
def _squared_distance(mu1, sigma1, mu2, sigma2) -> jax.Array:
    # S1^{1/2} = V diag(sqrt(max(l, 0))) V^T from S1 = V diag(l) V^T.
    evals1, evecs1 = jnp.linalg.eigh(sigma1)
    sqrt_sigma1 = (evecs1 * jnp.sqrt(jnp.clip(evals1, 0.0))) @ evecs1.T
    # M = S1^{1/2} S2 S1^{1/2}, symmetrised against round-off.
    m = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
    m = 0.5 * (m + m.T)
    # Equation (2).
    trace_sqrt = jnp.sum(jnp.sqrt(jnp.clip(jnp.linalg.eigvalsh(m), 0.0)))
    diff = mu1 - mu2
    # Equation (1).
    return diff @ diff + jnp.trace(sigma1) + jnp.trace(sigma2) - 2.0 * trace_sqrt


def _as_float64(name: str, x, ndim: int, layout: str) -> np.ndarray:
    check_rank(name, x, ndim, layout)
    x = np.asarray(x, dtype=np.float64)
    check_finite(name, x)
    return x


def _check_covariance(name: str, sigma: np.ndarray, dim: int) -> None:
    if sigma.shape != (dim, dim):
        raise ValueError(
            f"{name} must have shape ({dim}, {dim}) to match its mean, got {sigma.shape}."
        )
    scale = max(float(np.max(np.abs(sigma))), np.finfo(np.float64).tiny)
    if not np.allclose(sigma, sigma.T, rtol=0.0, atol=1e-6 * scale):
        raise ValueError(f"{name} must be a symmetric covariance matrix.")


def gaussian_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (ddof=1) of a feature matrix, in float64.

    Args:
      features: array of shape (num_samples, dim) with num_samples >= 2.

    Returns:
      (mu, sigma): float64 NumPy arrays of shapes (dim,) and (dim, dim).

    Example:
      >>> mu, sigma = gaussian_statistics(np.random.randn(100, 8))
      >>> mu.shape, sigma.shape
      ((8,), (8, 8))
    """
    features = _as_float64("features", features, 2, "(num_samples, dim)")
    if features.shape[0] < 2:
        raise ValueError(
            f"features needs at least 2 samples for a covariance, got {features.shape[0]}."
        )
    with jax.enable_x64(True):
        mu, sigma = _statistics(jnp.asarray(features))
        return np.asarray(mu), np.asarray(sigma)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance d^2 between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    This is the quantity reported as FID when the statistics come from Inception
    features: ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2}).
    Round-off can make the formula dip slightly below zero; the result is clipped at 0.

    Args:
      mu1: mean, shape (dim,).
      sigma1: symmetric positive semi-definite covariance, shape (dim, dim).
      mu2: mean, shape (dim,).
      sigma2: covariance, shape (dim, dim).

    Returns:
      The squared Fréchet distance as a Python float.

    Example:
      >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))
      4.0
    """
    mu1 = _as_float64("mu1", mu1, 1, "(dim,)")
    mu2 = _as_float64("mu2", mu2, 1, "(dim,)")
    if mu1.shape != mu2.shape:
        raise ValueError(f"mu1 and mu2 must have the same shape, got {mu1.shape} and {mu2.shape}.")
    sigma1 = _as_float64("sigma1", sigma1, 2, "(dim, dim)")
    sigma2 = _as_float64("sigma2", sigma2, 2, "(dim, dim)")
    _check_covariance("sigma1", sigma1, mu1.shape[0])
    _check_covariance("sigma2", sigma2, mu2.shape[0])
    with jax.enable_x64(True):
        d2 = _squared_distance(*map(jnp.asarray, (mu1, sigma1, mu2, sigma2)))
        return max(float(d2), 0.0)


def frechet_distance_from_features(features1, features2) -> float:
    """Fréchet distance between Gaussians fitted to two feature matrices.

    Args:
      features1: array of shape (n1, dim).
      features2: array of shape (n2, dim); n1 and n2 may differ.

    Returns:
      The squared Fréchet distance as a Python float.

    Example:
      >>> rng = np.random.default_rng(0)
      >>> d = frechet_distance_from_features(rng.normal(size=(500, 4)), rng.normal(size=(500, 4)))
    """
    check_rank("features1", features1, 2, "(num_samples, dim)")
    check_rank("features2", features2, 2, "(num_samples, dim)")
    if np.shape(features1)[1] != np.shape(features2)[1]:
        raise ValueError(
            "features1 and features2 must have the same feature dimension, "
            f"got {np.shape(features1)} and {np.shape(features2)}."
        )
    return frechet_distance(*gaussian_statistics(features1), *gaussian_statistics(features2))
