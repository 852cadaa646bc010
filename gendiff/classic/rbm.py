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

    Example:
      >>> from gendiff.classic import RBMParams, rbm_init
      >>> params = rbm_init(jax.random.key(0), 6, 3, scale=0.5)
      >>> isinstance(params, RBMParams), params.W.shape, params.a.shape, params.b.shape
      (True, (6, 3), (6,), (3,))
      >>> params._replace(b=jnp.ones(3)).b.tolist()
      [1.0, 1.0, 1.0]
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
      >>> from gendiff.classic import base_rate_bias
      >>> bias = base_rate_bias(jnp.array([[0.0, 1.0], [1.0, 1.0]]), eps=0.01)  # p = (0.5, 0.99)
      >>> [round(float(v), 4) for v in bias]  # log(0.5 / 0.5) = 0, log(0.99 / 0.01) = log 99
      [0.0, 4.5951]
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
      >>> from gendiff.classic import rbm_energy, rbm_init
      >>> params = rbm_init(key, 6, 3, scale=0.5, visible_bias=jnp.arange(6.0))
      >>> float(rbm_energy(params, jnp.ones(6), jnp.zeros(3)))  # = -sum(a) when h = 0
      -15.0
      >>> e = rbm_energy(params, jnp.ones((4, 6)), jnp.ones((4, 3)))  # b = 0: -sum(a) - sum(W)
      >>> e.shape, bool(jnp.allclose(e, -15.0 - jnp.sum(params.W)))
      ((4,), True)
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
    """b + x^T W (x / sigma^2 for Gaussian units): the logits of p(h = 1 | x), (..., N).

    Example:
      >>> from gendiff.classic import rbm_hidden_logits, rbm_init
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> logits = rbm_hidden_logits(params, jnp.ones((4, 6)))
      >>> logits.shape, bool(jnp.allclose(logits[0], jnp.sum(params.W, 0)))  # b = 0: x^T W
      ((4, 3), True)
      >>> gauss = rbm_hidden_logits(params, 2 * jnp.ones(6), visible="gaussian", sigma=2**0.5)
      >>> bool(jnp.allclose(gauss, logits[0]))  # Gaussian units see x / sigma^2
      True
    """
    check_rbm(params, visible, x=x, sigma=sigma)
    return params.b + _scaled_visible(x, visible, sigma) @ params.W


def rbm_hidden_probs(params: RBMParams, x: jax.Array, *, visible: str = "binary", sigma=1.0):
    """p(h_j = 1 | x) = sigmoid(b_j + (x^T W)_j), (..., N).

    Example:
      >>> from gendiff.classic import all_states, rbm_energy, rbm_hidden_probs, rbm_init
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> x = jax.random.bernoulli(key, 0.5, (5, 6)).astype(jnp.float32)
      >>> p = rbm_hidden_probs(params, x)
      >>> p.shape, bool(jnp.all((p > 0) & (p < 1)))
      ((5, 3), True)
      >>> h = all_states(3)  # p(h | x) ∝ exp(-E(x, h)) over the 8 hidden states
      >>> posterior = jax.nn.softmax(-rbm_energy(params, x[0], h))
      >>> bool(jnp.allclose(posterior @ h, p[0], atol=1e-5))  # its marginals p(h_j = 1 | x)
      True
    """
    return jax.nn.sigmoid(rbm_hidden_logits(params, x, visible=visible, sigma=sigma))


def rbm_visible_mean(params: RBMParams, h: jax.Array, *, visible: str = "binary", sigma=1.0):
    """E[x | h]: p(x_i = 1 | h) = sigmoid(a_i + (W h)_i) for binary units, a + W h for
    Gaussian ones; (..., M).

    Example:
      >>> from gendiff.classic import rbm_init, rbm_visible_mean
      >>> params = rbm_init(key, 6, 3, scale=0.5)  # a = 0
      >>> h = jnp.array([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
      >>> mean = rbm_visible_mean(params, h, visible="gaussian")  # a + W h
      >>> mean.shape, bool(jnp.allclose(mean[0], params.W[:, 0] + params.W[:, 2]))
      ((2, 6), True)
      >>> rbm_visible_mean(params, h)[1].tolist()  # binary: sigmoid(a + W h) = 1/2 at h = 0
      [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    """
    check_rbm(params, visible, h=h, sigma=sigma)
    activation = params.a + h @ params.W.T
    return jax.nn.sigmoid(activation) if visible == "binary" else activation


