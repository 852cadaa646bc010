"""The exponential-moving-average codebook update of VQ-VAE as a pure ``(init, update)`` pair.

Instead of the codebook loss, each code tracks the running count and sum of the encoder outputs
assigned to it (van den Oord et al. 2017, appendix A.1). With n_i vectors assigned to code i in a
batch, summing to s_i, and decay gamma:

    N_i <- gamma N_i + (1 - gamma) n_i,                                                       (1)
    m_i <- gamma m_i + (1 - gamma) s_i,                                                       (2)
    N~_i = (N_i + eps) / (n + K eps) * n,    n = sum_i N_i     (Laplace smoothing),           (3)
    e_i = m_i / N~_i.                                                                         (4)

Smoothing (3) keeps the division finite for codes that nobody uses and leaves the total count n
unchanged. The state starts at N_i = 1, m_i = e_i (each initial code counts as one vector at its
own position), so (4) returns the initial codebook before any data arrive and an unused code
shrinks slowly (by N_i/(N_i + eps)) instead of being scaled up by 1 / (1 - gamma), which starting
from N_i = 0 would do. Restarts (:func:`restart_dead_codes`) reset a code to one encoder output.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from gendiff.vae.quantize import check_codebook
from gendiff.vae.quantize import restart_dead_codes as _restart_codebook


class CodebookEmaState(NamedTuple):
    """State of the EMA codebook.

    Attributes:
      cluster_size: N_i, the running assignment counts, (K,).
      embed_sum: m_i, the running sums of assigned encoder outputs, (K, D).
      codebook: e_i = m_i / N~_i, (K, D); read the codebook from here.

    Example:
      >>> from gendiff.vae import codebook_ema
      >>> ema = codebook_ema(decay=0.5, epsilon=0.0)
      >>> state = ema.init(jnp.array([[0.0], [10.0]]))  # N_i = 1, m_i = e_i
      >>> state.cluster_size.tolist(), state.embed_sum[:, 0].tolist()
      ([1.0, 1.0], [0.0, 10.0])
      >>> state = ema.update(jnp.array([[1.0], [3.0], [9.0]]), jnp.array([0, 0, 1]), state)
      >>> state.cluster_size.tolist(), state.embed_sum[:, 0].tolist()  # (1 + 2) / 2, (1 + 1) / 2
      ([1.5, 1.0], [2.0, 9.5])
    """

    cluster_size: jax.Array
    embed_sum: jax.Array
    codebook: jax.Array


class CodebookEma(NamedTuple):
    """A pure ``(init, update)`` pair; see :func:`codebook_ema`.

    Example:
      >>> from gendiff.vae import CodebookEma, codebook_ema
      >>> ema = codebook_ema(decay=0.5, epsilon=0.0)
      >>> isinstance(ema, CodebookEma)
      True
      >>> z_e, idx = jnp.array([[1.0], [3.0], [9.0]]), jnp.array([0, 0, 1])
      >>> state, update = ema.init(jnp.array([[0.0], [10.0]])), jax.jit(ema.update)
      >>> for _ in range(30):  # the same batch again and again: each code moves to its mean
      ...     state = update(z_e, idx, state)
      >>> state.codebook[:, 0].round(4).tolist()
      [2.0, 9.0]
    """

    init: Callable[[jax.Array], CodebookEmaState]
    update: Callable[[jax.Array, jax.Array, CodebookEmaState], CodebookEmaState]


def codebook_ema(decay: float = 0.99, epsilon: float = 1e-5) -> CodebookEma:
    """Builds the EMA codebook update, eqs. (1)-(4).

    Args:
      decay: gamma in [0, 1) (0.99 in van den Oord et al.).
      epsilon: Laplace smoothing of the counts, >= 0.

    Returns:
      ``CodebookEma(init, update)``: ``init(codebook)`` starts the state from a (K, D)
      codebook, and ``update(z_e, indices, state)`` folds in encoder outputs z_e (..., D) and
      their codes (...) and returns the next state. Both are pure and jittable.

    Raises:
      ValueError: for a decay outside [0, 1), a negative epsilon, a codebook with fewer than
        two codes, or z_e whose last axis differs from the code dimension.

    References:
      van den Oord, Vinyals & Kavukcuoglu, Neural Discrete Representation Learning,
      NeurIPS 2017, appendix A.1.

    Example:
      >>> ema = codebook_ema(decay=0.5, epsilon=0.0)
      >>> state = ema.init(jnp.array([[0.0], [10.0]]))
      >>> z_e, idx = jnp.array([[1.0], [3.0], [9.0]]), jnp.array([0, 0, 1])
      >>> state = ema.update(z_e, idx, state)
      >>> [round(float(v), 4) for v in state.codebook[:, 0]]  # (0/2 + 4/2) / 1.5, (10/2 + 9/2) / 1
      [1.3333, 9.5]
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"decay must be in [0, 1), got {decay}.")
    if not epsilon >= 0.0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}.")

    def init(codebook: jax.Array) -> CodebookEmaState:
        check_codebook(codebook)
        codebook = jnp.asarray(codebook)
        return CodebookEmaState(
            cluster_size=jnp.ones(codebook.shape[:1], codebook.dtype),
            embed_sum=jnp.copy(codebook),
            codebook=jnp.copy(codebook),
        )

    def update(z_e: jax.Array, indices: jax.Array, state: CodebookEmaState) -> CodebookEmaState:
        check_codebook(state.codebook, z_e)
        num_codes, dim = state.codebook.shape
        if jnp.shape(indices) != jnp.shape(z_e)[:-1]:
            raise ValueError(
                f"indices must have shape z_e.shape[:-1] = {jnp.shape(z_e)[:-1]}, "
                f"got {jnp.shape(indices)}."
            )
        points = jnp.reshape(jax.lax.stop_gradient(z_e), (-1, dim)).astype(state.codebook.dtype)
        one_hot = jax.nn.one_hot(jnp.ravel(indices), num_codes, dtype=points.dtype)  # (N, K)
        counts = jnp.sum(one_hot, axis=0)  # n_i
        sums = one_hot.T @ points  # s_i
        cluster_size = decay * state.cluster_size + (1.0 - decay) * counts  # (1)
        embed_sum = decay * state.embed_sum + (1.0 - decay) * sums  # (2)
        n = jnp.sum(cluster_size)
        smoothed = (cluster_size + epsilon) / (n + num_codes * epsilon) * n  # (3)
        return CodebookEmaState(
            cluster_size=cluster_size,
            embed_sum=embed_sum,
            codebook=embed_sum / smoothed[:, None],  # (4)
        )

    return CodebookEma(init=init, update=update)


