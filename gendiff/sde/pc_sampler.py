"""The predictor-corrector sampler of the reverse SDE (Song et al. 2021, Algorithms 1-5).

On the grid t_0 = t_max > t_1 > ... > t_N = t_min, each step from t = t_i to s = t_{i+1}
first runs the corrector (Langevin MCMC at the fixed time t), then the predictor (one step
of a reverse-time SDE solver from t to s), in the order of Song et al.'s code. Everything is
generic in the path: the coefficients of one step come from the transition
q(x_t | x_s) = N(a x_s, G^2 I) with a = alpha_t / alpha_s and G^2 = sigma_{t|s}^2.

Predictors (h = t - s > 0, z ~ N(0, I), score = s(x, t)):

  euler_maruyama:     x_s = x - [f(t) x - g(t)^2 score] h + g(t) sqrt(h) z
  reverse_diffusion:  x_s = x - (a - 1) x + G^2 score + G z          (Song et al., App. E)
  ancestral:          x_s ~ q(x_s | x_t, x0_hat), x0_hat by Tweedie (gendiff.ddpm.ancestral_step)
  none:               x_s = x

reverse_diffusion discretises the forward SDE by its exact transition,
x_t = x_s + (a - 1) x_s + G z: for the VP path that is DDPM's sqrt(1 - beta_i) x + sqrt(beta_i) z,
for VE it is x + sqrt(sigma_t^2 - sigma_s^2) z, as in Song et al. (for sub-VP their code falls
back to Euler-Maruyama coefficients; here it uses the exact transition as well). ancestral is
DDPM's step with the posterior ('small') variance on every path; for VE it is Song et al.'s
ancestral predictor, for VP theirs uses the 'large' variance beta_i instead.

Corrector 'langevin' (Song et al., Algorithm 4 for VE, 5 for VP): for j = 1..M,
  x <- x + e score + sqrt(2 e) z,   e = 2 r (snr ||z|| / ||score||)^2,
with the norms averaged over the batch (as in their code) and r = a^2 of the current step: for
DDPM's VP this is 1 - beta_i, for VE it is 1, as in the paper.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.ddpm.ancestral import ancestral_step
from gendiff.ddpm.posterior import transition_variance
from gendiff.paths.base import GaussianPath
from gendiff.score.langevin import langevin_step
from gendiff.sde.drifts import diffusion, reverse_drift
from gendiff.sde.grid import check_num_steps, time_grid
from gendiff.utils import right_broadcast

ScoreFn = Callable[..., jax.Array]

PREDICTORS = ("euler_maruyama", "reverse_diffusion", "ancestral", "none")
CORRECTORS = ("langevin", "none")


def _noise(key: jax.Array, x: jax.Array) -> jax.Array:
    return jax.random.normal(key, x.shape, x.dtype)


def predictor_step(
    key: jax.Array,
    score_fn: ScoreFn,
    path: GaussianPath,
    x: jax.Array,
    s: jax.Array,
    t: jax.Array,
    predictor: str,
    **cond,
) -> jax.Array:
    """One reverse-time step from t to s < t (each of shape (batch,)) by the named predictor."""
    if predictor == "none":
        return x
    if predictor == "ancestral":
        # score_fn is a model of 'score' prediction; x0 is not clipped (data need not be in [-1, 1]).
        return ancestral_step(
            key, score_fn, path, x, s, t, prediction="score", clip_x0=False, **cond
        )
    z = _noise(key, x)
    if predictor == "euler_maruyama":
        h = right_broadcast(t - s, x)
        g = right_broadcast(diffusion(path, t), x)
        return x - reverse_drift(path, score_fn, x, t, **cond) * h + g * jnp.sqrt(h) * z
    if predictor == "reverse_diffusion":
        a = right_broadcast(path.alpha(t) / path.alpha(s), x)
        g2 = right_broadcast(transition_variance(path, s, t), x)
        return x - (a - 1.0) * x + g2 * score_fn(x, t, **cond) + jnp.sqrt(g2) * z
    raise ValueError(f"Unknown predictor {predictor!r}; expected one of {PREDICTORS}.")


def _batch_mean_norm(v: jax.Array) -> jax.Array:
    return jnp.mean(jnp.linalg.norm(v.reshape(v.shape[0], -1), axis=-1))


def langevin_corrector(
    key: jax.Array,
    score_fn: ScoreFn,
    path: GaussianPath,
    x: jax.Array,
    s: jax.Array,
    t: jax.Array,
    *,
    snr: float,
    num_steps: int,
    **cond,
) -> jax.Array:
    """num_steps Langevin steps at time t with the signal-to-noise step rule (module docstring).

    s < t is the next grid time, which sets r = (alpha_t / alpha_s)^2.
    """
    r = right_broadcast((path.alpha(t) / path.alpha(s)) ** 2, x)

    def step(x, j):
        key_j = jax.random.fold_in(key, j)
        score = score_fn(x, t, **cond)
        # ||z|| of the noise langevin_step will draw with the same key.
        z_norm = _batch_mean_norm(_noise(key_j, x))
        step_size = 2.0 * r * (snr * z_norm / _batch_mean_norm(score)) ** 2
        return langevin_step(key_j, score, x, step_size), None

    x, _ = jax.lax.scan(step, x, jnp.arange(num_steps))
    return x


def tweedie_denoise(
    score_fn: ScoreFn, path: GaussianPath, x: jax.Array, t: jax.Array, **cond
) -> jax.Array:
    """E[x_0 | x_t] = (x_t + sigma_t^2 s(x_t, t)) / alpha_t (Tweedie's formula)."""
    alpha = right_broadcast(path.alpha(t), x)
    sigma2 = right_broadcast(path.sigma(t) ** 2, x)
    return (x + sigma2 * score_fn(x, t, **cond)) / alpha


def pc_sample(
    key: jax.Array,
    score_fn: ScoreFn,
    path: GaussianPath,
    shape: tuple[int, ...],
    *,
    num_steps: int,
    predictor: str = "reverse_diffusion",
    corrector: str = "langevin",
    snr: float = 0.16,
    corrector_steps: int = 1,
    denoise: bool = True,
    **cond,
) -> jax.Array:
    """Samples the reverse SDE from x ~ N(0, sigma(t_max)^2 I) down to t_min by predictor-corrector.

    The loop over the grid t_max = t_0 > ... > t_N = t_min is one ``lax.scan``; jit it with
    ``static_argnames=('score_fn', 'shape', 'num_steps', 'predictor', 'corrector',
    'corrector_steps', 'denoise')``.

    Args:
      key: PRNG key; step i uses ``fold_in(key, i)`` (split between predictor and corrector).
      score_fn: ``score_fn(x, t, **cond)`` ~ grad log p_t(x), t of shape (batch,).
      path: the Gaussian path.
      shape: (batch, ...) of the samples.
      num_steps: N >= 1 grid steps.
      predictor: one of :data:`PREDICTORS`.
      corrector: one of :data:`CORRECTORS`.
      snr: the corrector's signal-to-noise ratio (0.16 is Song et al.'s default).
      corrector_steps: M >= 1 Langevin steps per grid time.
      denoise: return Tweedie's E[x_0 | x_{t_min}] instead of x_{t_min}.
      **cond: conditioning passed to ``score_fn``.

    Returns:
      Samples of the given shape.

    Example:
      >>> x = pc_sample(key, score_fn, VEPath(), (64, 2), num_steps=500,
      ...               predictor="reverse_diffusion", corrector="langevin")
    """
    if predictor not in PREDICTORS:
        raise ValueError(f"Unknown predictor {predictor!r}; expected one of {PREDICTORS}.")
    if corrector not in CORRECTORS:
        raise ValueError(f"Unknown corrector {corrector!r}; expected one of {CORRECTORS}.")
    check_num_steps(num_steps)
    if corrector_steps < 1:
        raise ValueError(f"corrector_steps must be >= 1, got {corrector_steps}.")
    batch = shape[0]
    ts = time_grid(path.t_max, path.t_min, num_steps)
    key_init, key_steps = jax.random.split(key)

    def step(x, inputs):
        i, t, s = inputs
        t, s = jnp.full((batch,), t), jnp.full((batch,), s)
        key_corrector, key_predictor = jax.random.split(jax.random.fold_in(key_steps, i))
        if corrector == "langevin":
            x = langevin_corrector(
                key_corrector, score_fn, path, x, s, t, snr=snr, num_steps=corrector_steps, **cond
            )
        x = predictor_step(key_predictor, score_fn, path, x, s, t, predictor, **cond)
        return x, None

    x = path.prior_sample(key_init, shape)
    x, _ = jax.lax.scan(step, x, (jnp.arange(num_steps), ts[:-1], ts[1:]))
    if denoise:
        x = tweedie_denoise(score_fn, path, x, jnp.full((batch,), ts[-1]), **cond)
    return x