def rbm_free_energy(params: RBMParams, x: jax.Array, *, visible: str = "binary", sigma=1.0):
    """F(x) = -log sum_h exp(-E(x, h)), so p(x) = exp(-F(x)) / Z; x (..., M) -> (...).

    Example:
      >>> from gendiff.classic import all_states, rbm_energy, rbm_free_energy, rbm_init
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> x = jax.random.bernoulli(key, 0.5, (5, 6)).astype(jnp.float32)
      >>> f = rbm_free_energy(params, x)
      >>> f.shape
      (5,)
      >>> e = rbm_energy(params, x[:, None], all_states(3)[None])  # (5, 8): every h
      >>> bool(jnp.allclose(f, -jax.nn.logsumexp(-e, axis=1), atol=1e-5))  # sum_h exp(-E)
      True
    """
    softplus = jnp.sum(
        jax.nn.softplus(rbm_hidden_logits(params, x, visible=visible, sigma=sigma)), -1
    )
    if visible == "binary":
        return -jnp.sum(x * params.a, axis=-1) - softplus
    return jnp.sum(jnp.square(x - params.a) / (2 * jnp.square(sigma)), axis=-1) - softplus


def rbm_sample_hidden(key, params: RBMParams, x, *, visible: str = "binary", sigma=1.0):
    """h ~ p(h | x), as floats in {0, 1}.

    Example:
      >>> from gendiff.classic import rbm_hidden_probs, rbm_init, rbm_sample_hidden
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> x = jnp.ones((2000, 6))
      >>> h = rbm_sample_hidden(key, params, x)
      >>> h.shape, bool(jnp.all((h == 0) | (h == 1)))
      ((2000, 3), True)
      >>> bool(jnp.allclose(h.mean(0), rbm_hidden_probs(params, x[0]), atol=0.05))
      True
    """
    p = rbm_hidden_probs(params, x, visible=visible, sigma=sigma)
    return jax.random.bernoulli(key, p).astype(p.dtype)


def rbm_sample_visible(key, params: RBMParams, h, *, visible: str = "binary", sigma=1.0):
    """x ~ p(x | h): Bernoulli(sigmoid(a + W h)) or N(a + W h, diag sigma^2).

    Example:
      >>> from gendiff.classic import rbm_init, rbm_sample_visible, rbm_visible_mean
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> h = jnp.ones((2000, 3))
      >>> x = rbm_sample_visible(key, params, h)
      >>> x.shape, bool(jnp.all((x == 0) | (x == 1)))
      ((2000, 6), True)
      >>> bool(jnp.allclose(x.mean(0), rbm_visible_mean(params, h[0]), atol=0.05))
      True
      >>> x = rbm_sample_visible(key, params, h, visible="gaussian", sigma=0.5)
      >>> round(float(jnp.std(x - rbm_visible_mean(params, h, visible="gaussian"))), 1)
      0.5
    """
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
      >>> from gendiff.classic import all_states, rbm_free_energy, rbm_gibbs, rbm_init
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> x, h_probs = rbm_gibbs(key, params, jnp.zeros((2000, 6)), 20)  # 2000 chains
      >>> x.shape, h_probs.shape
      ((2000, 6), (2000, 3))
      >>> states = all_states(6)  # E_p[x] by enumeration of the 64 visible states
      >>> exact_mean = jax.nn.softmax(-rbm_free_energy(params, states)) @ states
      >>> bool(jnp.allclose(x.mean(0), exact_mean, atol=0.05))
      True
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
