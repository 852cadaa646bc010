"""Contrastive divergence (CD-k) and persistent CD (PCD) for RBMs, as losses for the one
training loop ``gendiff.train.fit``.

The log-likelihood gradient is a positive phase minus a negative phase (F2:820-850):

  d/dtheta mean_n log p(x_n) = -mean_n dF(x_n)/dtheta + E_{x ~ p}[dF(x)/dtheta].

CD-k (Hinton 2002) replaces the model expectation by samples from k block Gibbs sweeps started
at the data; PCD (Tieleman 2008) keeps the chains from one update to the next. Both are the
gradient of the surrogate loss

  mean_n F(x_n) - mean_r F(stop_gradient(x~_r)),

whose value is no likelihood, but whose gradient (with the negative samples held fixed) is the
CD / PCD estimate of -d log-likelihood / dtheta.

PCD's chains are carried by the training state: :func:`gendiff.train.persistent_chain_players`
with :func:`rbm_gibbs` as the chains' transition and :func:`rbm_contrastive_loss` as the loss.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.classic.rbm import (
    RBMParams,
    check_rbm,
    rbm_free_energy,
    rbm_gibbs,
    rbm_hidden_probs,
    rbm_visible_mean,
)

LossFn = Callable


def rbm_contrastive_loss(
    params: RBMParams, x_data: jax.Array, x_model: jax.Array, *, visible: str = "binary", sigma=1.0
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """mean F(x_data) - mean F(stop_gradient(x_model)): its gradient is the contrastive
    estimate of the negative log-likelihood gradient, with negative samples ``x_model``.

    Example:
      >>> from gendiff.classic import rbm_contrastive_loss, rbm_gibbs, rbm_init
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> x = jax.random.bernoulli(key, 0.5, (8, 6)).astype(jnp.float32)
      >>> x_neg, _ = rbm_gibbs(key, params, x, 1)
      >>> loss, metrics = rbm_contrastive_loss(params, x, x_neg)  # CD-1
      >>> bool(jnp.isclose(loss, metrics["free_energy_data"] - metrics["free_energy_model"]))
      True
      >>> grads = jax.grad(lambda p: rbm_contrastive_loss(p, x, x_neg)[0])(params)
      >>> bool(jnp.allclose(grads.a, x_neg.mean(0) - x.mean(0)))  # dF/da = -x
      True
      >>> float(rbm_contrastive_loss(params, x, x)[0])  # no gap: negatives = data
      0.0
    """
    check_rbm(params, visible, x=x_data, sigma=sigma)
    check_rbm(params, visible, x=x_model, sigma=sigma)
    x_model = jax.lax.stop_gradient(x_model)
    f_data = jnp.mean(rbm_free_energy(params, x_data, visible=visible, sigma=sigma))
    f_model = jnp.mean(rbm_free_energy(params, x_model, visible=visible, sigma=sigma))
    return f_data - f_model, {"free_energy_data": f_data, "free_energy_model": f_model}


def _reconstruction_error(params, x, visible, sigma, key):
    """Squared error of one mean-field reconstruction x -> p(h|x) -> E[x|h], per example."""
    del key
    h = rbm_hidden_probs(params, x, visible=visible, sigma=sigma)
    recon = rbm_visible_mean(params, h, visible=visible, sigma=sigma)
    return jnp.mean(jnp.sum(jnp.square(x - recon), axis=-1))


def _check_k(k):
    if int(k) != k or k < 1:
        raise ValueError(f"k (Gibbs sweeps per update) must be a positive integer, got {k!r}.")


def cd_loss(k: int = 1, *, visible: str = "binary", sigma=1.0, data_key: str = "x") -> LossFn:
    """``loss_fn(params, batch, key)`` of CD-k for :func:`gendiff.train.make_train_step`.

    Negative samples: k block Gibbs sweeps from the batch ``batch[data_key]`` (batch, M).

    Example:
      >>> import optax
      >>> from gendiff.classic import cd_loss, rbm_init, rbm_log_likelihood, rbm_log_partition
      >>> from gendiff.train import create_train_state, make_train_step
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> x = jnp.array([[1.0, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]]).repeat(8, axis=0)
      >>> tx = optax.sgd(0.1)
      >>> step = jax.jit(make_train_step(cd_loss(1), tx, ema_decay=0.0))
      >>> state = create_train_state(params, tx)
      >>> for i in range(200):
      ...     state, metrics = step(state, {"x": x}, jax.random.fold_in(key, i))
      >>> sorted(metrics)
      ['finite', 'free_energy_data', 'free_energy_model', 'grad_norm', 'loss',
       'reconstruction_error']
      >>> def log_likelihood(p):
      ...     return float(rbm_log_likelihood(p, x, rbm_log_partition(p)))
      >>> log_likelihood(params) < -4.0 and log_likelihood(state.params) > -2.0  # -4.64 -> -1.57
      True
    """
    _check_k(k)

    def loss_fn(params: RBMParams, batch, key):
        x = jnp.asarray(batch[data_key])
        x_model, _ = rbm_gibbs(key, params, x, k, visible=visible, sigma=sigma)
        loss, metrics = rbm_contrastive_loss(params, x, x_model, visible=visible, sigma=sigma)
        metrics["reconstruction_error"] = _reconstruction_error(params, x, visible, sigma, key)
        return loss, metrics

    return loss_fn


def pcd_transition(k: int = 1, *, visible: str = "binary", sigma=1.0) -> Callable:
    """``transition(params, chains, key) -> chains``: k block Gibbs sweeps of the persistent
    chains (R, M) under the current RBM, for :func:`gendiff.train.persistent_chain_players`.

    Example:
      >>> from gendiff.classic import pcd_transition, rbm_gibbs, rbm_init
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> chains = jnp.zeros((10, 6))
      >>> new = pcd_transition(3)(params, chains, key)
      >>> new.shape, bool(jnp.all((new == 0) | (new == 1)))
      ((10, 6), True)
      >>> bool(jnp.array_equal(new, rbm_gibbs(key, params, chains, 3)[0]))  # 3 Gibbs sweeps
      True
    """
    _check_k(k)

    def transition(params: RBMParams, chains, key):
        return rbm_gibbs(key, params, chains, k, visible=visible, sigma=sigma)[0]

    return transition


def pcd_loss(*, visible: str = "binary", sigma=1.0, data_key: str = "x") -> Callable:
    """``loss(params, batch, chains, key)`` of PCD: :func:`rbm_contrastive_loss` with the
    persistent chains as negative samples, for :func:`gendiff.train.persistent_chain_players`.

    Example:
      >>> from gendiff.classic import pcd_loss, rbm_contrastive_loss, rbm_init
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> x = jax.random.bernoulli(key, 0.5, (8, 6)).astype(jnp.float32)
      >>> chains = jnp.zeros((10, 6))
      >>> loss, metrics = pcd_loss()(params, {"x": x}, chains, key)
      >>> bool(jnp.isclose(loss, rbm_contrastive_loss(params, x, chains)[0]))
      True
      >>> sorted(metrics)
      ['free_energy_data', 'free_energy_model', 'reconstruction_error']
    """

    def loss_fn(params: RBMParams, batch, chains, key):
        x = jnp.asarray(batch[data_key])
        loss, metrics = rbm_contrastive_loss(params, x, chains, visible=visible, sigma=sigma)
        metrics["reconstruction_error"] = _reconstruction_error(params, x, visible, sigma, key)
        return loss, metrics

    return loss_fn
