"""Collapse diagnostics for embeddings: per-dimension spread and effective rank.

A collapsed encoder maps every input to (nearly) one point, so the per-dimension standard
deviation goes to 0 (complete collapse), or to a low-dimensional subspace, so the covariance
has few non-negligible eigenvalues (dimensional collapse; Jing et al. 2022). The effective rank
of the covariance C of the (N, E) embeddings (Roy & Vetterli 2007) is

    erank(C) = exp( -sum_k p_k log p_k ),      p_k = lambda_k / sum_j lambda_j,            (1)

with lambda_k the eigenvalues of C: E for an isotropic cloud, 1 when all points lie on a line,
and in between it counts the directions that carry the variance. (RankMe, Garrido et al. 2023,
applies (1) to the singular values of the embedding matrix instead, that is to sqrt(lambda_k)
for centred embeddings, which counts small directions more.)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.ssl._checks import check_embeddings


def embedding_std(z: jax.Array, *, normalize: bool = False) -> jax.Array:
    """Standard deviation of each embedding dimension over the batch.

    Args:
      z: (N, E) embeddings.
      normalize: first scale each embedding to unit length (SimSiam's diagnostic: then a
        healthy E-dimensional embedding has std near 1 / sqrt(E), a collapsed one 0).

    Returns:
      (E,) standard deviations.

    References:
      Chen & He, "Exploring simple Siamese representation learning", CVPR 2021, section 4.1.

    Example:
      >>> embedding_std(jnp.array([[0.0, 1.0], [2.0, 1.0]])).tolist()
      [1.0, 0.0]
    """
    z = check_embeddings("z", z)
    if normalize:
        z = z / jnp.sqrt(jnp.maximum(jnp.sum(z * z, axis=-1, keepdims=True), 1e-24))
    return jnp.std(z, axis=0)


def effective_rank(z: jax.Array) -> jax.Array:
    """Effective rank (1) of the covariance of the embeddings.

    Args:
      z: (N, E) embeddings, N >= 2.

    Returns:
      A scalar in [1, min(N - 1, E)]; 0 when all embeddings are equal (no variance at all).

    References:
      Roy & Vetterli, "The effective rank: a measure of effective dimensionality", EUSIPCO
      2007; Garrido et al., "RankMe", ICML 2023.

    Example:
      >>> z = jnp.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
      >>> round(float(effective_rank(z)), 4), round(float(effective_rank(z * jnp.array([1.0, 0.0]))), 4)
      (2.0, 1.0)
    """
    z = check_embeddings("z", z)
    if z.shape[0] < 2:
        raise ValueError(f"effective_rank needs at least 2 embeddings, got {z.shape[0]}.")
    return _effective_rank(z)


def _covariance(z: jax.Array) -> jax.Array:
    """The unbiased (E, E) covariance of (N, E) embeddings (no checks: callers check z)."""
    z = z - jnp.mean(z, axis=0)
    return z.T @ z / (z.shape[0] - 1)


@jax.jit
def _effective_rank(z):
    cov = _covariance(z)
    lam = jnp.clip(jnp.linalg.eigvalsh(cov), 0.0, None)  # round-off can leave tiny negatives
    total = jnp.sum(lam)
    p = lam / jnp.where(total > 0, total, 1.0)
    entropy = -jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0))
    return jnp.where(total > 0, jnp.exp(entropy), 0.0)


def collapse_metrics(z: jax.Array) -> dict:
    """Both diagnostics at once, as scalars for a metrics log.

    Args:
      z: (N, E) embeddings, N >= 2.

    Returns:
      {'effective_rank', 'std_mean', 'std_min', 'normalized_std_mean'} (the last is the
      mean per-dimension std of the unit-length embeddings, SimSiam's collapse measure).

    Example:
      >>> m = collapse_metrics(jnp.ones((4, 3)))  # complete collapse
      >>> float(m["effective_rank"]), float(m["std_mean"])
      (0.0, 0.0)
    """
    std = embedding_std(z)
    return {
        "effective_rank": effective_rank(z),
        "std_mean": jnp.mean(std),
        "std_min": jnp.min(std),
        "normalized_std_mean": jnp.mean(embedding_std(z, normalize=True)),
    }
