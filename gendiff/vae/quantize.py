"""Vector quantisation (VQ-VAE): nearest code, straight-through gradient, losses, codebook usage.

With encoder outputs z_e in R^D and a codebook {e_1..e_K} (F0:1273-1307; van den Oord et al. 2017)

    k = argmin_j ||z_e - e_j||^2,      z_q = e_k,                                           (1)
    L = -log p(x | z_q) + ||sg[z_e] - e_k||^2 + beta ||z_e - sg[e_k]||^2,   beta = 0.25,    (2)

with sg the stop-gradient. The decoder sees z_q in the forward pass, and the straight-through
estimator z_e + sg[z_q - z_e] copies the decoder's gradient at z_q onto z_e. The second term of
(2) (the codebook loss) moves the codes towards the encoder outputs; with the EMA update of
:mod:`gendiff.vae.codebook_ema` it is dropped. The third (the commitment loss) keeps the encoder
near its codes. Both are squared distances summed over the D code dimensions and averaged over
all quantised vectors (positions and batch); implementations that average over D as well divide
them by D.

Codebook health: the perplexity exp(H(p)) of the code frequencies p (K for uniform use, 1 when
one code takes everything) and the number of dead (unused) codes, which restarts replace by
encoder outputs.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


def check_codebook(codebook, z_e=None) -> None:
    """ValueError unless ``codebook`` is (K, D) with K >= 2 and z_e's last axis is D."""
    if np.ndim(codebook) != 2:
        raise ValueError(
            f"codebook must have shape (num_codes, code_dim), got shape {np.shape(codebook)}."
        )
    num_codes, dim = np.shape(codebook)
    if num_codes < 2:
        raise ValueError(f"the codebook needs at least 2 codes, got {num_codes}.")
    if z_e is not None and (np.ndim(z_e) < 1 or np.shape(z_e)[-1] != dim):
        raise ValueError(
            f"encoder outputs z_e must have shape (..., {dim}) to match the codebook "
            f"{np.shape(codebook)}, got {np.shape(z_e)}."
        )


def _check_num_codes(num_codes) -> int:
    if isinstance(num_codes, bool) or not isinstance(num_codes, (int, np.integer)) or num_codes < 2:
        raise ValueError(f"num_codes must be an integer >= 2, got {num_codes!r}.")
    return int(num_codes)


def nearest_code(z_e: jax.Array, codebook: jax.Array) -> jax.Array:
    """Index of the nearest code for every vector, eq. (1).

    Uses ||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2, one matrix product for all pairs.

    Args:
      z_e: encoder outputs, (..., D).
      codebook: (K, D), K >= 2.

    Returns:
      int32 indices of shape z_e.shape[:-1].

    Example:
      >>> codebook = jnp.array([[0.0, 0.0], [1.0, 1.0], [-2.0, 0.0]])
      >>> nearest_code(jnp.array([[0.9, 0.8], [-1.5, 0.1], [0.1, -0.2]]), codebook)
      Array([1, 2, 0], dtype=int32)
    """
    check_codebook(codebook, z_e)
    d2 = (
        jnp.sum(z_e**2, axis=-1, keepdims=True)
        - 2.0 * z_e @ codebook.T
        + jnp.sum(codebook**2, axis=-1)
    )
    return jnp.argmin(d2, axis=-1).astype(jnp.int32)


def straight_through(z_e: jax.Array, z_q: jax.Array) -> jax.Array:
    """z_e + sg[z_q - z_e]: the value of z_q with the identity Jacobian with respect to z_e.

    Args:
      z_e: encoder outputs.
      z_q: their quantised values, same shape.

    Returns:
      An array equal to z_q (up to round-off) whose gradient flows to z_e unchanged.

    References:
      Bengio, Leonard & Courville, Estimating or Propagating Gradients Through Stochastic
      Neurons, 2013; van den Oord et al. 2017, section 3.2.

    Example:
      >>> g = jax.grad(lambda z: jnp.sum(straight_through(z, jnp.round(z)) ** 2))(jnp.array([0.7]))
      >>> float(g[0])  # d/dz q^2 evaluated at q = 1
      2.0
    """
    return z_e + jax.lax.stop_gradient(z_q - z_e)


