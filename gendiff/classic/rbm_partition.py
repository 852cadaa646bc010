"""The partition function of an RBM: exact by enumeration of the smaller layer, or estimated by
annealed importance sampling (AIS) and reverse AIS; and the test log-likelihood.

The notes count 2^M 2^N configurations (F2:766); summing out one layer in closed form leaves
2^min(M, N) terms, which is exact and cheap when min(M, N) <= 20 (2^20 ~ 10^6 states, summed
in chunks). For larger models AIS (Neal 2001; Salakhutdinov & Murray 2008) anneals from an
independent base model p_0(x) ∝ exp(a_0^T x) to the RBM through the RBMs

  f_beta(x) = exp(((1 - beta) a_0 + beta a)^T x) prod_j (1 + exp(beta (b_j + (x^T W)_j))),

whose block Gibbs sweep is the RBM sweep with parameters (beta W, (1 - beta) a_0 + beta a,
beta b). log Z_0 = sum_i softplus(a_0i) + N log 2. The estimate log mean w of log(Z_1 / Z_0)
is low in expectation (Jensen), so forward AIS tends to under-estimate log Z (and
over-estimate the log-likelihood); reverse AIS, started from exact samples of the RBM and run
from beta = 1 to 0, tends to over-estimate it (Burda, Grosse & Salakhutdinov 2015). Together
they sandwich log Z.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.classic.rbm import (
    RBMParams,
    check_rbm,
    rbm_free_energy,
    rbm_hidden_logits,
    rbm_sample_visible,
)

MAX_EXACT_UNITS = 20  # 2^20 states
CHUNK_BITS = 12  # states summed per chunk: 2^12


def _bits(indices: jax.Array, n: int) -> jax.Array:
    """Binary expansions (len(indices), n) of integer state indices, as floats."""
    return ((indices[:, None] >> jnp.arange(n)) & 1).astype(jnp.float32)


def all_states(n: int) -> jax.Array:
    """The 2^n binary vectors of length n, (2^n, n); state k has bit j = (k >> j) & 1.

    Example:
      >>> from gendiff.classic import all_states
      >>> all_states(2).astype(int).tolist()
      [[0, 0], [1, 0], [0, 1], [1, 1]]
      >>> all_states(6).shape
      (64, 6)
    """
    if int(n) != n or not 1 <= n <= MAX_EXACT_UNITS:
        raise ValueError(f"n must be an integer in [1, {MAX_EXACT_UNITS}], got {n!r}.")
    return _bits(jnp.arange(2**n), n)


def _logsumexp_over_states(log_f, n: int) -> jax.Array:
    """log sum_s exp(log_f(s)) over the 2^n binary states s, in chunks of 2^CHUNK_BITS."""
    chunk_bits = min(n, CHUNK_BITS)
    num_chunks = 2 ** (n - chunk_bits)

    def chunk(c):
        indices = c * 2**chunk_bits + jnp.arange(2**chunk_bits)
        return jax.nn.logsumexp(log_f(_bits(indices, n)))

    return jax.nn.logsumexp(jax.lax.map(chunk, jnp.arange(num_chunks)))


def _log_f_hidden(params: RBMParams, h: jax.Array, visible: str, sigma) -> jax.Array:
    """log of the unnormalised marginal of h: log int/sum_x exp(-E(x, h)), (batch,).

    binary:   b^T h + sum_i softplus(a_i + (W h)_i)
    gaussian: b^T h + sum_i ((a_i + (W h)_i)^2 - a_i^2) / 2 sigma_i^2 + sum_i log sqrt(2 pi sigma_i^2)
    """
    W, a, b = params
    activation = a + h @ W.T
    if visible == "binary":
        return h @ b + jnp.sum(jax.nn.softplus(activation), axis=-1)
    var = jnp.broadcast_to(jnp.square(sigma), a.shape)
    quadratic = jnp.sum((jnp.square(activation) - jnp.square(a)) / (2 * var), axis=-1)
    return h @ b + quadratic + 0.5 * jnp.sum(jnp.log(2 * jnp.pi * var))


def rbm_log_partition(params: RBMParams, *, visible: str = "binary", sigma=1.0) -> jax.Array:
    """log Z, exact: the sum over the smaller layer's 2^min(M, N) states, the other summed
    (or, for Gaussian visible units, integrated) out in closed form.

    Differentiable: its gradient is the model expectation of -dE/dtheta (the negative phase,
    F2:820-850).

    Raises:
      ValueError: min(M, N) > 20 (binary), or N > 20 (Gaussian); use :func:`rbm_ais`.

    Example:
      >>> from gendiff.classic import all_states, rbm_energy, rbm_init, rbm_log_partition
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> e = rbm_energy(params, all_states(6)[:, None], all_states(3)[None])  # all 2^9 (x, h)
      >>> bool(jnp.allclose(rbm_log_partition(params), jax.nn.logsumexp(-e), atol=1e-4))
      True
      >>> flipped = rbm_init(key, 3, 6, scale=0.5)  # M < N: the sum runs over the visible layer
      >>> e = rbm_energy(flipped, all_states(3)[:, None], all_states(6)[None])
      >>> bool(jnp.allclose(rbm_log_partition(flipped), jax.nn.logsumexp(-e), atol=1e-4))
      True
      >>> round(float(rbm_log_partition(rbm_init(key, 6, 3, scale=0.0))), 4)  # W = 0: 9 log 2
      6.2383
    """
    check_rbm(params, visible, sigma=sigma)
    M, N = params.W.shape
    if visible == "gaussian" or N <= M:
        if N > MAX_EXACT_UNITS:
            raise ValueError(
                f"exact log Z sums over 2^{N} hidden states; it needs num_hidden <= "
                f"{MAX_EXACT_UNITS}"
                + (" or num_visible <= 20" if visible == "binary" else "")
                + "; estimate it with rbm_ais instead."
            )
        return _logsumexp_over_states(lambda h: _log_f_hidden(params, h, visible, sigma), N)
    if M > MAX_EXACT_UNITS:
        raise ValueError(
            f"exact log Z needs min(num_visible, num_hidden) <= {MAX_EXACT_UNITS}, got "
            f"({M}, {N}); estimate it with rbm_ais instead."
        )
    return _logsumexp_over_states(lambda x: -rbm_free_energy(params, x), M)


def rbm_sample_exact(
    key: jax.Array, params: RBMParams, num_samples: int, *, visible: str = "binary", sigma=1.0
) -> jax.Array:
    """Independent exact samples x ~ p(x) of an RBM with N <= 16 hidden units: h from its
    marginal over the 2^N states, then x ~ p(x | h).

    Example:
      >>> from gendiff.classic import all_states, rbm_free_energy, rbm_init, rbm_sample_exact
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> x = rbm_sample_exact(key, params, 4000)
      >>> x.shape, bool(jnp.all((x == 0) | (x == 1)))
      ((4000, 6), True)
      >>> states = all_states(6)  # E_p[x] by enumeration of the 64 visible states
      >>> exact_mean = jax.nn.softmax(-rbm_free_energy(params, states)) @ states
      >>> bool(jnp.allclose(x.mean(0), exact_mean, atol=0.05))
      True
    """
    check_rbm(params, visible, sigma=sigma)
    N = params.W.shape[1]
    if N > 16:
        raise ValueError(f"exact sampling enumerates 2^N hidden states; needs N <= 16, got {N}.")
    states = all_states(N)
    key_h, key_x = jax.random.split(key)
    index = jax.random.categorical(
        key_h, _log_f_hidden(params, states, visible, sigma), shape=(num_samples,)
    )
    return rbm_sample_visible(key_x, params, states[index], visible=visible, sigma=sigma)


def ais_betas(num_betas: int = 14_500) -> jax.Array:
    """Inverse temperatures 0 = beta_0 < ... < beta_K = 1 spaced as Salakhutdinov & Murray
    (2008): 500 / 14,500 of them uniform in [0, 0.5], 4,000 / 14,500 in [0.5, 0.9] and
    10,000 / 14,500 in [0.9, 1] (scaled to ``num_betas``).

    Example:
      >>> ais_betas(1000).shape
      (1000,)
    """
    if int(num_betas) != num_betas or num_betas < 4:
        raise ValueError(f"num_betas must be an integer >= 4, got {num_betas!r}.")
    n1 = max(1, round(num_betas * 500 / 14_500))
    n2 = max(1, round(num_betas * 4_000 / 14_500))
    n3 = num_betas - n1 - n2
    return jnp.concatenate(
        [
            jnp.linspace(0.0, 0.5, n1, endpoint=False),
            jnp.linspace(0.5, 0.9, n2, endpoint=False),
            jnp.linspace(0.9, 1.0, n3),
        ]
    )


def _annealed_params(params: RBMParams, base_bias: jax.Array, beta) -> RBMParams:
    """The RBM of f_beta: (beta W, (1 - beta) a_0 + beta a, beta b)."""
    W, a, b = params
    return RBMParams(beta * W, (1 - beta) * base_bias + beta * a, beta * b)


def _log_f_beta(params: RBMParams, base_bias, beta, x, logits) -> jax.Array:
    """log f_beta(x) = ((1 - beta) a_0 + beta a)^T x + sum_j softplus(beta (b + x^T W)_j),
    given the hidden logits b + x^T W of x."""
    visible_bias = (1 - beta) * base_bias + beta * params.a
    return x @ visible_bias + jnp.sum(jax.nn.softplus(beta * logits), -1)


def _anneal(key, params, base_bias, x, betas):
    """Accumulates log f_{beta_k}(x) - log f_{beta_{k-1}}(x), then a Gibbs sweep at beta_k,
    for k = 1..K; returns (log weights, final states). One pass of x W per step serves both
    weights and the hidden sample (the hidden logits of f_beta are beta (b + x^T W))."""

    def step(carry, inputs):
        x, log_w = carry
        k, beta_from, beta_to = inputs
        logits = rbm_hidden_logits(params, x)
        log_w = log_w + _log_f_beta(params, base_bias, beta_to, x, logits)
        log_w = log_w - _log_f_beta(params, base_bias, beta_from, x, logits)
        key_h, key_x = jax.random.split(jax.random.fold_in(key, k))
        p_h = jax.nn.sigmoid(beta_to * logits)
        h = jax.random.bernoulli(key_h, p_h).astype(x.dtype)
        annealed = _annealed_params(params, base_bias, beta_to)
        return (rbm_sample_visible(key_x, annealed, h), log_w), None

    inputs = (jnp.arange(betas.shape[0] - 1), betas[:-1], betas[1:])
    (x, log_w), _ = jax.lax.scan(step, (x, jnp.zeros(x.shape[0], x.dtype)), inputs)
    return log_w, x


class AISResult(NamedTuple):
    """An AIS estimate of log Z.

    Attributes:
      log_z: log Z_0 + log mean_r w_r.
      log_z_std: the spread of that estimate, log(mean w +- 3 std(w) / sqrt(R)) - log mean w
        (Salakhutdinov & Murray's interval), as the upper half-width in nats.
      log_weights: (R,) log importance weights log w_r.
      log_z_base: log Z_0 of the base model.

    Example:
      >>> from gendiff.classic import AISResult, ais_betas, rbm_ais, rbm_init
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> result = rbm_ais(key, params, num_chains=50, betas=ais_betas(200))
      >>> isinstance(result, AISResult), result.log_weights.shape
      (True, (50,))
      >>> round(float(result.log_z_base), 4)  # uniform base: (M + N) log 2 = 9 log 2
      6.2383
    """

    log_z: jax.Array
    log_z_std: jax.Array
    log_weights: jax.Array
    log_z_base: jax.Array


def _base(params, base_bias):
    base_bias = jnp.zeros_like(params.a) if base_bias is None else jnp.asarray(base_bias)
    if base_bias.shape != params.a.shape:
        raise ValueError(f"base_bias must have shape {params.a.shape}, got {base_bias.shape}.")
    log_z_base = jnp.sum(jax.nn.softplus(base_bias)) + params.W.shape[1] * math.log(2.0)
    return base_bias, log_z_base


def _result(log_z_base, log_w, sign):
    """log Z = log Z_0 + sign * log mean w, with the +3 standard-error interval in nats."""
    R = log_w.shape[0]
    log_mean = jax.nn.logsumexp(log_w) - math.log(R)
    w = jnp.exp(log_w - log_mean)  # normalised weights, mean 1
    half_width = jnp.log1p(3 * jnp.std(w) / math.sqrt(R))
    return AISResult(log_z_base + sign * log_mean, half_width, log_w, log_z_base)


def rbm_ais(
    key: jax.Array,
    params: RBMParams,
    *,
    num_chains: int = 100,
    betas: jax.Array | None = None,
    base_bias: jax.Array | None = None,
) -> AISResult:
    """log Z of a binary-binary RBM by annealed importance sampling (forward: beta 0 -> 1).

    Args:
      key: PRNG key.
      params: the RBM.
      num_chains: R independent annealing runs.
      betas: increasing inverse temperatures from 0 to 1 (default :func:`ais_betas`).
      base_bias: visible biases a_0 of the base model (default 0, the uniform distribution;
        :func:`base_rate_bias` of the training data gives a much better start).

    Returns:
      :class:`AISResult`; ``log_z`` is a stochastic lower bound on log Z (in expectation).

    Example:
      >>> from gendiff.classic import ais_betas, rbm_ais, rbm_init, rbm_log_partition
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> result = rbm_ais(key, params, num_chains=100, betas=ais_betas(1000))
      >>> bool(abs(result.log_z - rbm_log_partition(params)) < 0.1)  # exact: 7.92
      True
    """
    check_rbm(params, "binary")
    betas = _check_betas(ais_betas() if betas is None else betas, increasing=True)
    base_bias, log_z_base = _base(params, base_bias)
    key_init, key_run = jax.random.split(key)
    p0 = jax.nn.sigmoid(base_bias)
    x = jax.random.bernoulli(key_init, p0, (num_chains, p0.shape[0])).astype(params.W.dtype)
    log_w, _ = _anneal(key_run, params, base_bias, x, betas)
    return _result(log_z_base, log_w, 1.0)


def rbm_reverse_ais(
    key: jax.Array,
    params: RBMParams,
    x_model: jax.Array,
    *,
    betas: jax.Array | None = None,
    base_bias: jax.Array | None = None,
) -> AISResult:
    """log Z of a binary-binary RBM by reverse AIS (beta 1 -> 0), started from samples of p.

    With exact samples ``x_model`` (e.g. :func:`rbm_sample_exact`) E[w] = Z_0 / Z, so
    log Z_0 - log mean w over-estimates log Z in expectation: the upper half of the sandwich.
    From approximate samples (long Gibbs chains) it is a heuristic upper estimate.

    Args:
      key: PRNG key.
      params: the RBM.
      x_model: (R, M) binary samples of the RBM, one reverse chain each.
      betas: increasing inverse temperatures from 0 to 1, run backwards.
      base_bias: the base model's visible biases (as in :func:`rbm_ais`).

    Returns:
      :class:`AISResult`, with ``log_weights`` the reverse log weights.

    Example:
      >>> from gendiff.classic import ais_betas, rbm_init, rbm_log_partition
      >>> from gendiff.classic import rbm_reverse_ais, rbm_sample_exact
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> x = rbm_sample_exact(key, params, 100)
      >>> result = rbm_reverse_ais(key, params, x, betas=ais_betas(1000))
      >>> result.log_weights.shape, bool(abs(result.log_z - rbm_log_partition(params)) < 0.1)
      ((100,), True)
    """
    check_rbm(params, "binary", x=x_model)
    betas = _check_betas(ais_betas() if betas is None else betas, increasing=True)
    base_bias, log_z_base = _base(params, base_bias)
    log_w, _ = _anneal(key, params, base_bias, jnp.asarray(x_model, params.W.dtype), betas[::-1])
    return _result(log_z_base, log_w, -1.0)


def _check_betas(betas, increasing: bool) -> jax.Array:
    if isinstance(betas, jax.core.Tracer):
        if betas.ndim != 1:
            raise ValueError(f"betas must be a 1-D array, got shape {betas.shape}.")
        return betas
    values = np.asarray(betas, np.float64)
    if values.ndim != 1 or values.shape[0] < 2:
        raise ValueError(f"betas must be a 1-D array of >= 2 values, got shape {values.shape}.")
    if not (values[0] == 0.0 and values[-1] == 1.0 and np.all(np.diff(values) > 0)):
        raise ValueError("betas must increase strictly from 0 to 1.")
    return jnp.asarray(values, jnp.float32)


def rbm_log_likelihood(
    params: RBMParams, x: jax.Array, log_z, *, visible: str = "binary", sigma=1.0
) -> jax.Array:
    """Average log p(x) = -F(x) - log Z over the rows of x (nats per example).

    Example:
      >>> from gendiff.classic import all_states, rbm_init, rbm_log_likelihood, rbm_log_partition
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> log_z = rbm_log_partition(params)
      >>> states = all_states(6)
      >>> float(rbm_log_likelihood(params, states, log_z)) < 0
      True
      >>> log_p = jax.vmap(lambda x: rbm_log_likelihood(params, x[None], log_z))(states)
      >>> round(float(jnp.sum(jnp.exp(log_p))), 5)  # p(x) of the 64 states sums to 1
      1.0
    """
    check_rbm(params, visible, x=x, sigma=sigma)
    return jnp.mean(-rbm_free_energy(params, x, visible=visible, sigma=sigma)) - log_z
