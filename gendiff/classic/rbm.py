"""Restricted Boltzmann machines: energies, free energies, conditionals and block Gibbs sampling.

Binary-binary (F2:889-895): E(x, h) = -a^T x - b^T h - x^T W h with x in {0,1}^M, h in {0,1}^N.
Gaussian-binary (F2:897-903): E(x, h) = sum_i (x_i - a_i)^2 / 2 sigma_i^2 - b^T h
- sum_ij x_i w_ij h_j / sigma_i^2 with x in R^M (sigma fixed, not learned).

The joint is p(x, h) = exp(-E(x, h)) / Z (the notes write f = -E at F2:860; the density is
exp(-E), as at F2:866). Summing out h gives the free energy F(x) = -log sum_h exp(-E(x, h)):

  binary:   F(x) = -a^T x - sum_j softplus(b_j + (x^T W)_j)
  gaussian: F(x) = sum_i (x_i - a_i)^2 / 2 sigma_i^2 - sum_j softplus(b_j + ((x / sigma^2)^T W)_j)

and the conditionals factorise: p(h_j = 1 | x) = sigmoid(b_j + (x^T W)_j) (x / sigma^2 in the
Gaussian case); p(x_i = 1 | h) = sigmoid(a_i + (W h)_i), or x | h ~ N(a + W h, diag sigma^2).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gendiff.classic._checks import check_option

VISIBLE_TYPES = ("binary", "gaussian")


class RBMParams(NamedTuple):
    """Parameters of an RBM with M visible and N hidden units.

    Attributes:
      W: (M, N) weights w_ij.
      a: (M,) visible biases.
      b: (N,) hidden biases.
    """

    W: jax.Array
    a: jax.Array
    b: jax.Array


def rbm_init(
    key: jax.Array, num_visible: int, num_hidden: int, *, scale: float = 0.01, visible_bias=None
) -> RBMParams:
    """W ~ N(0, scale^2), hidden biases 0, visible biases ``visible_bias`` (default 0).

    Hinton's guide (2010) sets the visible biases to log(p_i / (1 - p_i)) of the data; pass
    :func:`base_rate_bias` of the training data for that.

    Example:
      >>> params = rbm_init(jax.random.key(0), 784, 16)
      >>> params.W.shape, params.b.shape
      ((784, 16), (16,))
    """
    for name, value in (("num_visible", num_visible), ("num_hidden", num_hidden)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    W = scale * jax.random.normal(key, (num_visible, num_hidden))
    a = jnp.zeros(num_visible) if visible_bias is None else jnp.asarray(visible_bias, W.dtype)
    if a.shape != (num_visible,):
        raise ValueError(f"visible_bias must have shape ({num_visible},), got {a.shape}.")
    return RBMParams(W, a, jnp.zeros(num_hidden, W.dtype))


def base_rate_bias(x: jax.Array, eps: float = 1e-3) -> jax.Array:
    """log(p_i / (1 - p_i)) of the mean activity p_i of each binary visible unit, with p_i
    clipped to [eps, 1 - eps]: the visible biases of the independent (W = 0) model closest to
    the data, the base model of annealed importance sampling (Salakhutdinov & Murray 2008).

    Example:
      >>> base_rate_bias(jnp.array([[0.0, 1.0], [1.0, 1.0]]), eps=0.01)  # p = (0.5, 0.99)
    """
    p = jnp.clip(jnp.mean(jnp.asarray(x, jnp.float32), axis=0), eps, 1 - eps)
    return jnp.log(p) - jnp.log1p(-p)


def check_rbm(params: RBMParams, visible: str, x=None, h=None, sigma=1.0) -> None:
    """Shapes of params (and of x, h) agree and the visible type is known; ValueError if not."""
    check_option("visible", visible, VISIBLE_TYPES)
    W, a, b = params
    if jnp.ndim(W) != 2 or jnp.shape(a) != W.shape[:1] or jnp.shape(b) != W.shape[1:]:
        raise ValueError(
            f"RBMParams need W (M, N), a (M,), b (N,); got W {jnp.shape(W)}, a {jnp.shape(a)}, "
            f"b {jnp.shape(b)}."
        )
    M, N = W.shape
    if x is not None and (jnp.ndim(x) < 1 or jnp.shape(x)[-1] != M):
        raise ValueError(f"x must have shape (..., {M}) (the visible units), got {jnp.shape(x)}.")
    if h is not None and (jnp.ndim(h) < 1 or jnp.shape(h)[-1] != N):
        raise ValueError(f"h must have shape (..., {N}) (the hidden units), got {jnp.shape(h)}.")
    if jnp.ndim(sigma) > 1 or jnp.size(sigma) not in (1, M):
        raise ValueError(f"sigma must be a scalar or have shape ({M},), got {jnp.shape(sigma)}.")


def _scaled_visible(x, visible, sigma):
    """What the hidden units see: x, or x / sigma^2 for Gaussian visible units."""
    return x if visible == "binary" else x / jnp.square(sigma)


def rbm_energy(
    params: RBMParams, x: jax.Array, h: jax.Array, *, visible: str = "binary", sigma=1.0
) -> jax.Array:
    """E(x, h) of each configuration (F2:889, 897); x (..., M), h (..., N) -> (...).

    Example:
      >>> rbm_energy(params, jnp.ones(3), jnp.zeros(2))  # = -sum(a) when h = 0
    """
    check_rbm(params, visible, x, h, sigma)
    W, a, b = params
    coupling = jnp.einsum("...i,ij,...j->...", _scaled_visible(x, visible, sigma), W, h)
    if visible == "binary":
        visible_term = -jnp.sum(x * a, axis=-1)
    else:
        visible_term = jnp.sum(jnp.square(x - a) / (2 * jnp.square(sigma)), axis=-1)
    return visible_term - jnp.sum(h * b, axis=-1) - coupling


def rbm_hidden_logits(params: RBMParams, x: jax.Array, *, visible: str = "binary", sigma=1.0):
    """b + x^T W (x / sigma^2 for Gaussian units): the logits of p(h = 1 | x), (..., N)."""
    check_rbm(params, visible, x=x, sigma=sigma)
    return params.b + _scaled_visible(x, visible, sigma) @ params.W


def rbm_hidden_probs(params: RBMParams, x: jax.Array, *, visible: str = "binary", sigma=1.0):
    """p(h_j = 1 | x) = sigmoid(b_j + (x^T W)_j), (..., N).

    Example:
      >>> rbm_hidden_probs(params, x_batch).shape  # (batch, N)
    """
    return jax.nn.sigmoid(rbm_hidden_logits(params, x, visible=visible, sigma=sigma))


def rbm_visible_mean(params: RBMParams, h: jax.Array, *, visible: str = "binary", sigma=1.0):
    """E[x | h]: p(x_i = 1 | h) = sigmoid(a_i + (W h)_i) for binary units, a + W h for
    Gaussian ones; (..., M).

    Example:
      >>> rbm_visible_mean(params, h_batch, visible="gaussian").shape  # (batch, M)
    """
    check_rbm(params, visible, h=h, sigma=sigma)
    activation = params.a + h @ params.W.T
    return jax.nn.sigmoid(activation) if visible == "binary" else activation


def rbm_free_energy(params: RBMParams, x: jax.Array, *, visible: str = "binary", sigma=1.0):
    """F(x) = -log sum_h exp(-E(x, h)), so p(x) = exp(-F(x)) / Z; x (..., M) -> (...).

    Example:
      >>> rbm_free_energy(params, x_batch)  # (batch,)
    """
    softplus = jnp.sum(
        jax.nn.softplus(rbm_hidden_logits(params, x, visible=visible, sigma=sigma)), -1
    )
    if visible == "binary":
        return -jnp.sum(x * params.a, axis=-1) - softplus
    return jnp.sum(jnp.square(x - params.a) / (2 * jnp.square(sigma)), axis=-1) - softplus


def rbm_sample_hidden(key, params: RBMParams, x, *, visible: str = "binary", sigma=1.0):
    """h ~ p(h | x), as floats in {0, 1}."""
    p = rbm_hidden_probs(params, x, visible=visible, sigma=sigma)
    return jax.random.bernoulli(key, p).astype(p.dtype)


def rbm_sample_visible(key, params: RBMParams, h, *, visible: str = "binary", sigma=1.0):
    """x ~ p(x | h): Bernoulli(sigmoid(a + W h)) or N(a + W h, diag sigma^2)."""
    mean = rbm_visible_mean(params, h, visible=visible, sigma=sigma)
    if visible == "binary":
        return jax.random.bernoulli(key, mean).astype(mean.dtype)
    return mean + sigma * jax.random.normal(key, mean.shape, mean.dtype)


def rbm_gibbs(
    key: jax.Array,
    params: RBMParams,
    x_init: jax.Array,
    num_steps: int,
    *,
    visible: str = "binary",
    sigma=1.0,
) -> tuple[jax.Array, jax.Array]:
    """``num_steps`` sweeps of block Gibbs sampling, h ~ p(h | x) then x ~ p(x | h), as one
    ``lax.scan``; step k uses ``fold_in(key, k)``.

    The sweep x -> x' is reversible with respect to p(x) (p(x) T(x, x') = sum_h p(h) p(x | h)
    p(x' | h) is symmetric), which annealed importance sampling in reverse relies on.

    Args:
      key: PRNG key.
      params: the RBM.
      x_init: (batch, M) initial visible states, one chain per row (the data for CD-k).
      num_steps: k >= 1 sweeps.
      visible: 'binary' or 'gaussian'.
      sigma: standard deviations of Gaussian visible units (scalar or (M,)).

    Returns:
      ``(x_k, h_probs)``: the visible states after k sweeps and p(h = 1 | x_k), (batch, N).

    Example:
      >>> x, h_probs = rbm_gibbs(key, params, x_data, 10)
    """
    check_rbm(params, visible, x=x_init, sigma=sigma)
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}.")

    def sweep(x, k):
        key_h, key_x = jax.random.split(jax.random.fold_in(key, k))
        h = rbm_sample_hidden(key_h, params, x, visible=visible, sigma=sigma)
        return rbm_sample_visible(key_x, params, h, visible=visible, sigma=sigma), None

    x, _ = jax.lax.scan(sweep, x_init, jnp.arange(int(num_steps)))
    return x, rbm_hidden_probs(params, x, visible=visible, sigma=sigma)
