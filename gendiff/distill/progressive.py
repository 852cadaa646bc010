"""Progressive distillation of a diffusion sampler (Salimans & Ho 2022, Algorithm 2).

A student is trained so that one deterministic DDIM step of its own matches two DDIM steps
of the teacher. From z_t on the student's grid, the teacher goes t -> t' -> t'' (half steps
of the student's step t -> t''); the student's target is the x_0 for which a single DDIM step

  z_{t''} = alpha_{t''} x_0 + sigma_{t''} (z_t - alpha_t x_0) / sigma_t

lands exactly on the teacher's z_{t''}. Solving this linear equation for x_0 gives

  x~ = (z_{t''} - (sigma_{t''} / sigma_t) z_t) / (alpha_{t''} - (sigma_{t''} / sigma_t) alpha_t).

Each round initialises the student from the teacher and halves the number of steps N; the
trained student becomes the next round's teacher.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.ddim import ddim_step, timesteps
from gendiff.parameterization import check_prediction, to_x0_eps
from gendiff.paths.base import GaussianPath
from gendiff.paths.discrete import DiscreteVPPath
from gendiff.utils import mean_over_non_batch, right_broadcast

ModelFn = Callable[..., jax.Array]


def student_target(
    path: GaussianPath, z_t: jax.Array, t: jax.Array, z_s: jax.Array, s: jax.Array
) -> jax.Array:
    """The x_0 prediction x~ with which one DDIM step from (z_t, t) reaches z_s at s < t.

    Args:
      path: the Gaussian path.
      z_t: the student's input at time t, (batch, ...).
      t: (batch,) times of z_t.
      z_s: (batch, ...) the point to reach (the teacher's two-step result).
      s: (batch,) earlier times, s < t.

    Returns:
      x~ of the shape of z_t.

    Example:
      >>> from gendiff.ddim import ddim_step
      >>> from gendiff.paths import VPPath
      >>> path, z_t, z_s = VPPath(), jnp.ones((2, 3)), jnp.zeros((2, 3))
      >>> s, t = jnp.full(2, 0.4), jnp.full(2, 0.5)
      >>> x_tilde = student_target(path, z_t, t, z_s, s)
      >>> z = ddim_step(None, lambda x, t: x_tilde, path, z_t, s, t, prediction="x0")
      >>> float(jnp.abs(z - z_s).max()) < 1e-5  # one student step lands on the teacher's z_s
      True
    """
    ratio = path.sigma(s) / path.sigma(t)  # sigma_{t''} / sigma_t
    denominator = path.alpha(s) - ratio * path.alpha(t)
    return (z_s - right_broadcast(ratio, z_t) * z_t) / right_broadcast(denominator, z_t)


def check_num_student_steps(path: GaussianPath, num_student_steps: int) -> None:
    """num_student_steps must be a positive int; on a DiscreteVPPath 2N must divide T.

    The divisibility keeps the teacher's half steps on the discrete path's integer steps,
    where the teacher was trained.

    Example:
      >>> from gendiff.distill import check_num_student_steps
      >>> from gendiff.paths import DiscreteVPPath, VPPath
      >>> path = DiscreteVPPath.from_schedule("cosine", 1000)
      >>> check_num_student_steps(path, 250), check_num_student_steps(VPPath(), 3)
      (None, None)
      >>> check_num_student_steps(path, 3)  # 6 does not divide 1000
      Traceback (most recent call last):
      ValueError: On a DiscreteVPPath with T = 1000 steps, 2 * num_student_steps must divide T ...
    """
    if isinstance(num_student_steps, bool) or not isinstance(num_student_steps, int):
        raise TypeError(f"num_student_steps must be an int, got {num_student_steps!r}.")
    if num_student_steps < 1:
        raise ValueError(f"num_student_steps must be >= 1, got {num_student_steps}.")
    if isinstance(path, DiscreteVPPath) and path.num_steps % (2 * num_student_steps):
        raise ValueError(
            f"On a DiscreteVPPath with T = {path.num_steps} steps, 2 * num_student_steps must "
            f"divide T (the teacher's times are integer steps); got num_student_steps = "
            f"{num_student_steps}."
        )


def progressive_distillation_loss(
    key: jax.Array,
    student_fn: ModelFn,
    teacher_fn: ModelFn,
    x0: jax.Array,
    path: GaussianPath,
    *,
    num_student_steps: int,
    prediction: str = "v",
    **cond,
) -> tuple[jax.Array, dict]:
    """Salimans & Ho's loss for a student taking ``num_student_steps`` DDIM steps.

    With N = num_student_steps, the teacher's DDIM grid of 2N equal steps from t_max down to
    the path's end time (:func:`gendiff.ddim.timesteps` with spacing 'trailing': t = i / 2N on a
    DiscreteVPPath) holds the student's grid of N steps at every other point; sample from the
    student with ``ddim_sample(..., num_steps=N, spacing="trailing", eta=0)``, which visits
    exactly the times it was trained at. For each example:

      t = a uniformly drawn student time (one of the N upper ends of its steps),
      t', t'' = the next two teacher times (t'' = the student's next time),
      z_t = alpha_t x_0 + sigma_t eps,                            eps ~ N(0, I)
      z_{t'} = DDIM(teacher; z_t, t -> t'),  z_{t''} = DDIM(teacher; z_{t'}, t' -> t''),
      x~ = (z_{t''} - (sigma_{t''}/sigma_t) z_t) / (alpha_{t''} - (sigma_{t''}/sigma_t) alpha_t),
      loss = w(t) || x~ - x0_hat_student(z_t, t) ||^2   (mean over dimensions, then batch).

    The weight is Salimans & Ho's "truncated SNR" w(t) = max(alpha_t^2 / sigma_t^2, 1): the
    x_0 error weighted by the SNR (the eps error of the student) where the SNR is above 1, and
    the plain x_0 error where the image is mostly noise, so the weight does not vanish near
    t = 1 as the SNR weighting does. The teacher's outputs are held fixed
    (``jax.lax.stop_gradient``); only ``student_fn`` receives gradients.

    Args:
      key: PRNG key (times and noise).
      student_fn: ``student_fn(x, t, **cond)``, the network being trained.
      teacher_fn: ``teacher_fn(x, t, **cond)``, same parameterisation; in round 1 the trained
        diffusion model, later the previous round's student.
      x0: clean data, (batch, ...).
      path: the Gaussian path of the teacher.
      num_student_steps: N >= 1, the student's number of sampling steps (a Python int); on a
        DiscreteVPPath 2N must divide its T.
      prediction: what both networks output ('v' as in Salimans & Ho, or 'eps', 'x0', ...).
      **cond: conditioning passed to both networks (e.g. ``y=labels``).

    Returns:
      (loss, metrics) with metrics 'loss' and 'x0_mse' (the unweighted squared error).

    Example:
      >>> from gendiff.paths import VPPath
      >>> x0 = jnp.zeros((8, 2))
      >>> loss, metrics = progressive_distillation_loss(
      ...     key, model_fn, model_fn, x0, VPPath(), num_student_steps=4)
      >>> loss.shape
      ()
    """
    check_prediction(prediction)
    check_num_student_steps(path, num_student_steps)
    batch = x0.shape[0]
    key_step, key_eps = jax.random.split(key)
    teacher_times = timesteps(path, 2 * num_student_steps, "trailing")  # decreasing, (2N + 1,)
    j = 2 * jax.random.randint(key_step, (batch,), 0, num_student_steps)  # student time index
    t, t_mid, t_next = teacher_times[j], teacher_times[j + 1], teacher_times[j + 2]
    z_t, _ = path.sample_marginal(key_eps, x0, t)

    # Two deterministic teacher steps t -> t' -> t''.
    teacher_step = lambda z, s, t: ddim_step(
        None, teacher_fn, path, z, s, t, eta=0.0, prediction=prediction, **cond
    )
    z_next = jax.lax.stop_gradient(teacher_step(teacher_step(z_t, t_mid, t), t_next, t_mid))
    x_tilde = student_target(path, z_t, t, z_next, t_next)

    x0_student, _ = to_x0_eps(path, student_fn(z_t, t, **cond), z_t, t, prediction)
    squared_error = mean_over_non_batch((x_tilde - x0_student) ** 2)
    weight = jnp.maximum(jnp.exp(path.log_snr(t)), 1.0)  # truncated SNR, max(SNR, 1)
    loss = jnp.mean(weight * squared_error)
    return loss, {"loss": loss, "x0_mse": jnp.mean(squared_error)}
