"""Explicit score matching: regression onto a known target score."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.score.divergence import check_score_shape
from gendiff.utils import sum_over_non_batch

ScoreFn = Callable[[jax.Array], jax.Array]


def explicit_score_matching(
    key: jax.Array, score_fn: ScoreFn, x: jax.Array, target_score_fn: ScoreFn
) -> tuple[jax.Array, dict]:
    """J_ESM = 1/2 E_x || s_theta(x) - grad log p(x) ||^2 (Hyvarinen 2005).

    Args:
      key: unused (no randomness beyond the data); kept so every score-matching loss has
        the signature ``loss(key, score_fn, x, ...)``.
      score_fn: the model ``s_theta(x)``, (batch, ...) -> (batch, ...).
      x: data samples, (batch, ...).
      target_score_fn: the true score ``grad log p(x)``, same shapes.

    Returns:
      (loss, metrics) with metrics['loss'] the same scalar.

    Example:
      >>> x = jnp.ones((10, 2))
      >>> loss, _ = explicit_score_matching(key, lambda x: -x, x, lambda x: -2.0 * x)
      >>> float(loss)  # 1/2 E || -x - (-2 x) ||^2 = 1/2 * 2
      1.0
    """
    del key
    score, target = score_fn(x), target_score_fn(x)
    check_score_shape(score, x)
    check_score_shape(target, x)
    per_example = 0.5 * sum_over_non_batch((score - target) ** 2)
    loss = jnp.mean(per_example)
    return loss, {"loss": loss}
