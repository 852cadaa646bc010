"""The DDIM sampler (Song et al. 2021, eq. 12 over a sub-sequence of times) as one ``lax.scan``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.ddim.respacing import timesteps
from gendiff.ddim.step import ModelFn, check_eta, ddim_step
from gendiff.paths.base import GaussianPath
from gendiff.sampling import check_count, check_prediction, model_x0_eps, state_dtype
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
    denoise_final: bool | None = None,
    rho: float = 7.0,
    dtype=None,
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
        Its dtype is the state's.
      denoise_final: None (end on end_time(path)), True or False (see above).
      rho: the exponent of the 'karras' spacing.
      dtype: the state dtype when x_init is None (default float32).
      **cond: conditioning for ``model_fn`` (e.g. ``y=labels``).

    Returns:
      Samples at the grid's end time (t = 0 on a DiscreteVPPath, t_min otherwise).

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_schedule("linear", 1000)
      >>> ddim_sample(key, model_fn, path, (16, 8, 8, 1), num_steps=50).shape
      (16, 8, 8, 1)
    """
    check_prediction(prediction)
    check_eta(eta)
    check_count("num_steps", num_steps)
    dtype = state_dtype(x_init, dtype)
    t_end, num_grid_steps = None, num_steps
    if denoise_final is not None:
        t_end, num_grid_steps = path.t_min, num_steps - int(bool(denoise_final))
    if num_grid_steps > 0:
        ts = timesteps(path, num_grid_steps, spacing, t_end=t_end, rho=rho, dtype=dtype)
    else:  # a single evaluation: the x_0 prediction at t_max
        ts = jnp.full((1,), path.t_max, dtype)
    batch = shape[0]
    if key is None:
        if x_init is None:
            raise ValueError("key may be None only when x_init is given (and eta is 0).")
        key_steps = None
    else:
        key_init, key_steps = jax.random.split(key)
    if x_init is None:
        z = jax.random.normal(key_init, shape, dtype)
        x = right_broadcast(path.sigma(jnp.full((batch,), ts[0])), z) * z
    else:
        if tuple(x_init.shape) != tuple(shape):
            raise ValueError(f"x_init must have shape {tuple(shape)}, got {x_init.shape}.")
        x = jnp.asarray(x_init, dtype)

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
        return x.astype(dtype), None

    n = ts.shape[0] - 1
    x, _ = jax.lax.scan(step, x, (jnp.arange(num_steps, num_steps - n, -1), ts[:-1], ts[1:]))
    if denoise_final:
        x = model_x0_eps(model_fn, path, x, ts[-1], prediction, clip_x0, **cond)[0]
    return x