def vq_losses(
    z_e: jax.Array, e_k: jax.Array, commitment_cost: float = 0.25
) -> tuple[jax.Array, jax.Array]:
    """The codebook loss ||sg[z_e] - e_k||^2 and the commitment loss beta ||z_e - sg[e_k]||^2.

    Args:
      z_e: encoder outputs, (..., D).
      e_k: the selected codes (not straight-through), same shape.
      commitment_cost: beta (0.25 in van den Oord et al.).

    Returns:
      ``(codebook_loss, commitment_loss)``, scalars: squared distances summed over D and
      averaged over the vectors. The first has gradients only for the codes, the second only
      for the encoder.

    Example:
      >>> cb, cm = vq_losses(jnp.array([[1.0, 2.0]]), jnp.array([[0.0, 0.0]]))
      >>> float(cb), float(cm)  # 1 + 4, 0.25 * 5
      (5.0, 1.25)
    """
    if np.shape(z_e) != np.shape(e_k):
        raise ValueError(
            f"z_e and the selected codes must have one shape, got {np.shape(z_e)} and {np.shape(e_k)}."
        )
    sg = jax.lax.stop_gradient
    codebook_loss = jnp.mean(jnp.sum((sg(z_e) - e_k) ** 2, axis=-1))
    commitment_loss = commitment_cost * jnp.mean(jnp.sum((z_e - sg(e_k)) ** 2, axis=-1))
    return codebook_loss, commitment_loss


class QuantizeOutput(NamedTuple):
    """What :func:`quantize` returns.

    Attributes:
      z_q: the quantised vectors for the decoder, straight-through (value e_k, gradient to z_e).
      indices: the chosen codes, int32 of shape z_e.shape[:-1].
      codebook_loss: ||sg[z_e] - e_k||^2 (leave it out when the codebook is updated by EMA).
      commitment_loss: beta ||z_e - sg[e_k]||^2.

    Example:
      >>> from gendiff.vae import quantize
      >>> codebook, z_e = jnp.array([[0.0, 0.0], [1.0, 1.0]]), jnp.array([[0.9, 1.2]])
      >>> out = quantize(z_e, codebook, commitment_cost=0.25)  # ||z_e - e_1||^2 = 0.05
      >>> [round(float(v), 4) for v in (out.codebook_loss, out.commitment_loss, out.loss)]
      [0.05, 0.0125, 0.0625]
      >>> jax.grad(lambda z: quantize(z, codebook).z_q.sum())(z_e)  # straight through
      Array([[1., 1.]], dtype=float32)
    """

    z_q: jax.Array
    indices: jax.Array
    codebook_loss: jax.Array
    commitment_loss: jax.Array

    @property
    def loss(self) -> jax.Array:
        """codebook_loss + commitment_loss, the last two terms of eq. (2)."""
        return self.codebook_loss + self.commitment_loss


def quantize(
    z_e: jax.Array, codebook: jax.Array, *, commitment_cost: float = 0.25
) -> QuantizeOutput:
    """Quantises encoder outputs: nearest code, straight-through output and the losses of eq. (2).

    Args:
      z_e: encoder outputs, (..., D), e.g. (batch, h, w, D).
      codebook: (K, D), K >= 2.
      commitment_cost: beta.

    Returns:
      :class:`QuantizeOutput`.

    Raises:
      ValueError: if the codebook is not (K, D) with K >= 2 or z_e's last axis is not D.

    References:
      van den Oord, Vinyals & Kavukcuoglu, Neural Discrete Representation Learning,
      NeurIPS 2017, eq. 3.

    Example:
      >>> codebook = jnp.array([[0.0, 0.0], [1.0, 1.0]])
      >>> out = quantize(jnp.array([[0.9, 1.2]]), codebook)
      >>> out.indices, [round(float(v), 4) for v in out.z_q[0]], round(float(out.loss), 4)
      (Array([1], dtype=int32), [1.0, 1.0], 0.0625)
    """
    check_codebook(codebook, z_e)
    indices = nearest_code(z_e, codebook)
    e_k = codebook[indices]
    codebook_loss, commitment_loss = vq_losses(z_e, e_k, commitment_cost)
    return QuantizeOutput(
        z_q=straight_through(z_e, e_k),
        indices=indices,
        codebook_loss=codebook_loss,
        commitment_loss=commitment_loss,
    )


