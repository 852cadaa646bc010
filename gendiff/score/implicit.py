"""Implicit (Hyvarinen) score matching, which needs no target score."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.score.divergence import exact_divergence, flatten_score_fn, hutchinson_divergence

ScoreFn = Callable[[jax.Array], jax.Array]

TRACES = ("exact", "hutchinson")


def implicit_score_matching(
    key: jax.Array,
    score_fn: ScoreFn,
    x: jax.Array,
    *,
    trace: str = "exact",
    num_probes: int = 1,
    probe: str = "rademacher",
) -> tuple[jax.Array, dict]:
    """J_ISM = E_x [ 1/2 || s(x) ||^2 + tr(d s(x) / d x) ] (Hyvarinen 2005, Theorem 1).

    Integration by parts gives J_ESM = J_ISM + 1/2 E || grad log p(x) ||^2, so both have the
    same minimiser although J_ISM never evaluates grad log p.

    Args:
      key: PRNG key of the probes (unused by the exact trace).
      score_fn: the model ``s(x)``, (batch, ...) -> (batch, ...), examples independent.
      x: data samples, (batch, ...); non-batch axes are flattened to D.
      trace: 'exact' (D forward-mode passes; small D) or 'hutchinson' (unbiased estimate
        (1/P) sum_p v_p^T (d s / d x) v_p with P = num_probes jvps).
      num_probes: P, Hutchinson probes per example.
      probe: Hutchinson probe distribution, 'rademacher', 'gaussian' or 'sphere'.

    Returns:
      (loss, metrics): metrics has 'loss', 'norm_term' (E 1/2 ||s||^2) and 'trace_term'
      (E tr(d s / d x)).

    Example:
      >>> x = jnp.ones((10, 2))
      >>> loss, m = implicit_score_matching(key, lambda x: -x, x)
      >>> float(loss)  # E [1/2 ||x||^2 + tr(-I)] = 1 - 2
      -1.0
    """
    if trace not in TRACES:
        raise ValueError(f"Unknown trace {trace!r}; expected one of {TRACES}.")
    flat_fn, x_flat = flatten_score_fn(score_fn, x)
    if trace == "exact":
        s, div = exact_divergence(flat_fn, x_flat)
    else:
        s, div = hutchinson_divergence(key, flat_fn, x_flat, num_probes=num_probes, probe=probe)
    norm_term = jnp.mean(0.5 * jnp.sum(s**2, axis=-1))
    trace_term = jnp.mean(div)
    loss = norm_term + trace_term
    return loss, {"loss": loss, "norm_term": norm_term, "trace_term": trace_term}
