"""Unnormalised densities with a closed-form normaliser, for checking what NCE recovers.

Both models are written as phi(x; theta) without their normalising constant, so that NCE
(:mod:`gendiff.ssl.nce`) has to learn log Z as a separate parameter; the closed forms below
are the truth it is compared with.

Diagonal Gaussian, theta = (mu, log sigma) in R^d x R^d:

    log phi(x) = -sum_i (x_i - mu_i)^2 / (2 sigma_i^2),
    log Z      = sum_i [ log sigma_i + log(2 pi) / 2 ].                                      (1)

Mixture of K isotropic Gaussians in R^d, theta = (means m_k, log widths log s_k, logits a_k):

    log phi(x) = logsumexp_k [ log softmax(a)_k - ||x - m_k||^2 / (2 s_k^2) ],
    log Z      = logsumexp_k [ log softmax(a)_k + d log s_k + d log(2 pi) / 2 ].             (2)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

LOG_2PI = math.log(2.0 * math.pi)


def _check_points(x: jax.Array, dim: int) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"x must have shape (batch, {dim}), got {x.shape}.")
    return x


def gaussian_log_phi(theta: dict, x: jax.Array) -> jax.Array:
    """log phi(x) of eq. (1), shape (batch,); theta = {'mean': (d,), 'log_scale': (d,)}.

    Example:
      >>> theta = {"mean": jnp.zeros(2), "log_scale": jnp.zeros(2)}
      >>> gaussian_log_phi(theta, jnp.array([[1.0, 1.0]])).tolist()
      [-1.0]
    """
    x = _check_points(x, theta["mean"].shape[-1])
    z = (x - theta["mean"]) * jnp.exp(-theta["log_scale"])
    return -0.5 * jnp.sum(z * z, axis=-1)


def gaussian_log_normalizer(theta: dict) -> jax.Array:
    """log Z of eq. (1).

    Example:
      >>> round(float(gaussian_log_normalizer({"mean": jnp.zeros(1), "log_scale": jnp.zeros(1)})), 4)
      0.9189
    """
    return jnp.sum(theta["log_scale"] + 0.5 * LOG_2PI, axis=-1)


def mixture_log_phi(theta: dict, x: jax.Array) -> jax.Array:
    """log phi(x) of eq. (2), shape (batch,); theta = {'means': (K, d), 'log_scales': (K,),
    'logits': (K,)}.

    Example:
      >>> theta = {"means": jnp.zeros((2, 2)), "log_scales": jnp.zeros(2), "logits": jnp.zeros(2)}
      >>> mixture_log_phi(theta, jnp.zeros((1, 2))).tolist()
      [0.0]
    """
    means = theta["means"]
    x = _check_points(x, means.shape[-1])
    d2 = jnp.sum((x[:, None, :] - means[None]) ** 2, axis=-1)  # (batch, K)
    log_w = jax.nn.log_softmax(theta["logits"])
    return jax.nn.logsumexp(log_w - 0.5 * d2 * jnp.exp(-2.0 * theta["log_scales"]), axis=-1)


def mixture_log_normalizer(theta: dict) -> jax.Array:
    """log Z of eq. (2).

    Example:
      >>> theta = {"means": jnp.zeros((2, 2)), "log_scales": jnp.zeros(2), "logits": jnp.zeros(2)}
      >>> round(float(mixture_log_normalizer(theta)), 4)  # log 2 pi
      1.8379
    """
    d = theta["means"].shape[-1]
    log_w = jax.nn.log_softmax(theta["logits"])
    return jax.nn.logsumexp(log_w + d * theta["log_scales"] + 0.5 * d * LOG_2PI)


def mixture_sample(key: jax.Array, theta: dict, num: int) -> jax.Array:
    """num draws of the normalised density phi / Z of eq. (2), shape (num, d).

    phi has no 1 / (2 pi s_k^2)^{d/2} factors, so phi / Z is the Gaussian mixture with
    component probabilities proportional to softmax(a)_k s_k^d (not softmax(a)_k).

    Example:
      >>> theta = {"means": jnp.zeros((2, 3)), "log_scales": jnp.zeros(2), "logits": jnp.zeros(2)}
      >>> mixture_sample(jax.random.key(0), theta, 5).shape
      (5, 3)
    """
    key_k, key_e = jax.random.split(key)
    d = theta["means"].shape[-1]
    k = jax.random.categorical(key_k, theta["logits"] + d * theta["log_scales"], shape=(num,))
    eps = jax.random.normal(key_e, (num, theta["means"].shape[-1]))
    return theta["means"][k] + jnp.exp(theta["log_scales"])[k, None] * eps
