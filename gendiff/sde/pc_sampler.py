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
and r = a^2 of the current step: for DDPM's VP this is 1 - beta_i, for VE it is 1, as in the paper.
The step is computed for each example on its own (Song et al.'s code averages the norms over the
batch, which makes an example's sample depend on its batch mates), by one of two rules:

  'noise' (default)  e = 2 r (snr sigma_t)^2: the rule's value when ||z||^2 = D and
                     ||score||^2 = ||eps||^2 / sigma_t^2 = D / sigma_t^2, their expectations for
                     data much narrower than the noise. It does not depend on the state, so the
                     corrector keeps the Langevin chain's stationary law (up to the step's bias).
  'norms'            e from the example's own ||z|| and ||score||. In high dimension the norms
                     concentrate and both rules agree; in low dimension the state-dependent step
                     biases the chain (on 2-D Gaussian data it inflates the std about twofold).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.ddpm.ancestral import ancestral_step
from gendiff.ddpm.posterior import transition_variance
from gendiff.paths.base import GaussianPath
from gendiff.paths.grid import time_grid
from gendiff.sampling import check_count, initial_state
from gendiff.score.langevin import langevin_step
from gendiff.sde.drifts import diffusion, reverse_drift, score_fn_from_model
from gendiff.utils import right_broadcast

ScoreFn = Callable[..., jax.Array]

PREDICTORS = ("euler_maruyama", "reverse_diffusion", "ancestral", "none")
CORRECTORS = ("langevin", "none")
STEP_RULES = ("noise", "norms")


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


def _norms(v: jax.Array) -> jax.Array:
    """||v|| of each example, shape (batch,)."""
    return jnp.linalg.norm(v.reshape(v.shape[0], -1), axis=-1)


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
    step_rule: str = "noise",
    **cond,
) -> jax.Array:
    """num_steps Langevin steps at time t with the signal-to-noise step rule (module docstring).

    s < t is the next grid time, which sets r = (alpha_t / alpha_s)^2; the step size is computed
    for each example by ``step_rule``, 'noise' (2 r (snr sigma_t)^2) or 'norms'
    (2 r (snr ||z|| / ||score||)^2 from the example's own norms).
    """
    if step_rule not in STEP_RULES:
        raise ValueError(f"Unknown step_rule {step_rule!r}; expected one of {STEP_RULES}.")
    r = right_broadcast((path.alpha(t) / path.alpha(s)) ** 2, x)
    sigma_t = right_broadcast(path.sigma(t), x)

    def step(x, j):
        key_j = jax.random.fold_in(key, j)
        score = score_fn(x, t, **cond)
        if step_rule == "norms":
            # ||z|| of the noise langevin_step will draw with the same key.
            ratio = right_broadcast(_norms(_noise(key_j, x)) / _norms(score), x)
        else:
            ratio = sigma_t
        step_size = 2.0 * r * (snr * ratio) ** 2
        return langevin_step(key_j, score, x, step_size), None

    x, _ = jax.lax.scan(step, x, jnp.arange(num_steps))
    return x


