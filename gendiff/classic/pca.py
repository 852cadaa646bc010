"""PCA by SVD and probabilistic PCA in closed form (Tipping & Bishop 1999), with its log-density.

PCA (F3:124-170): the best rank-m encoder/decoder pair is U = W^T = the top-m eigenvectors of the
scatter matrix S = sum_i (x_i - mean)(x_i - mean)^T (F3 uses the uncentred S, ``center=False``
here), and the squared reconstruction error is the sum of the dropped eigenvalues of S. F3:170
writes Tr(S + U^T S U); the error is Tr(S) - Tr(U^T S U).

Probabilistic PCA (F3:172-184): x = W z + mu + eps, z ~ N(0, I_m), eps ~ N(0, sigma^2 I_d), so
x ~ N(mu, C) with C = W W^T + sigma^2 I. F3:180 calls the log-likelihood "NLL" (it is the
log-likelihood, not its negative) and derives only mu_ML = mean; the rest of the maximum is
sigma^2_ML = mean of the d - m smallest eigenvalues of the sample covariance and
W_ML = U_m (Lambda_m - sigma^2 I)^{1/2} (up to a rotation).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gendiff.classic import _checks


class PCAResult(NamedTuple):
    """Output of :func:`pca`.

    Attributes:
      components: (m, d) orthonormal principal axes, rows sorted by decreasing variance; the sign
        of each makes its entry of largest magnitude positive.
      explained_variance: (m,) variances along the axes (eigenvalues of S / (n - 1)).
      explained_variance_ratio: (m,) fractions of the total variance.
      singular_values: (m,) singular values of the centred data.
      mean: (d,) the mean that was subtracted (zeros when ``center=False``).
      residual: sum_i ||x_i - mean - U U^T (x_i - mean)||^2 = the sum of the dropped eigenvalues of S.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import pca
      >>> x = jnp.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
      >>> res = pca(x, 1)
      >>> round(float(res.explained_variance[0]), 4), round(float(res.explained_variance_ratio[0]), 4)
      (2.6667, 0.8)
      >>> res.mean.tolist(), round(float(res.singular_values[0]), 4)  # s^2 = 8 = 3 * 8/3
      ([0.0, 0.0], 2.8284)
    """

    components: jax.Array
    explained_variance: jax.Array
    explained_variance_ratio: jax.Array
    singular_values: jax.Array
    mean: jax.Array
    residual: jax.Array


class PPCAParams(NamedTuple):
    """Probabilistic PCA parameters: x ~ N(mean, W W^T + noise_variance I).

    Attributes:
      mean: (d,) mu.
      W: (d, m) loading matrix.
      noise_variance: sigma^2 > 0.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import PPCAParams, ppca_log_prob
      >>> p = PPCAParams(mean=jnp.zeros(2), W=jnp.zeros((2, 1)), noise_variance=jnp.array(1.0))
      >>> round(float(ppca_log_prob(jnp.zeros((1, 2)), p)[0]), 6)  # N(0; 0, I_2) = -log 2 pi
      -1.837877
    """

    mean: jax.Array
    W: jax.Array
    noise_variance: jax.Array


def _centred_svd(x, center):
    mean = jnp.mean(x, 0) if center else jnp.zeros(x.shape[1], x.dtype)
    _, s, vt = jnp.linalg.svd(x - mean, full_matrices=False)
    # Deterministic signs: the largest-magnitude entry of every axis is positive.
    sign = jnp.sign(jnp.take_along_axis(vt, jnp.argmax(jnp.abs(vt), 1)[:, None], 1))
    return mean, s, vt * jnp.where(sign == 0, 1.0, sign)


def pca(x: jax.Array, num_components: int, *, center: bool = True) -> PCAResult:
    """Principal component analysis by the SVD of the centred data.

    Args:
      x: (n, d) data.
      num_components: m, 1 <= m <= min(n, d).
      center: subtract the mean first (standard PCA); False is the note's uncentred S = sum x x^T.

    Returns:
      A :class:`PCAResult`; ``components`` and ``explained_variance`` equal scikit-learn's
      ``PCA(m).fit(x)`` (components up to sign).

    References:
      Pearson, "On lines and planes of closest fit", 1901; Bishop, "Pattern Recognition and
      Machine Learning", 2006, section 12.1.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import pca
      >>> x = jnp.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
      >>> res = pca(x, 1)
      >>> res.components.tolist(), round(float(res.residual), 4)  # the dropped eigenvalue of S
      ([[1.0, 0.0]], 2.0)
    """
    x = _checks.as_float_array("x", x, 2)
    n, d = x.shape
    _checks.check_num_components("num_components", num_components, n, d)
    _checks.check_finite("x", x)
    mean, s, vt = _centred_svd(x, center)
    eig = s**2
    m = num_components
    return PCAResult(
        vt[:m], eig[:m] / (n - 1), eig[:m] / jnp.sum(eig), s[:m], mean, jnp.sum(eig[m:])
    )


def ppca(x: jax.Array, num_components: int, *, ddof: int = 0) -> PPCAParams:
    """Maximum-likelihood probabilistic PCA in closed form (Tipping & Bishop 1999, eqs. 7-8).

    With lambda_1 >= ... >= lambda_d the eigenvalues of the sample covariance
    sum_i (x_i - mean)(x_i - mean)^T / (n - ddof) and U_m the top-m eigenvectors:
    sigma^2 = sum_{j > m} lambda_j / (d - m) and W = U_m (Lambda_m - sigma^2 I)^{1/2}.
    ``ddof=0`` is the maximum-likelihood estimate; ``ddof=1`` is the model scikit-learn's
    ``PCA(m).score_samples`` evaluates (when n >= d).

    Args:
      x: (n, d) data.
      num_components: m, 1 <= m < d, m <= n.
      ddof: 0 (maximum likelihood) or 1.

    Returns:
      :class:`PPCAParams`.

    References:
      Tipping & Bishop, "Probabilistic principal component analysis", JRSS B 1999.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import ppca, ppca_log_prob
      >>> x = jax.random.normal(jax.random.key(0), (500, 3)) * jnp.array([3.0, 1.0, 1.0])
      >>> p = ppca(x, 1)
      >>> round(float(jnp.abs(p.W[0, 0])), 1), round(float(p.noise_variance), 1)  # ~ sqrt(9 - 1), 1
      (2.7, 1.0)
      >>> ppca_log_prob(x[:2], p).shape
      (2,)
    """
    x = _checks.as_float_array("x", x, 2)
    n, d = x.shape
    _checks.check_num_components("num_components", num_components, n, d)
    if num_components >= d:
        raise ValueError(
            f"num_components must be < d = {d} for a noise variance, got {num_components}."
        )
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof}.")
    _checks.check_finite("x", x)
    m = num_components
    mean, s, vt = _centred_svd(x, True)
    lam = jnp.zeros(d, x.dtype).at[: s.shape[0]].set(s**2 / (n - ddof))
    sigma2 = jnp.sum(lam[m:]) / (d - m)
    W = vt[:m].T * jnp.sqrt(jnp.maximum(lam[:m] - sigma2, 0.0))
    return PPCAParams(mean, W, sigma2)


def ppca_log_prob(x: jax.Array, params: PPCAParams, *, mask: jax.Array | None = None) -> jax.Array:
    """log N(x_o; mu_o, W_o W_o^T + sigma^2 I) of the observed entries o of each row.

    With M = sigma^2 I_m + W_o^T W_o (Woodbury and Sylvester): log det C_o = (|o| - m) log sigma^2
    + log det M and C_o^{-1} = (I - W_o M^{-1} W_o^T) / sigma^2, so each row costs O(d m^2).

    Args:
      x: (n, d) points; entries outside ``mask`` are ignored (they may be NaN).
      params: :class:`PPCAParams`.
      mask: optional (n, d) boolean, True where an entry is observed.

    Returns:
      (n,) log-densities of the observed parts.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import PPCAParams, ppca_log_prob
      >>> p = PPCAParams(jnp.zeros(2), jnp.zeros((2, 1)), jnp.array(1.0))  # N(0, I_2)
      >>> round(float(ppca_log_prob(jnp.zeros((1, 2)), p)[0]), 6)  # -log(2 pi)
      -1.837877
    """
    x = _checks.as_float_array("x", x, 2)
    mask = _check_mask(mask, x)
    return jax.vmap(lambda xi, oi: _row_stats(xi, oi, params)[0])(x, mask)


def _check_mask(mask, x):
    if mask is None:
        return jnp.ones(x.shape, bool)
    mask = jnp.asarray(mask)
    if mask.shape != x.shape:
        raise ValueError(f"mask must have the shape of x {x.shape}, got {mask.shape}.")
    return mask.astype(bool)


def _row_stats(x, o, params):
    """Observed-data log-likelihood of one row, and the posterior N(zbar, Sigma_z) of its z."""
    mu, W, sigma2 = params
    m = W.shape[1]
    of = o.astype(x.dtype)
    Wo = W * of[:, None]
    r = jnp.where(o, x - mu, 0.0)
    M = sigma2 * jnp.eye(m, dtype=x.dtype) + Wo.T @ Wo
    chol = jnp.linalg.cholesky(M)
    Wr = Wo.T @ r
    zbar = jax.scipy.linalg.cho_solve((chol, True), Wr)
    p = jnp.sum(of)
    log_det = (p - m) * jnp.log(sigma2) + 2 * jnp.sum(jnp.log(jnp.diagonal(chol)))
    quad = (r @ r - Wr @ zbar) / sigma2
    log_lik = -0.5 * (p * math.log(2 * math.pi) + log_det + quad)
    Sigma_z = sigma2 * jax.scipy.linalg.cho_solve((chol, True), jnp.eye(m, dtype=x.dtype))
    return log_lik, zbar, Sigma_z
