"""Hidden Markov models: forward-backward in log space and Viterbi, each one ``lax.scan``.

z_1 -> z_2 -> ... -> z_T is a Markov chain with initial distribution pi and transition matrix A
(A_ij = p(z_{t+1} = j | z_t = i)); state z_t emits x_t with log-density log e_t(z_t) (F0:3005-3029:
there a Gaussian mixture per state, see :mod:`gendiff.classic.hmm_em`). All recursions are in log
space (and normalised at every step, which keeps float32 accurate on long sequences):

    log alpha_1 = log pi + log e_1,   log alpha_t(j) = log e_t(j) + logsumexp_i(log alpha_{t-1}(i) + log A_ij)
    log beta_T = 0,                   log beta_t(i) = logsumexp_j(log A_ij + log e_{t+1}(j) + log beta_{t+1}(j))
    log p(x_{1:T}) = logsumexp_i log alpha_T(i),   gamma_t = alpha_t beta_t / p(x_{1:T}).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp


class HMMPosterior(NamedTuple):
    """Output of :func:`hmm_forward_backward`.

    Attributes:
      log_likelihood: log p(x_{1:T}).
      posteriors: (T, K) gamma_t(k) = p(z_t = k | x_{1:T}).
      transition_counts: (K, K) sum_t p(z_t = i, z_{t+1} = j | x_{1:T}).

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import hmm_forward_backward
      >>> log_A = jnp.log(jnp.array([[0.9, 0.1], [0.2, 0.8]]))
      >>> log_e = jnp.log(jnp.array([[0.5, 0.1], [0.5, 0.1], [0.1, 0.5]]))  # T = 3
      >>> post = hmm_forward_backward(jnp.log(jnp.array([0.5, 0.5])), log_A, log_e)
      >>> post.posteriors.sum(1).round(5).tolist(), round(float(post.transition_counts.sum()), 5)
      ([1.0, 1.0, 1.0], 2.0)
    """

    log_likelihood: jax.Array
    posteriors: jax.Array
    transition_counts: jax.Array


def hmm_forward_backward(
    log_initial: jax.Array, log_transition: jax.Array, log_emission: jax.Array
) -> HMMPosterior:
    """Posterior marginals of an HMM by the forward-backward algorithm in log space.

    Args:
      log_initial: (K,) log pi.
      log_transition: (K, K) log A, rows indexed by the current state.
      log_emission: (T, K) log p(x_t | z_t = k).

    Returns:
      :class:`HMMPosterior`. vmap it over a batch of sequences.

    References:
      Rabiner, "A tutorial on hidden Markov models and selected applications in speech
      recognition", Proc. IEEE 1989.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import hmm_forward_backward
      >>> log_A = jnp.log(jnp.array([[0.9, 0.1], [0.2, 0.8]]))
      >>> log_e = jnp.log(jnp.array([[0.5, 0.1], [0.5, 0.1]]))
      >>> post = hmm_forward_backward(jnp.log(jnp.array([0.5, 0.5])), log_A, log_e)
      >>> round(float(post.posteriors[0, 0]), 4)
      0.9274
    """

    dtype = jnp.result_type(log_initial, log_transition, log_emission)
    log_initial, log_transition, log_emission = (
        jnp.asarray(a, dtype) for a in (log_initial, log_transition, log_emission)
    )

    # Normalised recursions: log alpha^_t = log alpha_t - sum_{s<=t} log c_t stays O(1), so even
    # float32 keeps full precision on long sequences; log p(x_{1:T}) = sum_t log c_t.
    def forward(log_alpha, log_e):
        log_alpha = log_e + jax.nn.logsumexp(log_alpha[:, None] + log_transition, axis=0)
        log_c = jax.nn.logsumexp(log_alpha)
        return log_alpha - log_c, (log_alpha - log_c, log_c)

    first = log_initial + log_emission[0]
    log_c1 = jax.nn.logsumexp(first)
    _, (rest, log_c_rest) = jax.lax.scan(forward, first - log_c1, log_emission[1:])
    log_alpha = jnp.concatenate([(first - log_c1)[None], rest])

    # Backward messages up to a per-step constant (each normalised to logsumexp 0); gamma_t and
    # xi_t are normalised explicitly, so rounding cannot drift along the sequence.
    def backward(log_beta, log_e_next):
        log_beta = jax.nn.logsumexp(log_transition + (log_e_next + log_beta)[None, :], axis=1)
        log_beta = log_beta - jax.nn.logsumexp(log_beta)
        return log_beta, log_beta

    log_beta_T = jnp.zeros_like(log_initial)
    _, rest = jax.lax.scan(backward, log_beta_T, log_emission[1:], reverse=True)
    log_beta = jnp.concatenate([rest, log_beta_T[None]])
    log_lik = log_c1 + jnp.sum(log_c_rest)
    posteriors = jax.nn.softmax(log_alpha + log_beta, axis=1)
    log_xi = (
        log_alpha[:-1, :, None]
        + log_transition[None]
        + (log_emission[1:] + log_beta[1:])[:, None, :]
    )
    K = log_initial.shape[0]
    xi = jax.nn.softmax(log_xi.reshape(-1, K * K), axis=1).reshape(log_xi.shape)
    return HMMPosterior(log_lik, posteriors, jnp.sum(xi, 0))


def hmm_viterbi(
    log_initial: jax.Array, log_transition: jax.Array, log_emission: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """The most probable state sequence argmax_z p(z_{1:T} | x_{1:T}) (Viterbi), in log space.

    Args:
      log_initial: (K,) log pi.
      log_transition: (K, K) log A.
      log_emission: (T, K) log p(x_t | z_t = k).

    Returns:
      ``(states, log_prob)``: (T,) int32 states and log p(x_{1:T}, z_{1:T}) of that path.

    References:
      Viterbi, "Error bounds for convolutional codes and an asymptotically optimum decoding
      algorithm", IEEE Trans. Inf. Theory 1967.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import hmm_viterbi
      >>> log_A = jnp.log(jnp.array([[0.9, 0.1], [0.1, 0.9]]))
      >>> log_e = jnp.log(jnp.array([[0.9, 0.1], [0.4, 0.6], [0.1, 0.9], [0.1, 0.9]]))
      >>> hmm_viterbi(jnp.log(jnp.array([0.5, 0.5])), log_A, log_e)[0].tolist()
      [0, 1, 1, 1]
    """

    dtype = jnp.result_type(log_initial, log_transition, log_emission)
    log_initial, log_transition, log_emission = (
        jnp.asarray(a, dtype) for a in (log_initial, log_transition, log_emission)
    )

    def forward(delta, log_e):
        scores = delta[:, None] + log_transition  # (from, to)
        return jnp.max(scores, 0) + log_e, jnp.argmax(scores, 0).astype(jnp.int32)

    delta, back = jax.lax.scan(forward, log_initial + log_emission[0], log_emission[1:])
    last = jnp.argmax(delta).astype(jnp.int32)

    def backtrack(state, pointers):
        prev = pointers[state]
        return prev, prev

    _, earlier = jax.lax.scan(backtrack, last, back, reverse=True)
    return jnp.concatenate([earlier, last[None]]), jnp.max(delta)


def gaussian_log_prob(x: jax.Array, means: jax.Array, covariances: jax.Array) -> jax.Array:
    """(n, K) log N(x_i; mu_k, Sigma_k) for (n, d) x, (K, d) means and (K, d, d) covariances."""
    d = x.shape[-1]
    C = jnp.linalg.cholesky(covariances)  # (K, d, d)
    diff = x[:, None, :] - means[None]  # (n, K, d)
    sol = jax.scipy.linalg.solve_triangular(C[None], diff[..., None], lower=True)[..., 0]
    log_det = jnp.sum(jnp.log(jnp.diagonal(C, 0, -2, -1)), -1)
    return -0.5 * (d * math.log(2 * math.pi) + jnp.sum(sol**2, -1)) - log_det
