"""Classifier-free guidance (Ho & Salimans 2022): label dropout in training, mixing at sampling.

One network m(x, t, y) is trained both conditionally and unconditionally by replacing each
label with the null label with probability p. At sampling the two predictions are mixed,

    m_w(x, t, y) = (1 + w) m(x, t, y) - w m(x, t, null) = m(x, t, y) + w (m(x, t, y) - m(x, t, null)),

which for an eps (or score) model is the score of p(x | y) p(y | x)^w: guidance by the implicit
classifier p(y | x) proportional to p(x | y) / p(x).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.ddpm.loss import denoising_loss
from gendiff.guidance._checks import check_batch, check_guidance_scale, check_labels, concrete
from gendiff.paths.base import GaussianPath

ModelFn = Callable[..., jax.Array]


def drop_labels(key: jax.Array, labels: jax.Array, p: float, null_label: int) -> jax.Array:
    """Replaces each label by ``null_label`` independently with probability ``p``.

    Args:
      key: PRNG key.
      labels: integer labels, shape (batch,), in [0, null_label] (null labels stay null).
      p: drop probability in [0, 1); 0.1 to 0.2 is usual for classifier-free guidance.
      null_label: the label meaning "unconditional"; the number of classes K for
        ``gendiff.nets.UNet(num_classes=K)``.

    Returns:
      Labels of the same shape and dtype, a fraction ~p of them equal to ``null_label``.

    Raises:
      ValueError: p outside [0, 1) or non-finite, labels out of range, or not of shape (batch,)
        (values are checked only when concrete, so the function still jits).

    Example:
      >>> y = drop_labels(jax.random.key(0), jnp.array([0, 1, 2, 3]), 0.5, null_label=10)
    """
    labels = jnp.asarray(labels)
    check_labels(labels, None, null_label, allow_null=True)
    value = concrete(p)
    if value is not None and not (value.ndim == 0 and 0.0 <= value < 1.0):
        raise ValueError(f"p must be a probability in [0, 1), got {p!r}.")
    drop = jax.random.bernoulli(key, p, labels.shape)
    return jnp.where(drop, jnp.asarray(null_label, labels.dtype), labels)


def label_dropout_denoising_loss(
    key: jax.Array,
    model_fn: ModelFn,
    x0: jax.Array,
    labels: jax.Array,
    path: GaussianPath,
    *,
    label_dropout: float,
    null_label: int,
    prediction: str = "eps",
) -> tuple[jax.Array, dict]:
    """DDPM's denoising loss of a label-conditional model trained with label dropout.

    Each label is replaced by ``null_label`` with probability p (:func:`drop_labels`), and the
    loss is :func:`gendiff.ddpm.denoising_loss` of ``model_fn(x_t, t, y=dropped_labels)``, so one
    network learns both m(x, t, y) and the unconditional m(x, t, null) that
    :func:`classifier_free_guidance` mixes (Ho & Salimans 2022, Algorithm 1). With p = 0 it is
    the conditional DDPM loss on the true labels.

    Args:
      key: PRNG key (split between the dropout and the denoising loss).
      model_fn: ``model_fn(x_t, t, y=labels)`` with t of shape (batch,).
      x0: clean data, (batch, ...).
      labels: integer labels, (batch,), in [0, null_label).
      path: the Gaussian path.
      label_dropout: p in [0, 1), the probability of the null label (0.1 to 0.2 is usual).
      null_label: the unconditional label (K for a K-class ``gendiff.nets.UNet``).
      prediction: what the model predicts ('eps', 'x0', 'v', ...).

    Returns:
      (loss, metrics) with metrics['loss'] the same scalar.

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_schedule("linear", 100)
      >>> model_fn = lambda x, t, y: jnp.zeros_like(x)
      >>> x0, y = jnp.zeros((8, 2)), jnp.arange(8) % 4
      >>> loss, _ = label_dropout_denoising_loss(
      ...     jax.random.key(0), model_fn, x0, y, path, label_dropout=0.1, null_label=4)
    """
    key_drop, key_loss = jax.random.split(key)
    y = drop_labels(key_drop, labels, label_dropout, null_label)
    return denoising_loss(key_loss, model_fn, x0, path, prediction=prediction, y=y)


def classifier_free_guidance(model_fn: ModelFn, guidance_scale: float, null_label: int) -> ModelFn:
    """Wraps a label-conditional model into its classifier-free guided version.

    The guided model computes (1 + w) m(x, t, y) - w m(x, t, null) with ONE call of
    ``model_fn`` on the batch of 2B rows [x; x] with labels [y; null]. The mixing is affine, so
    it is the same guidance whatever the model predicts, as long as the prediction is affine in
    the score at fixed (x, t): eps = -sigma score, score, x0 = (x + sigma^2 score) / alpha,
    v = alpha eps - sigma x0, and the velocity alpha' x0 + sigma' eps on a fixed path all are,
    and the two weights (1 + w) and -w sum to one, so the constant terms pass through unchanged.
    w = 0 gives the conditional model back.

    Args:
      model_fn: ``model_fn(x, t, y=labels, **cond)``, trained with :func:`drop_labels`.
      guidance_scale: w >= 0 (a Python number or a scalar array, also traced).
      null_label: the unconditional label (K for a K-class ``gendiff.nets.UNet``).

    Returns:
      ``guided(x, t, *, y, **cond)``; any other conditioning in ``cond`` must have a leading
      batch axis and is used for both halves.

    Raises:
      ValueError: a negative or non-finite scale (when concrete); at call time, labels of the
        wrong shape or outside [0, null_label].

    Example:
      >>> from gendiff.ddpm import ancestral_sample
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_schedule("linear", 100)
      >>> conditional = lambda x, t, y: 0.5 * x + 0.01 * y[:, None]  # row y = 10 is the null label
      >>> guided = classifier_free_guidance(conditional, 2.0, null_label=10)
      >>> ancestral_sample(key, guided, path, (10, 2), y=jnp.arange(10)).shape
      (10, 2)
    """
    check_guidance_scale(guidance_scale)

    def guided(x: jax.Array, t: jax.Array, *, y: jax.Array, **cond) -> jax.Array:
        batch = x.shape[0]
        check_batch("t", t, batch)
        check_labels(y, batch, null_label, allow_null=True)
        for name, value in cond.items():
            check_batch(name, value, batch)
        twice = lambda a: jnp.concatenate([a, a])
        labels = jnp.concatenate([y, jnp.full_like(y, null_label)])
        out = model_fn(twice(x), twice(t), y=labels, **{k: twice(v) for k, v in cond.items()})
        conditional, unconditional = out[:batch], out[batch:]
        w = jnp.asarray(guidance_scale, out.dtype)
        return (1.0 + w) * conditional - w * unconditional

    return guided
