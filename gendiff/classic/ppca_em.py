"""EM for probabilistic PCA, with missing entries (Tipping & Bishop 1999; Ilin & Raiko 2010).

E-step, for each row i with observed entries o_i:
    M_i = sigma^2 I + W_o^T W_o,  zbar_i = M_i^{-1} W_o^T (x_o - mu_o),  Sigma_i = sigma^2 M_i^{-1}.
M-step, for each feature j, jointly for its loading row w_j and mean mu_j (z~ = [z; 1]):
    [w_j; mu_j] = (sum_{i: j in o_i} E[z~ z~^T]) ^{-1} sum_{i: j in o_i} E[z~] x_ij,
    sigma^2 = (1/N_obs) sum_{(i,j) observed} (x_ij - w_j^T zbar_i - mu_j)^2 + w_j^T Sigma_i w_j.
Each iteration raises the observed-data log-likelihood. With nothing missing the fixed point is the
closed-form maximum of :func:`ppca` (the same subspace and sigma^2). The subspace converges in
tens of iterations; the lengths of W's columns and sigma^2 converge only linearly, at a rate of
about 1 - 2 sigma^2 / lambda_m per iteration (slow when the noise is small against the signal).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gendiff.classic import _checks
from gendiff.classic._iterate import iterate_em
from gendiff.classic.pca import PPCAParams, _check_mask, _row_stats


class PPCAEMResult(NamedTuple):
    """Output of :func:`ppca_em`.

    Attributes:
      params: fitted :class:`PPCAParams`.
      log_likelihood: mean observed-data log-likelihood per row at the last E-step.
      log_likelihoods: (num_iters,) that value at every iteration (repeated after convergence).
      num_iters: iterations run.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import ppca_em
      >>> x = jax.random.normal(jax.random.key(0), (300, 3)) * jnp.array([3.0, 1.0, 0.5])
      >>> res = ppca_em(jax.random.key(2), x, 1, num_iters=200)
      >>> res.params.W.shape, res.log_likelihoods.shape
      ((3, 1), (200,))
      >>> bool(jnp.all(jnp.diff(res.log_likelihoods) >= -1e-4))  # EM never lowers the likelihood
      True
    """

    params: PPCAParams
    log_likelihood: jax.Array
    log_likelihoods: jax.Array
    num_iters: jax.Array


def ppca_em(
    key: jax.Array,
    x: jax.Array,
    num_components: int,
    *,
    mask: jax.Array | None = None,
    num_iters: int = 500,
    tol: float = 0.0,
) -> PPCAEMResult:
    """Maximum-likelihood probabilistic PCA by EM, optionally with missing entries.

    Args:
      key: PRNG key for the initial W (normal, scaled to the data).
      x: (n, d) data; entries outside ``mask`` are ignored (they may be NaN).
      num_components: m, 1 <= m < d.
      mask: optional (n, d) boolean, True where observed; every feature needs an observed entry.
      num_iters: maximum number of EM iterations.
      tol: stop when the mean log-likelihood changes by less than tol; 0 runs all iterations.

    Returns:
      A :class:`PPCAEMResult`.

    References:
      Tipping & Bishop, "Probabilistic principal component analysis", JRSS B 1999, section 3.2;
      Ilin & Raiko, "Practical approaches to principal component analysis in the presence of
      missing values", JMLR 2010.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import ppca_em
      >>> x = jax.random.normal(jax.random.key(0), (300, 3)) * jnp.array([3.0, 1.0, 0.5])
      >>> mask = jax.random.uniform(jax.random.key(1), x.shape) > 0.2  # 20% missing
      >>> res = ppca_em(jax.random.key(2), x, 1, mask=mask, num_iters=200)
      >>> round(float(jnp.abs(res.params.W[0, 0]) / jnp.linalg.norm(res.params.W)), 2)
      1.0
    """
    x = _checks.as_float_array("x", x, 2)
    n, d = x.shape
    _checks.check_num_components("num_components", num_components, n, d)
    if num_components >= d:
        raise ValueError(f"num_components must be < d = {d}, got {num_components}.")
    _checks.check_iters("num_iters", num_iters)
    if float(tol) < 0:
        raise ValueError(f"tol must be >= 0, got {tol}.")
    mask = _check_mask(mask, x)
    _checks.check_finite("x", x, where=mask)
    if _checks.is_concrete(mask) and not bool(jnp.all(jnp.any(mask, 0))):
        raise ValueError("every feature (column of x) needs at least one observed entry.")
    return _ppca_em(key, x, mask, jnp.asarray(tol, x.dtype), m=num_components, num_iters=num_iters)


@functools.partial(jax.jit, static_argnames=("m", "num_iters"))
def _ppca_em(key, x, mask, tol, *, m, num_iters):
    d = x.shape[1]
    of = mask.astype(x.dtype)
    x = jnp.where(mask, x, 0.0)
    count = jnp.sum(of, 0)
    mu = jnp.sum(x, 0) / count
    var = jnp.sum(of * (x - mu) ** 2) / jnp.sum(of)
    W = jax.random.normal(key, (d, m), x.dtype) * jnp.sqrt(var / m)
    params = PPCAParams(mu, W, var)

    def em_step(params):
        log_lik, zbar, Sigma = jax.vmap(lambda xi, oi: _row_stats(xi, oi, params))(x, mask)
        ez = jnp.concatenate([zbar, jnp.ones_like(zbar[:, :1])], 1)  # E[z~], (n, m + 1)
        ezz = ez[:, :, None] * ez[:, None, :]
        ezz = ezz.at[:, :m, :m].add(Sigma)  # E[z~ z~^T], (n, m + 1, m + 1)
        A = jnp.einsum("nj,nab->jab", of, ezz)
        b = jnp.einsum("nj,nj,na->ja", of, x, ez)
        theta = jnp.linalg.solve(A, b[..., None])[..., 0]  # (d, m + 1) = [W | mu]
        W_new, mu_new = theta[:, :m], theta[:, m]
        resid = x - zbar @ W_new.T - mu_new
        spread = jnp.einsum("ja,nab,jb->nj", W_new, Sigma, W_new)
        sigma2 = jnp.sum(of * (resid**2 + spread)) / jnp.sum(of)
        return jnp.mean(log_lik), PPCAParams(mu_new, W_new, sigma2)

    params, ll, trace, iters = iterate_em(em_step, params, num_iters, tol, x.dtype)
    return PPCAEMResult(params, ll, trace, iters)