def tweedie_denoise(
    score_fn: ScoreFn, path: GaussianPath, x: jax.Array, t: jax.Array, **cond
) -> jax.Array:
    """E[x_0 | x_t] = (x_t + sigma_t^2 s(x_t, t)) / alpha_t (Tweedie's formula).

    Example:
      >>> from gendiff.paths import VPPath
      >>> from gendiff.sde import tweedie_denoise
      >>> path = VPPath()  # data x_0 = 0.7: p_t = N(0.7 alpha_t, sigma_t^2)
      >>> score_fn = lambda x, t: -(x - 0.7 * path.alpha(t)[:, None]) / path.sigma(t)[:, None] ** 2
      >>> x_t = jax.random.normal(key, (3, 2))
      >>> tweedie_denoise(score_fn, path, x_t, jnp.full(3, 0.4)).round(5).tolist()[0]
      [0.7, 0.7]
    """
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
    step_rule: str = "noise",
    prediction: str = "score",
    spacing: str = "time",
    x_init: jax.Array | None = None,
    clip_x0: bool = False,
    dtype=None,
    denoise_final: bool | None = None,
    **cond,
) -> jax.Array:
    """Samples the reverse SDE from x ~ N(0, sigma(t_max)^2 I) down to t_min by predictor-corrector.

    The loop over the grid t_max = t_0 > ... > t_N = t_min (``time_grid(path, N, spacing)``) is
    one ``lax.scan``; jit it with ``static_argnames=('score_fn', 'shape', 'num_steps',
    'predictor', 'corrector', 'corrector_steps', 'denoise')``. A step evaluates the model
    corrector_steps times (Langevin) plus once (the predictor), so a run makes
    N (corrector_steps + 1) evaluations, plus one for the final denoising.

    Args:
      key: PRNG key; step i uses ``fold_in(key, i)`` (split between predictor and corrector).
      score_fn: ``score_fn(x, t, **cond)`` ~ grad log p_t(x), t of shape (batch,); or a model of
        the parameterisation ``prediction``.
      path: the Gaussian path.
      shape: (batch, ...) of the samples.
      num_steps: N >= 1 grid steps.
      predictor: one of :data:`PREDICTORS`.
      corrector: one of :data:`CORRECTORS`.
      snr: the corrector's signal-to-noise ratio (0.16 is Song et al.'s default).
      corrector_steps: M >= 1 Langevin steps per grid time.
      step_rule: the corrector's step rule per example, 'noise' or 'norms' (module docstring).
      denoise: return Tweedie's E[x_0 | x_{t_min}] (the model's x_0 prediction at t_min) instead of
        x_{t_min}.
      prediction: what ``score_fn`` outputs ('score' by default, or 'eps', 'x0', 'v', 'velocity').
      spacing: the grid's spacing (:func:`gendiff.paths.grid.time_grid`), 'time' by default.
      x_init: the state at t_max instead of a prior draw (its dtype is the state's).
      clip_x0: clip the final x_0 prediction to [-1, 1].
      dtype: the state dtype when x_init is None (default float32).
      denoise_final: the registry's name for ``denoise``; overrides it when given.
      **cond: conditioning passed to ``score_fn``.

    Returns:
      Samples of the given shape.

    Example:
      >>> from gendiff.paths import VEPath
      >>> score_fn = lambda x, t: -x / (1 + VEPath().sigma(t)[:, None] ** 2)  # data ~ N(0, I)
      >>> x = pc_sample(key, score_fn, VEPath(), (64, 2), num_steps=500,
      ...               predictor="reverse_diffusion", corrector="langevin")
      >>> x.shape
      (64, 2)
    """
    if predictor not in PREDICTORS:
        raise ValueError(f"Unknown predictor {predictor!r}; expected one of {PREDICTORS}.")
    if corrector not in CORRECTORS:
        raise ValueError(f"Unknown corrector {corrector!r}; expected one of {CORRECTORS}.")
    check_count("num_steps", num_steps)
    check_count("corrector_steps", corrector_steps)
    if step_rule not in STEP_RULES:
        raise ValueError(f"Unknown step_rule {step_rule!r}; expected one of {STEP_RULES}.")
    if denoise_final is not None:
        denoise = denoise_final
    score_fn = score_fn_from_model(path, score_fn, prediction)
    batch = shape[0]
    key_init, key_steps = jax.random.split(key)
    x = initial_state(key_init, path, shape, x_init, dtype)
    ts = time_grid(path, num_steps, spacing, dtype=x.dtype)

    def step(x, inputs):
        i, t, s = inputs
        t, s = jnp.full((batch,), t), jnp.full((batch,), s)
        key_corrector, key_predictor = jax.random.split(jax.random.fold_in(key_steps, i))
        if corrector == "langevin":
            x = langevin_corrector(
                key_corrector, score_fn, path, x, s, t, snr=snr, num_steps=corrector_steps,
                step_rule=step_rule, **cond,
            )  # fmt: skip
        x = predictor_step(key_predictor, score_fn, path, x, s, t, predictor, **cond)
        return x.astype(ts.dtype), None

    x, _ = jax.lax.scan(step, x, (jnp.arange(num_steps), ts[:-1], ts[1:]))
    if denoise:
        x = tweedie_denoise(score_fn, path, x, jnp.full((batch,), ts[-1]), **cond)
        if clip_x0:
            x = jnp.clip(x, -1.0, 1.0)
    return x
