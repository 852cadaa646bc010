"""Sliced score matching: score matching along random projections (Song et al. 2019)."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.score.divergence import flatten_score_fn, sample_probes, score_and_quadratic_forms

ScoreFn = Callable[[jax.Array], jax.Array]


def sliced_score_matching(
    key: jax.Array,
    score_fn: ScoreFn,
    x: jax.Array,
    *,
    num_probes: int = 1,
    probe: str = "gaussian",
    variance_reduced: bool = False,
) -> tuple[jax.Array, dict]:
    """J_SSM = E_v E_x [ 1/2 (v^T s(x))^2 + v^T (d s(x) / d x) v ] (Song et al. 2019).

    The probes satisfy E[v v^T] = I: v ~ N(0, I), Rademacher, or uniform on the sphere of
    radius sqrt(D) ('sphere'; a unit-sphere draw would scale the objective by 1/D). Then
    E_v (v^T s)^2 = ||s||^2 and J_SSM = J_ISM, so it equals explicit score matching up to the
    constant 1/2 E || grad log p ||^2. With ``variance_reduced`` the first term is replaced by
    its expectation 1/2 ||s||^2 (SSM-VR, Song et al. 2019), valid for any probe with
    E[v v^T] = I; it coincides with Hutchinson-trace implicit score matching.

    Args:
      key: PRNG key of the probes.
      score_fn: the model ``s(x)``, (batch, ...) -> (batch, ...), examples independent.
      x: data samples, (batch, ...); non-batch axes are flattened to D.
      num_probes: probes per example (M in the paper), each one jvp.
      probe: 'gaussian', 'rademacher' or 'sphere'.
      variance_reduced: use SSM-VR.

    Returns:
      (loss, metrics) with metrics['loss'] the same scalar.

    Example:
      >>> x = jax.random.normal(key, (256, 2))
      >>> loss, _ = sliced_score_matching(key, lambda x: -x, x, num_probes=4)
      >>> loss.shape
      ()
    """
    if num_probes < 1:
        raise ValueError(f"num_probes must be >= 1, got {num_probes}.")
    flat_fn, x_flat = flatten_score_fn(score_fn, x)
    probes = sample_probes(key, (num_probes,) + x_flat.shape, probe, x_flat.dtype)
    s, quadratic = score_and_quadratic_forms(flat_fn, x_flat, probes)  # v^T J v, (P, batch)
    if variance_reduced:
        first = 0.5 * jnp.sum(s**2, axis=-1)  # 1/2 ||s||^2, (batch,)
    else:
        first = 0.5 * jnp.sum(probes * s, axis=-1) ** 2  # 1/2 (v^T s)^2, (P, batch)
    loss = jnp.mean(first) + jnp.mean(quadratic)
    return loss, {"loss": loss}