def codebook_usage(indices: jax.Array, num_codes: int) -> jax.Array:
    """How many vectors chose each code: counts of shape (K,).

    Example:
      >>> codebook_usage(jnp.array([0, 2, 2, 2]), 4)
      Array([1, 0, 3, 0], dtype=int32)
    """
    num_codes = _check_num_codes(num_codes)
    return jnp.bincount(jnp.ravel(indices), length=num_codes).astype(jnp.int32)


def codebook_perplexity(indices: jax.Array, num_codes: int) -> jax.Array:
    """exp(-sum_k p_k log p_k) of the code frequencies p_k (0 log 0 = 0).

    K when every code is used equally often, 1 when one code takes every vector.

    Example:
      >>> float(codebook_perplexity(jnp.arange(8) % 4, 4))  # uniform over 4 codes
      4.0
    """
    counts = codebook_usage(indices, num_codes).astype(jnp.float32)
    p = counts / jnp.sum(counts)
    entropy = -jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0))
    return jnp.exp(entropy)


def dead_code_count(indices: jax.Array, num_codes: int) -> jax.Array:
    """Number of codes that no vector chose.

    Example:
      >>> int(dead_code_count(jnp.array([0, 2, 2]), 4))
      2
    """
    return jnp.sum(codebook_usage(indices, num_codes) == 0)


def restart_dead_codes(
    key: jax.Array,
    codebook: jax.Array,
    usage: jax.Array,
    z_e: jax.Array,
    *,
    threshold: float = 1.0,
) -> tuple[jax.Array, jax.Array]:
    """Replaces codes with ``usage < threshold`` by encoder outputs drawn at random.

    The candidates are distinct vectors of z_e (drawn without replacement when there are at
    least K of them), so restarted codes land where the encoder puts its mass and are used at
    the next step.

    Args:
      key: PRNG key.
      codebook: (K, D).
      usage: per-code usage, (K,): counts over recent batches, or EMA cluster sizes.
      z_e: encoder outputs, (..., D).
      threshold: codes used less than this are dead (1.0: unused in the counts).

    Returns:
      ``(new_codebook, dead)`` with ``dead`` the boolean mask of restarted codes.

    References:
      Dhariwal et al., Jukebox, 2020, section 3.2 (random restarts for embeddings).

    Example:
      >>> codebook = jnp.array([[0.0], [5.0], [9.0]])
      >>> new, dead = restart_dead_codes(jax.random.key(0), codebook, jnp.array([3, 0, 2]),
      ...                                jnp.array([[1.0], [1.0], [1.0]]))
      >>> new.tolist(), dead.tolist()
      ([[0.0], [1.0], [9.0]], [False, True, False])
    """
    check_codebook(codebook, z_e)
    num_codes = codebook.shape[0]
    if np.shape(usage) != (num_codes,):
        raise ValueError(f"usage must have shape ({num_codes},), got {np.shape(usage)}.")
    points = jnp.reshape(jax.lax.stop_gradient(z_e), (-1, codebook.shape[1])).astype(codebook.dtype)
    num_points = points.shape[0]
    pick = jax.random.choice(key, num_points, (num_codes,), replace=num_points < num_codes)
    dead = usage < threshold
    return jnp.where(dead[:, None], points[pick], codebook), dead
