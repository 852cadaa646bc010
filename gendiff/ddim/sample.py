"""The DDIM sampler (Song et al. 2021, eq. 12 over a sub-sequence of times) as one ``lax.scan``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.ddim.respacing import timesteps
from gendiff.ddim.step import ModelFn, check_eta, ddim_step
from gendiff.parameterization import check_prediction
from gendiff.paths.base import GaussianPath
from gendiff.utils import right_broadcast


def ddim_sample(
    key: jax.Array | None,
    model_fn: ModelFn,
    path: GaussianPath,
    shape: tuple[int, ...],
    *,
    num_steps: int,
    eta=0.0,
    spacing: str = "uniform",
    prediction: str = "eps",
    clip_x0: bool = False,
    x_init: jax.Array | None = None,
    **cond,
) -> jax.Array:
    """Draws samples with num_steps DDIM steps over the grid of :func:`~gendiff.ddim.timesteps`.

    The start x_{t_N} is ``x_init`` or a draw from N(0, sigma(t_N)^2 I); step i = N..1 moves
    from t_i to t_{i-1} with noise key ``fold_in(key, i)`` (after one split for the start), the
    same convention as :func:`gendiff.ddpm.ancestral_sample`, so that eta = 1 on the full grid of
    a DiscreteVPPath reproduces DDPM's ancestral samples. With eta = 0 the map from x_init to the
    sample is deterministic (decode what :func:`~gendiff.ddim.ddim_invert` encoded).
    ``jax.jit(ddim_sample, static_argnums=(1, 3), static_argnames=('num_steps', 'spacing',
    'prediction', 'clip_x0'))`` compiles one program, and it can be vmapped over keys.

    Args:
      key: PRNG key; may be None when eta is 0 and ``x_init`` is given.
      model_fn: ``model_fn(x_t, t, **cond)``.
      path: the Gaussian path the model was trained on.
      shape: (batch, ...) of the samples.
      num_steps: the number of DDIM steps N.
      eta: the noise scale in [0, 1] (0: deterministic DDIM, 1: DDPM-like).
      spacing: 'uniform', 'quadratic' or 'trailing'.
      prediction: what ``model_fn`` outputs.
      clip_x0: clip the x_0 estimate to [-1, 1] at every step.
      x_init: the state at the first grid time, of the given shape; drawn from the prior if None.
      **cond: conditioning for ``model_fn`` (e.g. ``y=labels``).

    Returns:
      Samples at the grid's end time (t = 0 on a DiscreteVPPath, t_min otherwise).

    Example:
      >>> path = DiscreteVPPath.from_schedule("linear", 1000)
      >>> x = ddim_sample(key, model_fn, path, (16, 8, 8, 1), num_steps=50)
    """
    check_prediction(prediction)
    check_eta(eta)
    ts = timesteps(path, num_steps, spacing)
    batch = shape[0]
    if key is None:
        if x_init is None:
            raise ValueError("key may be None only when x_init is given (and eta is 0).")
        key_steps = None
    else:
        key_init, key_steps = jax.random.split(key)
    if x_init is None:
        sigma_start = path.sigma(jnp.full((batch,), ts[0]))
        x = right_broadcast(sigma_start, jnp.zeros(shape)) * jax.random.normal(key_init, shape)
    else:
        if tuple(x_init.shape) != tuple(shape):
            raise ValueError(f"x_init must have shape {tuple(shape)}, got {x_init.shape}.")
        x = x_init

    def step(x, inputs):
        i, t, s = inputs
        step_key = None if key_steps is None else jax.random.fold_in(key_steps, i)
        x = ddim_step(
            step_key,
            model_fn,
            path,
            x,
            jnp.full((batch,), s),
            jnp.full((batch,), t),
            eta=eta,
            prediction=prediction,
            clip_x0=clip_x0,
            **cond,
        )
        return x, None

    x, _ = jax.lax.scan(step, x, (jnp.arange(num_steps, 0, -1), ts[:-1], ts[1:]))
    return x
