"""Classifier guidance (Dhariwal & Nichol 2021) with a classifier of noisy inputs x_t.

A classifier p_phi(y | x_t, t) trained on x_t ~ q(x_t | x_0) steers a diffusion model: by
Bayes, grad log p_t(x | y) = grad log p_t(x) + grad log p_t(y | x), so in eps form

    eps_guided = eps_theta(x_t, t) - s sigma(t) grad_x log p_phi(y | x_t, t),

with s = 1 the conditional model (exactly, for exact eps and classifier) and s > 1 sharper,
higher-fidelity, less diverse samples.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.guidance._checks import check_batch, check_guidance_scale, check_labels
from gendiff.parameterization import check_prediction, from_x0_eps, to_x0_eps
from gendiff.paths.base import GaussianPath
from gendiff.utils import right_broadcast

ModelFn = Callable[..., jax.Array]


def noisy_classifier_loss(
    key: jax.Array,
    logits_fn: Callable[[jax.Array, jax.Array], jax.Array],
    x0: jax.Array,
    labels: jax.Array,
    path: GaussianPath,
) -> tuple[jax.Array, dict]:
    """Cross-entropy of a time-conditioned classifier on noisy inputs.

    t ~ path.sample_t, x_t = alpha_t x_0 + sigma_t eps with eps ~ N(0, I), and the loss is
    E[-log softmax(logits_fn(x_t, t))_y]. Its minimiser is the true posterior of the noisy data,
    log p_t(y | x_t), the quantity classifier guidance needs.

    Args:
      key: PRNG key.
      logits_fn: ``logits_fn(x_t, t) -> (batch, num_classes)`` logits.
      x0: clean data, (batch, ...).
      labels: integer labels, (batch,), in [0, num_classes).
      path: the Gaussian path of the diffusion model to be guided.

    Returns:
      (loss, metrics) with metrics 'loss' and 'accuracy' (of the arg-max on x_t).

    Example:
      >>> from gendiff.paths import VPPath
      >>> logits_fn = lambda x, t: jnp.zeros((x.shape[0], 10))  # a classifier that knows nothing
      >>> x0, y = jnp.zeros((8, 2)), jnp.arange(8)
      >>> loss, metrics = noisy_classifier_loss(key, logits_fn, x0, y, VPPath())
      >>> round(float(loss), 4)  # log 10
      2.3026
    """
    key_t, key_eps = jax.random.split(key)
    t = path.sample_t(key_t, x0.shape[0])
    x_t, _ = path.sample_marginal(key_eps, x0, t)
    logits = logits_fn(x_t, t)
    if logits.ndim != 2 or logits.shape[0] != x0.shape[0]:
        raise ValueError(
            f"logits_fn must return (batch, num_classes) = ({x0.shape[0]}, K), got {logits.shape}."
        )
    check_labels(labels, x0.shape[0], logits.shape[1], allow_null=False)
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32))
    nll = -jnp.take_along_axis(log_probs, labels[:, None], axis=1)[:, 0]
    loss = jnp.mean(nll)
    accuracy = jnp.mean(jnp.argmax(logits, axis=1) == labels)
    return loss, {"loss": loss, "accuracy": accuracy}


def classifier_guidance(
    model_fn: ModelFn,
    log_prob_fn: Callable[[jax.Array, jax.Array, jax.Array], jax.Array],
    path: GaussianPath,
    guidance_scale: float,
    prediction: str = "eps",
    *,
    conditional_model: bool = False,
) -> ModelFn:
    """Adds s times the classifier's score grad_x log p(y | x_t, t) to a diffusion model.

    The model output is converted to (x_0, eps) by ``gendiff.parameterization``, its eps
    replaced by eps - s sigma(t) grad_x log p(y | x_t, t) (the score gains s grad log p(y | x)),
    and converted back, so the guided model predicts the same kind of quantity.

    Args:
      model_fn: ``model_fn(x, t, **cond)``: an unconditional model (or, with
        ``conditional_model``, ``model_fn(x, t, y=labels, **cond)``).
      log_prob_fn: ``log_prob_fn(x, t, y) -> (batch,)`` values log p(y | x_t, t), e.g.
        ``log_softmax(logits)[y]`` of a classifier trained with :func:`noisy_classifier_loss`.
      path: the Gaussian path of the model.
      guidance_scale: s >= 0; 0 leaves the model unchanged, 1 turns an exact unconditional
        model into the exact conditional one.
      prediction: what ``model_fn`` outputs ('eps', 'x0', 'v', 'score', 'velocity').
      conditional_model: also pass ``y`` to ``model_fn`` (guiding a conditional model).

    Returns:
      ``guided(x, t, *, y, **cond)`` with the same output type as ``model_fn``.

    Example:
      >>> from gendiff.ddpm import ancestral_sample
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_schedule("linear", 100)
      >>> log_prob = lambda x, t, y: -jnp.sum((x - y[:, None]) ** 2, axis=-1)  # toy log p(y|x)
      >>> guided = classifier_guidance(model_fn, log_prob, path, 4.0)
      >>> ancestral_sample(key, guided, path, (10, 2), y=jnp.arange(10)).shape
      (10, 2)
    """
    check_prediction(prediction)
    check_guidance_scale(guidance_scale)

    def guided(x: jax.Array, t: jax.Array, *, y: jax.Array, **cond) -> jax.Array:
        batch = x.shape[0]
        check_batch("t", t, batch)
        check_batch("y", y, batch)
        label_cond = {"y": y} if conditional_model else {}
        pred = model_fn(x, t, **label_cond, **cond)

        def total_log_prob(x):
            log_prob = log_prob_fn(x, t, y)
            if log_prob.shape != (batch,):
                raise ValueError(
                    f"log_prob_fn must return shape (batch,) = ({batch},), got {log_prob.shape}."
                )
            return jnp.sum(log_prob)  # examples are independent: the gradient is per example

        grad = jax.grad(total_log_prob)(x)
        alpha, sigma = right_broadcast(path.alpha(t), x), right_broadcast(path.sigma(t), x)
        _, eps = to_x0_eps(path, pred, x, t, prediction)
        eps = eps - jnp.asarray(guidance_scale, x.dtype) * sigma * grad
        x0 = (x - sigma * eps) / alpha  # keeps x_t = alpha x_0 + sigma eps
        return from_x0_eps(path, x0, eps, t, prediction)

    return guided
