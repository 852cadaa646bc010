"""Exact log-likelihoods through the probability-flow ODE (Song et al. 2021, App. D).

The probability-flow ODE dx/dt = v(x, t) = f(t) x - 1/2 g(t)^2 s(x, t) carries p_t to p_1, and
along a trajectory the instantaneous change of variables (Chen et al. 2018; Grathwohl et al.
2019) gives d/dt log p_t(x(t)) = -div v(x(t), t). Integrating from the data side t_min to t_max:

  log p_{t_min}(x) = log p_{t_max}(x(t_max)) + int_{t_min}^{t_max} div v(x(t), t) dt,

where p_{t_max} is replaced by the path's prior N(0, sigma(t_max)^2 I) (exact as alpha(t_max)
-> 0). The augmented state [x, int div v] is integrated with an adaptive Runge-Kutta solver (diffrax,
through :func:`gendiff.sde.ode.solve_ode`) with step-size control per example: the solve is
vmapped over the batch, so each example takes its own steps and its value does not depend on its
batch mates. The divergence is exact (D jvps per evaluation) or Hutchinson's estimate
v^T (dv/dx) v with probes drawn once and held fixed for the whole integration (FFJORD), which keeps
the integrand a smooth function of t and the estimate of log p unbiased. The default,
``divergence='auto'``, is exact for D <= :data:`EXACT_DIVERGENCE_MAX_DIM` (16) dimensions and
Hutchinson above (images: the exact trace would cost D jvps per evaluation).

Accuracy: with rtol = atol = 1e-5 the error on a Gaussian with the exact score is ~1e-5
nats/dim on VPPath. DiscreteVPPath interpolates log alpha_bar linearly between its steps, so
f(t) and g(t)^2 jump at every step (by ~20% near t_min for the linear schedule); the adaptive
step control does not see these jumps and the error is ~5e-4 nats/dim at the same tolerances.

Bits/dim convention. Data take ``num_levels`` equally spaced values on [-1, 1], the grid of
gendiff.ddpm.vlb's discrete bound (256 for 8-bit images, 17 for scikit-learn's digits). Each
value owns the bin [x - delta, x + delta] with delta = 1 / (num_levels - 1), so the discrete
probability is P(x) = int_bin p(y) dy = (2 delta)^D E_u[p(x + u)], u ~ U(-delta, delta)^D, and by
Jensen's inequality

  -log P(x) <= -E_u log p(x + u) - D log(2 delta),     bits/dim = that / (D ln 2).

The offset -D log(2 delta) is minus the log-volume of a bin. An affine rescaling of the data
multiplies the density by 1/|a|^D and the bin volume by |a|^D, so bits/dim is the same on any
scale: score_sde's convention ((k + u) / 256 on [0, 1], offset D log 256, i.e. +8 bits/dim)
is the image of this one under y -> (y + 1 + delta) / (2 + 2 delta), which maps our bins onto
[k / L, (k + 1) / L) for L = num_levels, and gives the same number. As with the discrete
bound, a uniform density over the bins scores exactly log2(num_levels) bits/dim.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.distributions import standard_normal_log_prob
from gendiff.paths.base import GaussianPath
from gendiff.score.divergence import (
    PROBES,
    exact_divergence,
    flatten_score_fn,
    sample_probes,
    score_and_quadratic_forms,
)
from gendiff.sde.drifts import probability_flow_drift, score_fn_from_model
from gendiff.sde.ode import ADAPTIVE_SOLVERS, check_solver, solve_ode
from gendiff.utils import sum_over_non_batch

ScoreFn = Callable[..., jax.Array]

DIVERGENCES = ("auto", "exact", "hutchinson")
# 'auto' uses the exact divergence up to this many dimensions per example, Hutchinson above.
EXACT_DIVERGENCE_MAX_DIM = 16
SOLVERS = tuple(ADAPTIVE_SOLVERS)


def _check_options(divergence: str, probe: str, solver: str, rtol: float, atol: float) -> None:
    if divergence not in DIVERGENCES:
        raise ValueError(f"Unknown divergence {divergence!r}; expected one of {DIVERGENCES}.")
    if probe not in PROBES:
        raise ValueError(f"Unknown probe type {probe!r}; expected one of {PROBES}.")
    check_solver(solver, SOLVERS)
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"rtol and atol must be positive, got rtol={rtol}, atol={atol}.")


def prior_log_prob(path: GaussianPath, x1: jax.Array) -> jax.Array:
    """log N(x_1; 0, sigma(t_max)^2 I) per example: the prior of the path, shape (batch,).

    Example:
      >>> from gendiff.paths import VPPath
      >>> prior_log_prob(VPPath(), jnp.zeros((2, 3)))  # -3/2 log(2 pi)
      Array([-2.7568, -2.7568], dtype=float32)
    """
    sigma = path.sigma(jnp.asarray(path.t_max, x1.dtype))
    return sum_over_non_batch(standard_normal_log_prob(x1 / sigma) - jnp.log(sigma))


def velocity_and_divergence(
    score_fn: ScoreFn,
    path: GaussianPath,
    x: jax.Array,
    t: jax.Array,
    probes: jax.Array | None = None,
    **cond,
) -> tuple[jax.Array, jax.Array]:
    """The augmented vector field d/dt [x, int div v] = [v(x, t), div v(x, t)] at one time.

    Args:
      score_fn: ``score_fn(x, t, **cond)``.
      path: the Gaussian path.
      x: (batch, ...).
      t: scalar time.
      probes: None for the exact divergence, or (P, batch, D) fixed Hutchinson probes.
      **cond: conditioning passed to ``score_fn``.

    Returns:
      The velocity v (x's shape) and div v or its estimate, (batch,).

    Example:
      >>> from gendiff.paths import VPPath
      >>> v, div = velocity_and_divergence(lambda x, t: -x, VPPath(), jnp.ones((2, 3)), 0.5)
      >>> v.shape, div.shape
      ((2, 3), (2,))
    """
    t_batch = jnp.full((x.shape[0],), t, x.dtype)
    velocity = lambda y: probability_flow_drift(path, score_fn, y, t_batch, **cond)
    flat_velocity, x_flat = flatten_score_fn(velocity, x)
    if probes is None:
        v, div = exact_divergence(flat_velocity, x_flat)
    else:
        v, forms = score_and_quadratic_forms(flat_velocity, x_flat, probes)
        div = jnp.mean(forms, axis=0)
    return v.reshape(x.shape), div


def log_likelihood(
    key: jax.Array,
    score_fn: ScoreFn,
    path: GaussianPath,
    x: jax.Array,
    *,
    prediction: str = "score",
    divergence: str = "auto",
    probe: str = "rademacher",
    num_probes: int = 1,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    solver: str = "tsit5",
    max_steps: int = 4096,
    **cond,
) -> dict[str, jax.Array]:
    """log p_{t_min}(x) of the model whose score is ``score_fn``, by the probability-flow ODE.

    Each example is integrated with its own adaptive steps (the solve is vmapped over the batch),
    so its value is the same alone or in any batch. Jittable (close over ``score_fn`` and the
    string options) and vmappable over keys or batches.

    Args:
      key: PRNG key of the Hutchinson probes (unused for the exact divergence).
      score_fn: ``score_fn(x, t, **cond)`` -> grad log p_t(x), with t of shape (batch,), or a
        model of the parameterisation ``prediction``; it must treat examples independently.
      path: the Gaussian path; the ODE runs from ``path.t_min`` to ``path.t_max``.
      x: data, (batch, ...).
      prediction: what ``score_fn`` outputs ('score' by default, or 'eps', 'x0', 'v', 'velocity').
      divergence: 'auto' (exact up to EXACT_DIVERGENCE_MAX_DIM = 16 dimensions per example,
        Hutchinson above), 'exact' (D jvps per evaluation) or 'hutchinson' (``num_probes`` jvps).
      probe: Hutchinson probe distribution, 'rademacher', 'gaussian' or 'sphere'; the probes
        are ``sample_probes(key, (num_probes, batch, D), probe)``, fixed for the integration.
      num_probes: probes per example for 'hutchinson'.
      rtol, atol: tolerances of the PID step-size controller (RMS norm over one example's state).
      solver: 'tsit5', 'dopri5' or 'dopri8'.
      max_steps: the most solver steps before diffrax raises.
      **cond: conditioning passed to ``score_fn``; arrays whose first axis has the batch size are
        split with the examples, anything else is shared.

    Returns:
      Dict with 'log_prob' (batch,) = 'prior_log_prob' + 'delta_log_prob', where
      'prior_log_prob' (batch,) is log N(x_1; 0, sigma(t_max)^2 I) and 'delta_log_prob' (batch,)
      is int_{t_min}^{t_max} div v dt = log p_{t_min}(x) - log p_{t_max}(x_1); 'latent' the
      end point x_1 (x's shape); 'nfe' (batch,) evaluations of the augmented vector field that
      each example's solve used.

    Example:
      >>> score_fn = lambda x, t: -x  # p_t = N(0, I) for data ~ N(0, I) on a VP path
      >>> from gendiff.paths import VPPath
      >>> out = log_likelihood(jax.random.key(0), score_fn, VPPath(), jnp.zeros((4, 2)))
      >>> out["log_prob"]  # -log(2 pi) for every example
      Array([-1.8379, -1.8379, -1.8379, -1.8379], dtype=float32)
    """
    _check_options(divergence, probe, solver, rtol, atol)
    if num_probes < 1:
        raise ValueError(f"num_probes must be >= 1, got {num_probes}.")
    if x.ndim < 2:
        raise ValueError(f"x must have shape (batch, dim, ...), got shape {x.shape}.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"x must be a floating-point array, got dtype {x.dtype}.")
    batch, dim = x.shape[0], math.prod(x.shape[1:])
    if divergence == "auto":
        divergence = "exact" if dim <= EXACT_DIVERGENCE_MAX_DIM else "hutchinson"
    score = score_fn_from_model(path, score_fn, prediction)
    probes = None
    if divergence == "hutchinson":
        probes = sample_probes(key, (batch, num_probes, 1, dim), probe, x.dtype)
    cond_axes = jax.tree.map(
        lambda c: 0 if jnp.ndim(c) >= 1 and jnp.shape(c)[0] == batch else None, cond
    )

    def one_example(x_i, probes_i, cond_i):
        # A batch of one: its own adaptive steps.
        cond_i = jax.tree.map(lambda c, axis: c[None] if axis == 0 else c, cond_i, cond_axes)

        def augmented_field(state, t):
            return velocity_and_divergence(score, path, state[0], t[0], probes_i, **cond_i)

        (x1, delta), stats = solve_ode(
            (x_i[None], jnp.zeros((1,), x.dtype)),
            augmented_field,
            path.t_min,
            path.t_max,
            solver=solver,
            rtol=rtol,
            atol=atol,
            max_steps=max_steps,
            return_stats=True,
        )
        return x1[0], delta[0], stats["nfe"]

    x1, delta, nfe = jax.vmap(
        one_example, in_axes=(0, 0 if probes is not None else None, cond_axes)
    )(x, probes, cond)
    prior = prior_log_prob(path, x1)
    return {
        "log_prob": prior + delta,
        "prior_log_prob": prior,
        "delta_log_prob": delta,
        "latent": x1,
        "nfe": nfe,
    }


def dequantize(key: jax.Array, x: jax.Array, num_levels: int) -> jax.Array:
    """y = x + u, u ~ U(-delta, delta) with delta = 1 / (num_levels - 1): uniform over x's bin.

    Example:
      >>> from gendiff.sde import dequantize
      >>> x = jnp.zeros((10000, 1))  # 3 levels -1, 0, 1: delta = 1/2
      >>> u = dequantize(key, x, 3) - x
      >>> bool(jnp.all(jnp.abs(u) <= 0.5)), round(float(u.std()), 2)  # std delta / sqrt(3)
      (True, 0.29)
    """
    if num_levels < 2:
        raise ValueError(f"num_levels must be >= 2, got {num_levels}.")
    delta = 1.0 / (num_levels - 1)
    return x + jax.random.uniform(key, x.shape, x.dtype, -delta, delta)


def discrete_nll_bound(log_prob: jax.Array, dims: int, num_levels: int) -> jax.Array:
    """-log p(y) - D log(2 delta): the bound on -log P(x) from one dequantised y, in nats.

    Example:
      >>> from gendiff.sde import discrete_nll_bound
      >>> # a uniform density on [-1 - delta, 1 + delta]^3, delta = 1/255: 8 bits per dimension
      >>> log_prob = jnp.array([-3 * np.log(2 + 2 / 255)])
      >>> round(float(discrete_nll_bound(log_prob, 3, 256)[0] / (3 * np.log(2))), 5)
      8.0
    """
    if num_levels < 2:
        raise ValueError(f"num_levels must be >= 2, got {num_levels}.")
    return -log_prob - dims * math.log(2.0 / (num_levels - 1))


def bits_per_dim(
    key: jax.Array,
    score_fn: ScoreFn,
    path: GaussianPath,
    x: jax.Array,
    *,
    num_levels: int,
    **kwargs,
) -> dict[str, jax.Array]:
    """Uniformly dequantised bits/dim of discrete data (see the module docstring).

    ``key`` is split into (dequantisation key, probe key); one u is drawn per example, so
    averaging over a dataset averages the bound's Monte Carlo estimate as well.

    Args:
      key: PRNG key.
      score_fn: ``score_fn(x, t, **cond)``, as in :func:`log_likelihood`.
      path: the Gaussian path.
      x: data on the grid of ``num_levels`` values in [-1, 1], (batch, ...).
      num_levels: number of discrete data values (256 for 8-bit images).
      **kwargs: solver options and conditioning for :func:`log_likelihood`.

    Returns:
      :func:`log_likelihood`'s dict for the dequantised data, plus 'nll' (batch,), the bound
      on -log P(x) in nats, and 'bpd' (batch,) = nll / (D ln 2).

    Example:
      >>> from gendiff.paths import VPPath
      >>> score_fn = lambda x, t: -x  # data ~ N(0, I): p_t = N(0, I) at every t
      >>> x = jnp.zeros((4, 2))
      >>> out = bits_per_dim(key, score_fn, VPPath(), x, num_levels=256)
      >>> out["bpd"].shape
      (4,)
    """
    k_dequantize, k_probes = jax.random.split(key)
    y = dequantize(k_dequantize, x, num_levels)
    out = log_likelihood(k_probes, score_fn, path, y, **kwargs)
    dims = math.prod(x.shape[1:])
    nll = discrete_nll_bound(out["log_prob"], dims, num_levels)
    return {**out, "nll": nll, "bpd": nll / (dims * math.log(2.0))}
