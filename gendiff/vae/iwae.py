"""Importance-weighted bounds and log-likelihood estimates, chunked over samples.

With k draws z_1..z_k ~ q(z | x) and weights w_j = p(x, z_j) / q(z_j | x),

    L_k(x) = E[log (1/k) sum_j w_j] <= log p(x),                                            (1)

L_1 is the ELBO, L_k rises with k, and L_k -> log p(x) as k -> infinity (Burda et al. 2016,
theorem 1). With k = 5000 it is the standard estimate of a VAE's test log-likelihood.

The sum is a logsumexp over samples, accumulated chunk by chunk,

    acc <- logaddexp(acc, logsumexp_{j in chunk} log w_j),                                   (2)

inside ``lax.scan``, so memory grows with the chunk size rather than with k. Draw j is made with
``fold_in(key, j)``, so the estimate is the same (up to round-off) for every chunk size.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.utils import sum_over_non_batch
from gendiff.vae._checks import check_num_samples
from gendiff.vae.elbo import DecodeFn, EncodeFn, encode, sample_terms
from gendiff.vae.likelihoods import Likelihood


def importance_weighted_bound(
    key: jax.Array,
    log_weight_fn: Callable[[jax.Array], jax.Array],
    num_samples: int,
    *,
    chunk_size: int | None = None,
) -> jax.Array:
    """log (1/k) sum_j exp(log w_j) for any latent-variable model, eqs. (1)-(2).

    Args:
      key: PRNG key; sample j gets ``fold_in(key, j)``.
      log_weight_fn: ``log_weight_fn(key_j) -> log w_j``, shape (batch,): draws one z per
        example from the proposal with ``key_j`` and returns log p(x, z) - log q(z | x). It is
        ``vmap``-ed over the samples of a chunk.
      num_samples: k >= 1.
      chunk_size: samples evaluated at once (None: all k); the last chunk is padded and masked.

    Returns:
      The bound per example, shape (batch,).

    Raises:
      ValueError: if k or the chunk size is not an integer >= 1.

    References:
      Burda, Grosse & Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016, eq. 8.

    Example:
      >>> # Constant weights w = 2: the bound is log 2 for every k and chunk size.
      >>> fn = lambda key: jnp.full((3,), jnp.log(2.0))
      >>> b = importance_weighted_bound(jax.random.key(0), fn, 10, chunk_size=4)
      >>> [round(float(v), 6) for v in b]
      [0.693147, 0.693147, 0.693147]
    """
    k = check_num_samples("num_samples (k)", num_samples)
    chunk = k if chunk_size is None else min(check_num_samples("chunk_size", chunk_size), k)
    num_chunks = math.ceil(k / chunk)

    def chunk_logsumexp(c):
        idx = c * chunk + jnp.arange(chunk)
        log_w = jax.vmap(lambda j: log_weight_fn(jax.random.fold_in(key, j)))(idx)
        log_w = jnp.where((idx < k).reshape((chunk,) + (1,) * (log_w.ndim - 1)), log_w, -jnp.inf)
        return jax.nn.logsumexp(log_w, axis=0)

    if num_chunks == 1:
        total = chunk_logsumexp(0)
    else:

        def step(acc, c):
            return jnp.logaddexp(acc, chunk_logsumexp(c)), None

        # The first step turns acc = -inf into the first chunk's logsumexp, exactly.
        shape_dtype = jax.eval_shape(chunk_logsumexp, 0)
        init = jnp.full(shape_dtype.shape, -jnp.inf, shape_dtype.dtype)
        total, _ = jax.lax.scan(step, init, jnp.arange(num_chunks))
    return total - jnp.log(jnp.asarray(k, total.dtype))


def iwae_bound(
    key: jax.Array,
    encode_fn: EncodeFn,
    decode_fn: DecodeFn,
    x: jax.Array,
    num_samples: int,
    *,
    likelihood: Likelihood,
    chunk_size: int | None = None,
) -> jax.Array:
    """The IWAE bound L_k of a Gaussian-latent VAE with prior N(0, I), per example.

    The encoder runs once; each draw z_j = mu + sigma * eps_j (eps_j from ``fold_in(key, j)``,
    the same draws as :func:`gendiff.vae.elbo.elbo`) is decoded and weighted by
    log w_j = log p(x | z_j) + log p(z_j) - log q(z_j | x). Differentiable, so it is also the
    IWAE training objective (maximise it).

    Args:
      key: PRNG key.
      encode_fn: ``encode_fn(x) -> (mu, log_var)``, each ``(batch, *latent_shape)``.
      decode_fn: ``decode_fn(z) -> params`` for ``likelihood.log_prob(x, params)``.
      x: data, (batch, ...).
      num_samples: k >= 1 (k = 1 is the ELBO with Monte Carlo KL).
      likelihood: the decoder family.
      chunk_size: samples decoded at once; None decodes all k together.

    Returns:
      L_k in nats, shape (batch,).

    Raises:
      ValueError: for k < 1, chunk_size < 1, mismatched encoder/decoder shapes, or data
        outside the likelihood's support.

    References:
      Burda, Grosse & Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016.

    Example:
      >>> from gendiff.vae.likelihoods import Gaussian
      >>> # A decoder that ignores z: every weight is p(x), so L_k = log N(x; 0, I) exactly.
      >>> encode_fn = lambda x: (jnp.zeros((x.shape[0], 2)), jnp.zeros((x.shape[0], 2)))
      >>> decode_fn = lambda z: jnp.zeros((z.shape[0], 1))
      >>> b = iwae_bound(jax.random.key(0), encode_fn, decode_fn, jnp.zeros((2, 1)), 50,
      ...                likelihood=Gaussian(variance=1.0), chunk_size=16)
      >>> [round(float(v), 5) for v in b]  # -1/2 log 2 pi
      [-0.91894, -0.91894]
    """
    k = check_num_samples("num_samples (k)", num_samples)
    likelihood.check_data(x)
    mu, log_var = encode(encode_fn, x)

    def log_weight_fn(key_j):
        eps = jax.random.normal(key_j, mu.shape, mu.dtype)
        log_px_z, log_ratio = sample_terms(decode_fn, likelihood, x, mu, log_var, eps)
        return log_px_z - sum_over_non_batch(log_ratio)

    return importance_weighted_bound(key, log_weight_fn, k, chunk_size=chunk_size)


def log_likelihood(
    key: jax.Array,
    encode_fn: EncodeFn,
    decode_fn: DecodeFn,
    x: jax.Array,
    num_samples: int = 5000,
    *,
    likelihood: Likelihood,
    chunk_size: int | None = 100,
) -> jax.Array:
    """Estimate of log p(x) per example: the IWAE bound with k = 5000 draws, no gradient.

    The evaluation protocol of Burda et al. (2016): the estimate is a lower bound in
    expectation and converges to log p(x) as k grows. Divide by the number of data dimensions
    and log 2 for bits/dim (with a discretised likelihood, a bound on the discrete data's NLL).

    Args:
      key: PRNG key.
      encode_fn: ``encode_fn(x) -> (mu, log_var)``.
      decode_fn: ``decode_fn(z) -> params``.
      x: data, (batch, ...).
      num_samples: k >= 1 (default 5000).
      likelihood: the decoder family.
      chunk_size: samples decoded at once (default 100); memory scales with it, not with k.

    Returns:
      The estimate of log p(x) in nats, shape (batch,).

    References:
      Burda, Grosse & Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016, section 5.

    Example:
      >>> from gendiff.vae.likelihoods import Bernoulli
      >>> encode_fn = lambda x: (jnp.zeros((x.shape[0], 2)), jnp.zeros((x.shape[0], 2)))
      >>> decode_fn = lambda z: jnp.zeros((z.shape[0], 4))  # every pixel 1/2
      >>> ll = log_likelihood(jax.random.key(0), encode_fn, decode_fn, jnp.ones((1, 4)),
      ...                     likelihood=Bernoulli())
      >>> round(float(ll[0]), 5)  # 4 log 1/2
      -2.77259
    """
    bound = iwae_bound(
        key, encode_fn, decode_fn, x, num_samples, likelihood=likelihood, chunk_size=chunk_size
    )
    return jax.lax.stop_gradient(bound)
