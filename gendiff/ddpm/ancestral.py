"""DDPM's ancestral sampler (Ho et al. 2020, Algorithm 2) as one compiled ``lax.scan``."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.ddpm.posterior import posterior_mean, reverse_variance
from gendiff.paths.base import GaussianPath
from gendiff.paths.discrete import DiscreteVPPath
from gendiff.paths.grid import time_grid
from gendiff.sampling import check_count, check_prediction, initial_state, model_x0_eps
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
    """The model's estimate of x_0 at (x_t, t), optionally clipped to the data range [-1, 1].

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_betas([0.1, 0.2, 0.3])  # alpha_bar = 0.9, 0.72, 0.504
      >>> x_t, t = jnp.full((1, 1), 2.0), jnp.ones(1)
      >>> # model_fn predicts eps = x_t / 2, so x0 = x_t (1 - sigma / 2) / alpha
      >>> x0 = predict_x0(model_fn, path, x_t, t, prediction="eps", clip_x0=False)
      >>> round(float(x0[0, 0]), 4), float(2.0 * (1 - 0.496**0.5 / 2) / 0.504**0.5)
      (1.8251, 1.8251...)
      >>> float(predict_x0(model_fn, path, x_t, t, prediction="eps", clip_x0=True)[0, 0])
      1.0
    """
    return model_x0_eps(model_fn, path, x_t, t, prediction, clip_x0, **cond)[0]


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

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_betas([0.1, 0.2, 0.3])  # alpha_bar = 0.9, 0.72, 0.504
      >>> from gendiff.ddpm import posterior_mean, predict_x0
      >>> x_t, s, t = jnp.ones((2, 3)), jnp.full(2, 1 / 3), jnp.full(2, 2 / 3)
      >>> x_s = ancestral_step(key, model_fn, path, x_t, s, t, add_noise=False)
      >>> x0_hat = predict_x0(model_fn, path, x_t, t, prediction="eps", clip_x0=True)
      >>> bool(jnp.allclose(x_s, posterior_mean(path, x0_hat, x_t, s, t)))  # z = 0: the mean
      True
      >>> ancestral_step(key, model_fn, path, x_t, s, t).shape
      (2, 3)
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
    x_init: jax.Array | None = None,
    spacing: str = "time",
    denoise_final: bool = True,
    dtype=None,
    **cond,
) -> jax.Array:
    """Draws samples by ancestral sampling from x_{t_max} ~ N(0, sigma_max^2 I) down to the data.

    num_steps = N is the number of reverse steps, one model evaluation each. With
    ``denoise_final`` (the default) the first N - 1 steps sample p(x_s | x_t) on the grid
    ``time_grid(path, N - 1, spacing)`` from t_max to t_min, and the last step returns the model's
    x_0 prediction at t_min (the noise-free step to t = 0 of Ho et al.'s Algorithm 2). On a
    DiscreteVPPath with N = T (the default there) the grid is every step T, ..., 1: the exact
    sampler of Ho et al. Without ``denoise_final`` all N steps are stochastic, on
    ``time_grid(path, N, spacing)``, and the result is x at t_min. The whole loop is one
    ``lax.scan``, so ``jax.jit(ancestral_sample, static_argnums=(1, 3))`` compiles one program.

    Args:
      key: PRNG key; the step that leaves the i-th last grid time uses ``fold_in(key_2, i)``
        with (key_1, key_2) = split(key) and key_1 the prior draw's.
      model_fn: ``model_fn(x_t, t, **cond)``.
      path: the Gaussian path the model was trained on.
      shape: (batch, ...) of the samples.
      num_steps: number of reverse steps N; defaults to T for a DiscreteVPPath.
      variance: 'small' (beta-tilde) or 'large' (beta).
      prediction: what ``model_fn`` outputs.
      clip_x0: clip predicted x_0 to [-1, 1].
      x_init: the state at t_max instead of a prior draw (its dtype is the state's).
      spacing: the grid's spacing (:func:`gendiff.paths.grid.time_grid`), 'time' by default.
      denoise_final: end with the model's x_0 prediction at t_min (see above).
      dtype: the state dtype when x_init is None (default float32).
      **cond: conditioning for ``model_fn`` (e.g. ``y=labels``).

    Returns:
      Samples of the given shape.

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_schedule("linear", 1000)
      >>> ancestral_sample(key, model_fn, path, (16, 8, 8, 1)).shape
      (16, 8, 8, 1)
    """
    check_prediction(prediction)
    reverse_variance(path, jnp.zeros(1), jnp.ones(1), variance)  # validates `variance` early
    if num_steps is None:
        if not isinstance(path, DiscreteVPPath):
            raise ValueError("num_steps is required for a continuous-time path.")
        num_steps = path.num_steps
    check_count("num_steps", num_steps)
    batch = shape[0]
    key_init, key_steps = jax.random.split(key)
    x = initial_state(key_init, path, shape, x_init, dtype)
    num_noisy = num_steps - 1 if denoise_final else num_steps
    if num_noisy > 0:
        times = time_grid(path, num_noisy, spacing, dtype=x.dtype)
    else:
        times = jnp.full((1,), path.t_max, x.dtype)

    def step(x, inputs):
        i, t, s = inputs
        x = ancestral_step(
            jax.random.fold_in(key_steps, i),
            model_fn,
            path,
            x,
            jnp.full((batch,), s),
            jnp.full((batch,), t),
            variance=variance,
            prediction=prediction,
            clip_x0=clip_x0,
            **cond,
        )
        return x.astype(times.dtype), None

    # Step indices count down to 1 + denoise_final, as in Algorithm 2 (where step 1 is the last).
    index = jnp.arange(num_steps, num_steps - num_noisy, -1)
    x, _ = jax.lax.scan(step, x, (index, times[:-1], times[1:]))
    if denoise_final:
        x = predict_x0(
            model_fn,
            path,
            x,
            jnp.full((batch,), times[-1]),
            prediction=prediction,
            clip_x0=clip_x0,
            **cond,
        )
    return x
