"""Langevin dynamics and annealed Langevin dynamics (SMLD), each one compiled ``lax.scan``."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.score.sigmas import check_noise_levels, check_positive

STEP_RULES = ("scaled", "fixed")


def langevin_step(
    key: jax.Array, score: jax.Array, x: jax.Array, step_size: jax.Array | float
) -> jax.Array:
    """x' = x + alpha grad log p(x) + sqrt(2 alpha) z, z ~ N(0, I), given score = grad log p(x).

    Example:
      >>> from gendiff.score import langevin_step
      >>> x = jnp.ones(3)  # target N(0, I): score -x
      >>> z = jax.random.normal(key, x.shape)
      >>> bool(jnp.allclose(langevin_step(key, -x, x, 0.02), x - 0.02 * x + 0.2 * z))
      True
      >>> x = langevin_step(key, jnp.zeros((10000, 1)), jnp.zeros((10000, 1)), 0.125)
      >>> round(float(x.std()), 1)  # sqrt(2 alpha)
      0.5
    """
    z = jax.random.normal(key, x.shape, x.dtype)
    return x + step_size * score + jnp.sqrt(2.0 * step_size) * z


def langevin_dynamics(
    key: jax.Array,
    score_fn: Callable[[jax.Array], jax.Array],
    x_init: jax.Array,
    *,
    step_size: float,
    num_steps: int,
) -> jax.Array:
    """Unadjusted Langevin dynamics x_{k+1} = x_k + alpha s(x_k) + sqrt(2 alpha) z_k.

    As alpha -> 0 and K -> infinity the chain's law tends to p, where s = grad log p; at a
    finite alpha it is biased (for a Gaussian with precision P the stationary covariance is
    (P - alpha P^2 / 2)^{-1} instead of P^{-1}).

    Args:
      key: PRNG key; step k uses ``fold_in(key, k)``.
      score_fn: ``score_fn(x)``, (batch, ...) -> (batch, ...).
      x_init: initial states, (batch, ...), one chain per row.
      step_size: alpha > 0.
      num_steps: K >= 1.

    Returns:
      x_K, same shape as x_init.

    Example:
      >>> x = langevin_dynamics(key, lambda x: -x, jnp.zeros((1000, 2)), step_size=0.01,
      ...                       num_steps=1000)
      >>> round(float(x.std()), 1)  # ~ N(0, I)
      1.0
    """
    check_positive("step_size", step_size)
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}.")

    def step(x, k):
        return langevin_step(jax.random.fold_in(key, k), score_fn(x), x, step_size), None

    x, _ = jax.lax.scan(step, x_init, jnp.arange(num_steps))
    return x


def annealed_langevin_dynamics(
    key: jax.Array,
    score_fn: Callable[[jax.Array, jax.Array], jax.Array],
    x_init: jax.Array,
    sigmas: jax.Array,
    *,
    eps: float,
    num_steps_per_level: int,
    step_rule: str = "scaled",
    denoise: bool = True,
) -> jax.Array:
    """Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1).

    For levels i = 1..L (sigma_1 > ... > sigma_L) it runs K Langevin steps on the noised
    density p_{sigma_i} with the noise-conditional score s(x, sigma_i), each level starting
    from the last one's state. The step is alpha_i = eps sigma_i^2 / sigma_L^2 ('scaled', the
    paper's rule, which keeps the signal-to-noise ratio of a step the same at every level) or
    alpha_i = eps ('fixed'). ``denoise`` finishes with Tweedie's estimate
    x + sigma_L^2 s(x, sigma_L) of the clean sample.

    Args:
      key: PRNG key; level i, step k use ``fold_in(fold_in(key, i), k)``.
      score_fn: ``score_fn(x, sigma)`` with sigma of shape (batch,).
      x_init: initial states, (batch, ...).
      sigmas: (L,) strictly decreasing positive noise levels.
      eps: step-size scale, > 0 (the step at the last level).
      num_steps_per_level: K >= 1.
      step_rule: 'scaled' or 'fixed'.
      denoise: apply the final denoising step.

    Returns:
      Samples of x_init's shape.

    Example:
      >>> from gendiff.score import geometric_sigmas
      >>> sigmas = geometric_sigmas(10.0, 0.01, 10)
      >>> score_fn = lambda x, s: -x / (1 + s[:, None] ** 2)  # data N(0, I) plus N(0, s^2)
      >>> x0 = jax.random.uniform(key, (500, 2), minval=-10.0, maxval=10.0)
      >>> x = annealed_langevin_dynamics(key, score_fn, x0, sigmas, eps=2e-5,
      ...                                num_steps_per_level=100)
      >>> x.shape
      (500, 2)
    """
    check_noise_levels(sigmas)
    check_positive("eps", eps)
    if num_steps_per_level < 1:
        raise ValueError(f"num_steps_per_level must be >= 1, got {num_steps_per_level}.")
    if step_rule not in STEP_RULES:
        raise ValueError(f"Unknown step_rule {step_rule!r}; expected one of {STEP_RULES}.")
    sigmas = jnp.asarray(sigmas, x_init.dtype)
    if step_rule == "scaled":
        step_sizes = eps * sigmas**2 / sigmas[-1] ** 2
    else:
        step_sizes = jnp.full_like(sigmas, eps)
    batch = x_init.shape[0]

    def level(x, inputs):
        i, sigma, step_size = inputs
        key_level = jax.random.fold_in(key, i)
        sigma_batch = jnp.full((batch,), sigma)

        def step(x, k):
            score = score_fn(x, sigma_batch)
            return langevin_step(jax.random.fold_in(key_level, k), score, x, step_size), None

        x, _ = jax.lax.scan(step, x, jnp.arange(num_steps_per_level))
        return x, None

    levels = (jnp.arange(sigmas.shape[0]), sigmas, step_sizes)
    x, _ = jax.lax.scan(level, x_init, levels)
    if denoise:
        # Tweedie: E[x_0 | x] = x + sigma_L^2 grad log p_{sigma_L}(x).
        x = x + sigmas[-1] ** 2 * score_fn(x, jnp.full((batch,), sigmas[-1]))
    return x
