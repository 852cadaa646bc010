"""Gradient regularisers for GAN critics: the WGAN-GP gradient penalty and R1.

Both take ``critic_fn(x) -> (batch,)`` or ``(batch, 1)`` outputs and differentiate the sum of
the outputs with respect to the inputs, which gives each example's input gradient as long as
the critic treats examples independently (no batch normalisation, as WGAN-GP requires).
They return the unweighted penalty; the caller adds ``lambda * penalty`` (WGAN-GP: lambda =
10) or ``gamma / 2 * penalty`` (R1) to the discriminator loss.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

CriticFn = Callable[[jax.Array], jax.Array]


def _input_gradients(critic_fn: CriticFn, x: jax.Array) -> jax.Array:
    def total(x):
        out = critic_fn(x)
        if out.shape not in ((x.shape[0],), (x.shape[0], 1)):
            raise ValueError(
                f"critic_fn must return shape ({x.shape[0]},) or ({x.shape[0]}, 1), got {out.shape}."
            )
        return jnp.sum(out)

    return jax.grad(total)(x)


def _safe_norm(g: jax.Array) -> jax.Array:
    # Per-example Euclidean norm with a zero (not NaN) gradient where g = 0.
    sq = jnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=-1)
    pos = sq > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, sq, 1.0)), 0.0)


def interpolates(key: jax.Array, real, fake) -> jax.Array:
    """Random points on the segments between paired real and fake samples.

    x_hat_i = eps_i x_real,i + (1 - eps_i) x_fake,i with eps_i ~ U[0, 1], one per example.

    Args:
      key: PRNG key.
      real, fake: samples of one shape (batch, ...).

    Returns:
      x_hat, shape (batch, ...).

    Example:
      >>> x = interpolates(jax.random.key(0), jnp.ones((3, 2)), jnp.zeros((3, 2)))
      >>> bool(jnp.all((x >= 0) & (x <= 1) & (x[:, :1] == x[:, 1:])))
      True
    """
    real, fake = jnp.asarray(real), jnp.asarray(fake)
    if real.shape != fake.shape or real.ndim < 1:
        raise ValueError(
            f"real and fake must have the same shape (batch, ...), got {real.shape} and {fake.shape}."
        )
    eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), dtype=real.dtype)
    return eps * real + (1.0 - eps) * fake


def gradient_penalty(
    key: jax.Array,
    critic_fn: CriticFn,
    real,
    fake,
    *,
    target: float = 1.0,
    one_sided: bool = False,
) -> tuple[jax.Array, dict]:
    """The WGAN-GP penalty E (||grad_x f(x_hat)|| - target)^2 on random interpolates.

    Args:
      key: PRNG key for the interpolation weights.
      critic_fn: the critic, (batch, ...) -> (batch,) or (batch, 1).
      real, fake: samples of one shape (batch, ...).
      target: the gradient norm aimed at (1 for WGAN-GP).
      one_sided: penalise only norms above `target`, E max(0, ||grad|| - target)^2
        (the alternative Gulrajani et al. discuss in section 4; Petzka et al., "On the
        regularization of Wasserstein GANs", ICLR 2018).

    Returns:
      (penalty, metrics): metrics 'penalty' and 'grad_norm' (mean gradient norm).

    References:
      Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017, eq. (3).

    Example:
      >>> critic = lambda x: x @ jnp.array([3.0, 4.0])  # gradient norm 5 everywhere
      >>> gp, _ = gradient_penalty(jax.random.key(0), critic, jnp.ones((4, 2)), jnp.zeros((4, 2)))
      >>> float(gp)
      16.0
    """
    if np.shape(real) != np.shape(fake):
        raise ValueError(
            f"real and fake must have the same shape (batch, ...), got {np.shape(real)} and "
            f"{np.shape(fake)}."
        )
    x_hat = interpolates(key, real, fake)
    norms = _safe_norm(_input_gradients(critic_fn, x_hat))
    gap = norms - target
    if one_sided:
        gap = jax.nn.relu(gap)
    penalty = jnp.mean(gap**2)
    return penalty, {"penalty": penalty, "grad_norm": jnp.mean(norms)}


def r1_penalty(critic_fn: CriticFn, real) -> tuple[jax.Array, dict]:
    """The R1 penalty E_data ||grad_x D(x)||^2 on real samples.

    Mescheder et al. add (gamma / 2) times this to the discriminator loss. Applied to fake
    samples instead it is their R2 penalty.

    Args:
      critic_fn: the discriminator (logits), (batch, ...) -> (batch,) or (batch, 1).
      real: data samples, (batch, ...).

    Returns:
      (penalty, metrics): metrics 'penalty' and 'grad_norm' (mean gradient norm).

    References:
      Mescheder, Geiger & Nowozin, "Which Training Methods for GANs do actually Converge?",
      ICML 2018.

    Example:
      >>> r1, _ = r1_penalty(lambda x: 0.5 * jnp.sum(x**2, axis=-1), jnp.array([[3.0, 4.0]]))
      >>> float(r1)  # ||x||^2
      25.0
    """
    real = jnp.asarray(real)
    if real.ndim < 1:
        raise ValueError(f"real must have shape (batch, ...), got {real.shape}.")
    grads = _input_gradients(critic_fn, real)
    sq = jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=-1)
    penalty = jnp.mean(sq)
    return penalty, {"penalty": penalty, "grad_norm": jnp.mean(_safe_norm(grads))}
