"""Noise-contrastive estimation (NCE) of an unnormalised density (Gutmann & Hyvarinen 2010, 2012).

Data x_1..x_{T_d} ~ p_d are told apart from noise y_1..y_{T_n} ~ p_n, nu = T_n / T_d noise
samples per data sample, by logistic regression on the log-ratio

    G(u) = log p_m(u; theta) - log p_n(u),        h(u) = sigmoid(G(u) - log nu),           (1)

where sigmoid(G - log nu) = p_m / (p_m + nu p_n) is the posterior probability of "data" when
the classes have priors 1 / (1 + nu) and nu / (1 + nu). The model's log-density is
log p_m(u) = log phi(u; alpha) - log Z with the log-normaliser log Z learned as one more
parameter. NCE maximises

    J(theta) = 1/T_d [ sum_t log h(x_t) + sum_{j=1}^{T_n} log(1 - h(y_j)) ]
             = mean_t log h(x_t) + nu * mean_j log(1 - h(y_j)),                            (2)

and the loss here is -J. For nu = 1 this is the lecture notes' objective (F0:3369-3384), whose
second sum (F0:3373) should run over the T noise samples, not t = T..2T. Its gradient is

    dJ/dtheta = mean_t (1 - h(x_t)) dG(x_t)/dtheta - nu * mean_j h(y_j) dG(y_j)/dtheta,   (3)

which vanishes in expectation at p_m = p_d (there 1 - h = nu p_n / (p_d + nu p_n) and
h = p_d / (p_d + nu p_n), so both terms equal the integral of nu p_d p_n / (p_d + nu p_n)
dG): the true density, normaliser included, is a stationary point, and when p_n > 0 wherever
p_d > 0 it is the unique maximiser (Gutmann & Hyvarinen 2012, Theorem 1; the notes state this
"without proof", F0:3401). The estimator's variance falls as nu grows, towards that of maximum
likelihood (ibid., section 2.3).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from gendiff.ssl._checks import check_positive

PyTree = Any


def nce_loss_from_log_ratios(
    log_ratio_data: jax.Array, log_ratio_noise: jax.Array, *, nu: float | None = None
) -> tuple[jax.Array, dict]:
    """The NCE loss -J of eq. (2) from the log-ratios G = log p_m - log p_n.

    Args:
      log_ratio_data: G(x_t) at the data samples, shape (T_d,).
      log_ratio_noise: G(y_j) at the noise samples, shape (T_n,).
      nu: noise/data ratio > 0 used in the class priors; None (default) takes T_n / T_d.
        Passing nu explicitly with other sample counts estimates the same expectation (2).

    Returns:
      (loss, metrics): loss = -J, metrics 'loss', 'data_term' (mean log h(x)), 'noise_term'
      (mean log(1 - h(y))), 'accuracy' (of the classifier h > 1/2 over both sets, weighted
      like the loss) and 'nu'.

    Raises:
      ValueError: for nu <= 0 or inputs that are not 1-D.

    References:
      Gutmann & Hyvarinen, "Noise-contrastive estimation of unnormalized statistical models,
      with applications to natural image statistics", JMLR 13, 2012, eq. (8).

    Example:
      >>> loss, m = nce_loss_from_log_ratios(jnp.zeros(4), jnp.zeros(8))  # nu = 2
      >>> round(float(loss), 4)  # -(log 1/3 + 2 log 2/3) at G = 0
      1.9095
    """
    g_data, g_noise = jnp.asarray(log_ratio_data), jnp.asarray(log_ratio_noise)
    if g_data.ndim != 1 or g_noise.ndim != 1 or g_data.size == 0 or g_noise.size == 0:
        raise ValueError(
            "log_ratio_data and log_ratio_noise must be non-empty 1-D arrays (one value per "
            f"sample), got shapes {g_data.shape} and {g_noise.shape}."
        )
    if nu is None:
        nu = g_noise.shape[0] / g_data.shape[0]
    check_positive("nu (the noise/data ratio)", nu)
    return _nce(g_data, g_noise, nu)


@jax.jit
def _nce(g_data, g_noise, nu):
    log_nu = jnp.log(jnp.asarray(nu, g_data.dtype))
    # Eq. (1): log h = log sigmoid(G - log nu); log(1 - h) = log sigmoid(-(G - log nu)).
    data_term = jnp.mean(jax.nn.log_sigmoid(g_data - log_nu))
    noise_term = jnp.mean(jax.nn.log_sigmoid(-(g_noise - log_nu)))
    loss = -(data_term + nu * noise_term)  # eq. (2)
    correct = jnp.mean(g_data > log_nu) + nu * jnp.mean(g_noise < log_nu)
    metrics = {
        "loss": loss,
        "data_term": data_term,
        "noise_term": noise_term,
        "accuracy": correct / (1.0 + nu),
        "nu": jnp.asarray(nu, g_data.dtype),
    }
    return loss, metrics


def with_log_normalizer(
    log_unnormalized_fn: Callable[[PyTree, jax.Array], jax.Array],
) -> Callable[[PyTree, jax.Array], jax.Array]:
    """Turns log phi(x; alpha) into log p_m(x) = log phi(x; alpha) - log Z with log Z learned.

    Args:
      log_unnormalized_fn: (alpha, x) -> log phi(x; alpha), one value per sample.

    Returns:
      log_model_fn(params, x) with params = {"model": alpha, "log_normalizer": log Z}.

    Example:
      >>> log_model = with_log_normalizer(lambda mu, x: -0.5 * (x - mu) ** 2)
      >>> float(log_model({"model": 0.0, "log_normalizer": 1.0}, jnp.zeros(1))[0])
      -1.0
    """

    def log_model_fn(params, x):
        return log_unnormalized_fn(params["model"], x) - params["log_normalizer"]

    return log_model_fn


def nce_loss(
    log_model_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    x_data: jax.Array,
    x_noise: jax.Array,
    log_noise_fn: Callable[[jax.Array], jax.Array],
    *,
    nu: float | None = None,
) -> tuple[jax.Array, dict]:
    """The NCE loss -J of eq. (2) for a model log-density with a learned normaliser.

    Args:
      log_model_fn: (params, x) -> log p_m(x), shape (batch,); the normaliser is one of the
        parameters (see :func:`with_log_normalizer`).
      params: the model's parameters, normaliser included.
      x_data: T_d data samples, leading axis the batch.
      x_noise: T_n samples of the noise distribution, leading axis the batch.
      log_noise_fn: x -> log p_n(x), the normalised noise log-density, shape (batch,).
      nu: noise/data ratio > 0; None (default) takes T_n / T_d.

    Returns:
      (loss, metrics) as in :func:`nce_loss_from_log_ratios`.

    References:
      Gutmann & Hyvarinen 2010 (AISTATS) and 2012 (JMLR 13), eqs. (8) and (11).

    Example:
      >>> model = with_log_normalizer(lambda mu, x: -0.5 * (x - mu) ** 2)
      >>> noise = lambda x: -0.5 * x**2 - 0.5 * jnp.log(2 * jnp.pi)
      >>> params = {"model": 0.0, "log_normalizer": 0.5 * jnp.log(2 * jnp.pi)}
      >>> loss, m = nce_loss(model, params, jnp.ones(3), jnp.zeros(3), noise)  # p_m = p_n
      >>> round(float(loss), 4)  # 2 log 2: G = 0 everywhere
      1.3863
    """
    g_data = log_model_fn(params, x_data) - log_noise_fn(x_data)
    g_noise = log_model_fn(params, x_noise) - log_noise_fn(x_noise)
    return nce_loss_from_log_ratios(g_data, g_noise, nu=nu)
