"""Baum-Welch (EM) for HMMs whose states emit Gaussian mixtures (F0:3005-3029).

Emission of state k: p(x | z = k) = sum_m c_km N(x; mu_km, Sigma_km); one mixture component
(``num_mixture_components=1``) is the Gaussian HMM. E-step: forward-backward for every sequence
gives gamma_t(k) and the expected transitions; within state k, component m takes the share
gamma_t(k) c_km N(x_t; mu_km, Sigma_km) / p(x_t | z_t = k). M-step: pi = mean of gamma_1,
A_ij proportional to the expected i -> j transitions, and each (k, m) is a weighted Gaussian
fit as in :func:`gendiff.classic.gmm.gaussian_statistics` (reg_covar on the diagonal); c_km is
normalised within each state. Each iteration raises the likelihood; the loop is one while_loop.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gendiff.classic import _checks
from gendiff.classic._iterate import iterate_em
from gendiff.classic.gmm import gaussian_statistics
from gendiff.classic.hmm import gaussian_log_prob, hmm_forward_backward
from gendiff.classic.kmeans import _seed, squared_distances


class HMMParams(NamedTuple):
    """HMM with Gaussian-mixture emissions (a pytree).

    Attributes:
      initial: (K,) pi.
      transition: (K, K) A, rows sum to 1.
      weights: (K, M) mixture weights c_km, rows sum to 1.
      means: (K, M, d).
      covariances: (K, M, d, d) full covariances.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import HMMParams, hmm_emission_log_prob
      >>> p = HMMParams(initial=jnp.array([0.5, 0.5]), transition=jnp.array([[0.9, 0.1], [0.1, 0.9]]),
      ...               weights=jnp.ones((2, 1)), means=jnp.array([[[0.0]], [[2.0]]]),
      ...               covariances=jnp.ones((2, 1, 1, 1)))  # K = 2 states, M = 1, d = 1
      >>> [round(float(v), 6) for v in hmm_emission_log_prob(jnp.zeros((1, 1)), p)[0]]
      [-0.918939, -2.918939]
    """

    initial: jax.Array
    transition: jax.Array
    weights: jax.Array
    means: jax.Array
    covariances: jax.Array


class BaumWelchResult(NamedTuple):
    """Output of :func:`baum_welch`.

    Attributes:
      params: fitted :class:`HMMParams`.
      log_likelihood: mean log p(x_{1:T}) per sequence at the last E-step.
      log_likelihoods: (num_iters,) that value at every iteration (repeated after convergence).
      num_iters: iterations run.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import baum_welch
      >>> z = (jnp.arange(200) // 20) % 2
      >>> x = (4.0 * z + jax.random.normal(jax.random.key(0), (200,)))[None, :, None]
      >>> res = baum_welch(jax.random.key(1), x, 2, num_iters=50)
      >>> res.params.transition.shape, res.log_likelihoods.shape
      ((2, 2), (50,))
      >>> bool(jnp.all(jnp.diff(res.log_likelihoods) >= -1e-4))  # EM never lowers the likelihood
      True
    """

    params: HMMParams
    log_likelihood: jax.Array
    log_likelihoods: jax.Array
    num_iters: jax.Array


def _component_log_prob(x, params):
    """(n, K, M) log c_km + log N(x; mu_km, Sigma_km)."""
    K, M, d = params.means.shape
    lp = gaussian_log_prob(
        x, params.means.reshape(K * M, d), params.covariances.reshape(K * M, d, d)
    )
    return jnp.log(params.weights)[None] + lp.reshape(-1, K, M)


def hmm_emission_log_prob(x: jax.Array, params: HMMParams) -> jax.Array:
    """(T, K) log p(x_t | z_t = k) = log sum_m c_km N(x_t; mu_km, Sigma_km) for (T, d) x.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import HMMParams, hmm_emission_log_prob
      >>> p = HMMParams(jnp.ones(1), jnp.ones((1, 1)), jnp.array([[0.5, 0.5]]),
      ...               jnp.array([[[-1.0], [1.0]]]), jnp.ones((1, 2, 1, 1)))  # M = 2 components
      >>> lp = hmm_emission_log_prob(jnp.zeros((4, 1)), p)
      >>> lp.shape, round(float(lp[0, 0]), 6)  # log N(0; +-1, 1) = -1/2 - log sqrt(2 pi)
      ((4, 1), -1.418939)
    """
    return jax.nn.logsumexp(_component_log_prob(x, params), axis=-1)


def hmm_log_prob(x: jax.Array, params: HMMParams) -> jax.Array:
    """log p(x_{1:T}) of one (T, d) sequence, or of each sequence of a (B, T, d) batch.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import HMMParams, hmm_log_prob
      >>> p = HMMParams(jnp.array([1.0]), jnp.ones((1, 1)), jnp.ones((1, 1)), jnp.zeros((1, 1, 1)),
      ...               jnp.ones((1, 1, 1, 1)))
      >>> round(float(hmm_log_prob(jnp.zeros((3, 1)), p)), 5)  # three N(0, 1) densities at 0
      -2.75682
    """
    x = _checks.as_float_array("x", x)
    if x.ndim == 3:
        return jax.vmap(lambda s: hmm_log_prob(s, params))(x)
    post = hmm_forward_backward(
        jnp.log(params.initial), jnp.log(params.transition), hmm_emission_log_prob(x, params)
    )
    return post.log_likelihood


def hmm_sample(
    key: jax.Array, params: HMMParams, num_sequences: int, length: int
) -> tuple[jax.Array, jax.Array]:
    """Ancestral sampling: z_1 ~ pi, z_t ~ A[z_{t-1}], a mixture component c_t ~ c[z_t] and
    x_t ~ N(mu[z_t, c_t], Sigma[z_t, c_t]), as one ``lax.scan`` over time.

    Args:
      key: PRNG key.
      params: the HMM.
      num_sequences: B >= 1.
      length: T >= 1.

    Returns:
      ``(x, z)``: observations (B, T, d) and hidden states (B, T).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import HMMParams, hmm_sample
      >>> params = HMMParams(initial=jnp.array([0.5, 0.5]),
      ...                    transition=jnp.array([[0.9, 0.1], [0.1, 0.9]]),
      ...                    weights=jnp.ones((2, 1)), means=jnp.array([[[0.0]], [[4.0]]]),
      ...                    covariances=jnp.ones((2, 1, 1, 1)))  # x_t ~ N(4 z_t, 1)
      >>> x, z = hmm_sample(jax.random.key(0), params, 20, 100)
      >>> x.shape, z.shape
      ((20, 100, 1), (20, 100))
      >>> round(float(jnp.mean(z[:, 1:] == z[:, :-1])), 1)  # A_kk = 0.9
      0.9
      >>> noise = x[..., 0] - 4.0 * z
      >>> bool(abs(noise.mean()) < 0.1), round(float(noise.std()), 1)  # x_t - 4 z_t ~ N(0, 1)
      (True, 1.0)
    """
    for name, value in (("num_sequences", num_sequences), ("length", length)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return _hmm_sample(key, params, int(num_sequences), int(length))


@functools.partial(jax.jit, static_argnums=(2, 3))
def _hmm_sample(key, params, num_sequences, length):
    key_z0, key_z, key_c, key_eps = jax.random.split(key, 4)
    z0 = jax.random.categorical(key_z0, jnp.log(params.initial), shape=(num_sequences,))

    def step(z, k):
        z = jax.random.categorical(k, jnp.log(params.transition)[z])
        return z, z

    _, rest = jax.lax.scan(step, z0, jax.random.split(key_z, length - 1))
    z = jnp.concatenate([z0[None], rest]).T  # (B, T)
    c = jax.random.categorical(key_c, jnp.log(params.weights)[z])  # (B, T)
    chol = jnp.linalg.cholesky(params.covariances[z, c])  # (B, T, d, d)
    eps = jax.random.normal(key_eps, z.shape + (params.means.shape[-1],), params.means.dtype)
    return params.means[z, c] + jnp.einsum("btde,bte->btd", chol, eps), z


def baum_welch(
    key: jax.Array,
    x: jax.Array,
    num_states: int,
    *,
    num_mixture_components: int = 1,
    init: HMMParams | None = None,
    num_iters: int = 100,
    tol: float = 1e-6,
    reg_covar: float = 1e-6,
) -> BaumWelchResult:
    """Fit an HMM with Gaussian (M = 1) or Gaussian-mixture emissions by Baum-Welch.

    Args:
      key: PRNG key for the initial means (k-means++ over all frames, K * M centres).
      x: (B, T, d) sequences of equal length (or one (T, d) sequence).
      num_states: K.
      num_mixture_components: M, components per state.
      init: optional initial :class:`HMMParams`; by default pi uniform, A = 0.5 I + 0.5 / K,
        c uniform, means from k-means++ and every covariance the covariance of all frames.
      num_iters: maximum number of EM iterations.
      tol: stop when the mean log-likelihood per sequence changes by less than tol.
      reg_covar: > 0, added to the diagonal of every covariance.

    Returns:
      A :class:`BaumWelchResult`.

    References:
      Baum, Petrie, Soules & Weiss, "A maximization technique occurring in the statistical
      analysis of probabilistic functions of Markov chains", Ann. Math. Stat. 1970; Juang,
      Levinson & Sondhi, "Maximum likelihood estimation for multivariate mixture observations of
      Markov chains", IEEE Trans. Inf. Theory 1986; Rabiner 1989.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import baum_welch
      >>> z = (jnp.arange(200) // 20) % 2  # blocks of 20 steps in each state
      >>> x = (4.0 * z + jax.random.normal(jax.random.key(0), (200,)))[None, :, None]
      >>> res = baum_welch(jax.random.key(1), x, 2, num_iters=50)
      >>> sorted(round(float(m)) for m in res.params.means[:, 0, 0])
      [0, 4]
    """
    x = _checks.as_float_array("x", x)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"x must have shape (B, T, d) or (T, d), got {x.shape}.")
    B, T, d = x.shape
    K, M = num_states, num_mixture_components
    _checks.check_num_components("num_states", K, B * T)
    _checks.check_num_components("num_states * num_mixture_components", K * M, B * T)
    _checks.check_iters("num_iters", num_iters)
    _checks.check_positive("reg_covar", reg_covar)
    if float(tol) < 0:
        raise ValueError(f"tol must be >= 0, got {tol}.")
    _checks.check_finite("x", x)
    if init is not None:
        shapes = HMMParams((K,), (K, K), (K, M), (K, M, d), (K, M, d, d))
        init = HMMParams(*(jnp.asarray(a, x.dtype) for a in init))
        for name, a, shape in zip(HMMParams._fields, init, shapes):
            if a.shape != shape:
                raise ValueError(f"init.{name} must have shape {shape}, got {a.shape}.")
    return _baum_welch(
        key,
        x,
        init,
        jnp.asarray(tol, x.dtype),
        jnp.asarray(reg_covar, x.dtype),
        K=K,
        M=M,
        num_iters=num_iters,
    )


def _default_init(key, frames, K, M):
    d = frames.shape[1]
    idx = _seed(key, frames, K * M, jnp.ones(frames.shape[0], frames.dtype), 2, squared_distances)
    cov = jnp.cov(frames.T).reshape(d, d)
    eye = jnp.eye(K, dtype=frames.dtype)
    return HMMParams(
        jnp.full((K,), 1.0 / K, frames.dtype),
        0.5 * eye + 0.5 / K,
        jnp.full((K, M), 1.0 / M, frames.dtype),
        frames[idx].reshape(K, M, d),
        jnp.broadcast_to(cov, (K, M, d, d)),
    )


@functools.partial(jax.jit, static_argnames=("K", "M", "num_iters"))
def _baum_welch(key, x, init, tol, reg_covar, *, K, M, num_iters):
    B, T, d = x.shape
    frames = x.reshape(B * T, d)
    params = _default_init(key, frames, K, M) if init is None else init

    def em_step(params):
        comp = _component_log_prob(frames, params)  # (BT, K, M)
        log_e = jax.nn.logsumexp(comp, -1)  # (BT, K)
        post = jax.vmap(hmm_forward_backward, in_axes=(None, None, 0))(
            jnp.log(params.initial), jnp.log(params.transition), log_e.reshape(B, T, K)
        )
        gamma = post.posteriors.reshape(B * T, K)
        resp = gamma[:, :, None] * jnp.exp(comp - log_e[:, :, None])  # (BT, K, M)
        stats = gaussian_statistics(frames, resp.reshape(B * T, K * M), reg_covar, "full")
        weights = stats.weights.reshape(K, M)
        counts = jnp.sum(post.transition_counts, 0) + 10 * jnp.finfo(x.dtype).eps
        new = HMMParams(
            jnp.mean(post.posteriors[:, 0], 0),
            counts / jnp.sum(counts, 1, keepdims=True),
            weights / jnp.sum(weights, 1, keepdims=True),
            stats.means.reshape(K, M, d),
            stats.covariances.reshape(K, M, d, d),
        )
        return jnp.mean(post.log_likelihood), new

    params, ll, trace, iters = iterate_em(em_step, params, num_iters, tol, x.dtype)
    return BaumWelchResult(params, ll, trace, iters)