def restart_dead_codes(
    key: jax.Array, state: CodebookEmaState, z_e: jax.Array, *, threshold: float = 1.0
) -> tuple[CodebookEmaState, jax.Array]:
    """Restarts codes whose EMA count N_i is below ``threshold`` at random encoder outputs.

    A restarted code is set to one encoder output and its statistics to N_i = 1, m_i = e_i, the
    state of a fresh code (see the module docstring). Pure: the draws come from ``key``.

    Args:
      key: PRNG key.
      state: the EMA codebook state.
      z_e: encoder outputs of the current batch, (..., D).
      threshold: codes with N_i < threshold are dead (N_i is in vectors per batch, so 1.0
        means "used less than about once per batch lately").

    Returns:
      ``(state, num_restarted)``.

    Example:
      >>> ema = codebook_ema()
      >>> state = ema.init(jnp.array([[0.0], [100.0]]))
      >>> state = state._replace(cluster_size=jnp.array([5.0, 0.01]))
      >>> state, n = restart_dead_codes(jax.random.key(0), state, jnp.full((4, 1), 2.0))
      >>> state.codebook.tolist(), int(n)
      ([[0.0], [2.0]], 1)
    """
    codebook, dead = _restart_codebook(
        key, state.codebook, state.cluster_size, z_e, threshold=threshold
    )
    cluster_size = jnp.where(dead, jnp.ones_like(state.cluster_size), state.cluster_size)
    embed_sum = jnp.where(dead[:, None], codebook, state.embed_sum)
    return CodebookEmaState(cluster_size, embed_sum, codebook), jnp.sum(dead)
