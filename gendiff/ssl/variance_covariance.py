"""VICReg's variance and covariance terms: a regulariser that keeps embeddings spread.

For a batch of N embeddings z_1..z_N in R^E with per-dimension standard deviations s_j and
covariance matrix C (Bardes et al. 2022, eqs. (1) and (4)),

    v(Z) = 1/E sum_j max(0, gamma - sqrt(s_j^2 + eps)),                                    (1)
    c(Z) = 1/E sum_{i != j} C_ij^2.                                                         (2)

(1) is zero once every dimension has a standard deviation of at least gamma, and its gradient
pushes collapsed dimensions apart; (2) is zero when the dimensions are uncorrelated, and
penalises a cloud that fills only a few directions (dimensional collapse). Together they push
the covariance towards a multiple of the identity, whose effective rank is E.

Both terms depend on the scale of z: (1) asks for a standard deviation of gamma, and (2) falls
with the fourth power of the scale. An encoder whose outputs are layer-normalised and then
mean-pooled may not reach a standard deviation of gamma in a short run, and at a small scale (2)
hardly acts. With ``scale_free=True`` both terms see z / r instead, where r^2 = 1/E sum_j s_j^2
is the mean variance (one number per batch, with its gradient): the rescaled dimensions have a
mean variance of 1, so (1) with gamma = 1 is zero exactly when all variances are equal, (2)
sums the squared covariances at that unit mean variance, and both are zero exactly when C is
a multiple of the identity, whatever its scale.

C-JEPA (Mo & Tong 2024) adds both terms to I-JEPA's loss, on the context encoder's pooled
embeddings, because the EMA target alone prevents complete collapse but not dimensional
collapse. ``experiments.ssl_digits`` does the same for its ``jepa`` method
(``config.jepa.variance_weight`` and ``covariance_weight``; 0 for plain I-JEPA).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.ssl._checks import check_embeddings, check_positive, is_concrete
from gendiff.ssl.collapse import _covariance


def variance_loss(z: jax.Array, *, gamma: float = 1.0, eps: float = 1e-4) -> jax.Array:
    """The hinge on the per-dimension standard deviation (1).

    Args:
      z: (N, E) embeddings, N >= 2.
      gamma: the target standard deviation, > 0.
      eps: added to the variance inside the square root (finite gradients at 0).

    Returns:
      A scalar in [0, gamma]: gamma - sqrt(eps) for identical embeddings, 0 for a spread cloud.

    Example:
      >>> round(float(variance_loss(jnp.zeros((4, 3)), eps=0.0)), 4)
      1.0
      >>> float(variance_loss(jnp.array([[2.0, -2.0], [-2.0, 2.0]])))
      0.0
    """
    z = _check(z)
    check_positive("gamma", gamma)
    std = jnp.sqrt(jnp.var(z, axis=0, ddof=1) + eps)
    return jnp.mean(jax.nn.relu(gamma - std))


def covariance_loss(z: jax.Array) -> jax.Array:
    """The sum of the squared off-diagonal covariances over the width (2).

    Args:
      z: (N, E) embeddings, N >= 2.

    Returns:
      A scalar >= 0, zero exactly when the sample covariance is diagonal.

    Example:
      >>> z = jnp.array([[1.0, 1.0], [-1.0, -1.0]])  # perfectly correlated: C = [[2, 2], [2, 2]]
      >>> float(covariance_loss(z))  # (2^2 + 2^2) / 2
      4.0
      >>> float(covariance_loss(jnp.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])))
      0.0
    """
    cov = _covariance(_check(z))
    off = cov - jnp.diag(jnp.diag(cov))
    return jnp.sum(off**2) / z.shape[1]


def variance_covariance_loss(
    z: jax.Array,
    *,
    variance_weight: float = 1.0,
    covariance_weight: float = 0.04,
    gamma: float = 1.0,
    eps: float = 1e-4,
    scale_free: bool = False,
) -> tuple[jax.Array, dict]:
    """``variance_weight * (1) + covariance_weight * (2)`` and both terms as metrics.

    The default weights are VICReg's ratio (25 and 1 against an invariance weight of 25,
    divided by 25).

    Args:
      z: (N, E) embeddings, N >= 2.
      variance_weight, covariance_weight: the weights of (1) and (2), >= 0.
      gamma, eps: see :func:`variance_loss`.
      scale_free: apply both terms to z divided by its root mean variance (see the module
        docstring): the loss then depends on the shape of the covariance, not on its scale.

    Returns:
      (loss, {"variance_loss": (1), "covariance_loss": (2)}).

    References:
      Bardes, Ponce & LeCun, "VICReg: variance-invariance-covariance regularization for
      self-supervised learning", ICLR 2022; Mo & Tong, "Connecting joint-embedding predictive
      architecture with contrastive self-supervised learning" (C-JEPA), NeurIPS 2024.

    Example:
      >>> z = jax.random.normal(jax.random.key(0), (4096, 8))  # isotropic, std 1
      >>> loss, terms = variance_covariance_loss(z)
      >>> bool(loss < 0.02), bool(terms["covariance_loss"] < 0.02)
      (True, True)
      >>> small = 0.01 * z * jnp.array([1.0, 1, 1, 1, 1, 1, 1, 4])  # one direction dominates
      >>> float(variance_covariance_loss(small)[0]) > 0.9  # the hinge sees a tiny cloud
      True
      >>> a = variance_covariance_loss(small, scale_free=True)[0]
      >>> b = variance_covariance_loss(100 * small, scale_free=True)[0]
      >>> bool(a > 0.1), bool(jnp.allclose(a, b, rtol=1e-4))  # unequal variances, any scale
      (True, True)
    """
    for name, w in (("variance_weight", variance_weight), ("covariance_weight", covariance_weight)):
        if is_concrete(w) and not float(w) >= 0.0:  # traced weights are not checked
            raise ValueError(f"{name} must be >= 0, got {w!r}.")
    z = _check(z)
    if scale_free:
        z = z / jnp.sqrt(jnp.mean(jnp.var(z, axis=0, ddof=1)) + _TINY_VARIANCE)
    v = variance_loss(z, gamma=gamma, eps=eps)
    c = covariance_loss(z)
    return variance_weight * v + covariance_weight * c, {"variance_loss": v, "covariance_loss": c}


_TINY_VARIANCE = 1e-12  # keeps z / r finite for identical embeddings, negligible otherwise


def _check(z) -> jax.Array:
    z = check_embeddings("z", z)
    if z.shape[0] < 2:
        raise ValueError(f"z needs at least 2 embeddings (N, E), got shape {z.shape}.")
    return z
