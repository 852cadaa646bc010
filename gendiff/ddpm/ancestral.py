"""DDPM's ancestral sampler (Ho et al. 2020, Algorithm 2) as one compiled ``lax.scan``."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.ddpm.posterior import posterior_mean, reverse_variance
from gendiff.parameterization import check_prediction, to_x0_eps
from gendiff.paths.base import GaussianPath
from gendiff.paths.discrete import DiscreteVPPath
from gendiff.utils import right_broadcast

ModelFn = Callable[..., jax.Array]


def predict_x0(
    model_fn: ModelFn,
    path: GaussianPath,
    x_t: jax.Array,
    t: jax.Array,
    *,
    prediction: str,
    clip_x0: bool,
    **cond,
) -> jax.Array:
    """The model's estimate of x_0 at (x_t, t), optionally clipped to the data range [-1, 1]."""
    x0, _ = to_x0_eps(path, model_fn(x_t, t, **cond), x_t, t, prediction)
    return jnp.clip(x0, -1.0, 1.0) if clip_x0 else x0


def ancestral_step(
    key: jax.Array,
    model_fn: ModelFn,
    path: GaussianPath,
    x_t: jax.Array,
    s: jax.Array,
    t: jax.Array,
    *,
    variance: str = "small",
    prediction: str = "eps",
    clip_x0: bool = True,
    add_noise: jax.Array | bool = True,
    **cond,
) -> jax.Array:
    """One reverse step x_s ~ p(x_s | x_t) = N(mu~(x_t, x0_hat), sigma_t^2 I).

    With prediction='eps' and no clipping, the mean is the eps-form of Ho et al. (eq. 11),
    (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta) / sqrt(alpha_t).

    Args:
      key: PRNG key of this step's noise z.
      model_fn, path: the model and its path.
      x_t: current state, (batch, ...).
      s, t: times s < t, each (batch,).
      variance: 'small' (beta-tilde_t) or 'large' (beta_t).
      prediction: what ``model_fn`` outputs ('eps', 'x0', 'v', ...).
      clip_x0: clip the predicted x_0 to [-1, 1] before forming the mean.
      add_noise: whether to add sigma_t z (False at the last step, where z = 0).
    """
    x0_hat = predict_x0(model_fn, path, x_t, t, prediction=prediction, clip_x0=clip_x0, **cond)
    mean = posterior_mean(path, x0_hat, x_t, s, t)
    std = right_broadcast(jnp.sqrt(reverse_variance(path, s, t, variance)), x_t)
    z = jax.random.normal(key, x_t.shape, x_t.dtype)
    return mean + jnp.where(add_noise, std, 0.0) * z


def ancestral_sample(
    key: jax.Array,
    model_fn: ModelFn,
    path: GaussianPath,
    shape: tuple[int, ...],
    *,
    num_steps: int | None = None,
    variance: str = "small",
    prediction: str = "eps",
    clip_x0: bool = True,
    **cond,
) -> jax.Array:
    """Draws samples by ancestral sampling from x_1 ~ N(0, sigma_1^2 I) down to x_0.

    The time grid is t_i = i / N, i = N..1, with N = T on the discrete DDPM path (the exact
    sampler of Ho et al.) or ``num_steps`` on any path. The whole loop is one ``lax.scan``, so
    ``jax.jit(ancestral_sample, static_argnums=(1, 3))`` compiles one program per run.

    Args:
      key: PRNG key; step i uses ``fold_in(key, i)``.
      model_fn: ``model_fn(x_t, t, **cond)``.
      path: the Gaussian path the model was trained on.
      shape: (batch, ...) of the samples.
      num_steps: number of reverse steps N; defaults to T for a DiscreteVPPath.
      variance: 'small' (beta-tilde) or 'large' (beta).
      prediction: what ``model_fn`` outputs.
      clip_x0: clip predicted x_0 to [-1, 1].
      **cond: conditioning for ``model_fn`` (e.g. ``y=labels``).

    Returns:
      Samples of the given shape.

    Example:
      >>> path = DiscreteVPPath.from_schedule("linear", 1000)
      >>> x = ancestral_sample(key, model_fn, path, (16, 8, 8, 1))
    """
    check_prediction(prediction)
    reverse_variance(path, jnp.zeros(1), jnp.ones(1), variance)  # validates `variance` early
    if num_steps is None:
        if not isinstance(path, DiscreteVPPath):
            raise ValueError("num_steps is required for a continuous-time path.")
        num_steps = path.num_steps
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}.")
    batch = shape[0]
    key_init, key_steps = jax.random.split(key)

    def step(x, i):
        t = jnp.full((batch,), i / num_steps, jnp.float32)
        s = jnp.full((batch,), (i - 1) / num_steps, jnp.float32)
        x = ancestral_step(
            jax.random.fold_in(key_steps, i),
            model_fn,
            path,
            x,
            s,
            t,
            variance=variance,
            prediction=prediction,
            clip_x0=clip_x0,
            add_noise=i > 1,
            **cond,
        )
        return x, None

    x = path.prior_sample(key_init, shape)
    x, _ = jax.lax.scan(step, x, jnp.arange(num_steps, 0, -1))
    return x
