"""Divergences between discrete distributions: KL, Jensen-Shannon, TV, Hellinger, chi^2, any f.

Every function reduces over the last axis (the categories) and maps over leading axes. The
inputs are probability vectors, or logits with ``from_logits=True`` (then softmax is applied
and the logarithms come from log-softmax, accurate for tiny probabilities). Natural logarithms
throughout.

Conventions at the boundary (Cover & Thomas 2006, section 2.3): 0 log(0 / q) = 0, and
p log(p / 0) = +inf for p > 0. Categories with p = 0 contribute nothing to the value and
pass a zero gradient (not NaN), so the functions can be jitted, vmapped and differentiated
with zeros present; where the true one-sided derivative is infinite (for example d/dp of
p log p at p = 0), the gradient there is 0 by this convention. Infinite terms (mass of P where
q = 0, for KL) are constants with zero gradient, so they never produce NaN gradients elsewhere.
From logits every gradient is finite.

With ``validate=True`` (the default) concrete inputs are checked: probabilities must be finite,
non-negative and sum to 1 along the last axis (within 1e-5); logits must not be NaN or +inf.
Traced inputs (inside jit) are not inspected. Shapes must always match.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from gendiff.divergences._checks import check_pair, p_log_ratio, probabilities_and_logs, safe_sqrt
from gendiff.divergences.f_divergences import FDivergence, get_f_divergence


def kl_divergence(p, q, *, from_logits: bool = False, validate: bool = True) -> jax.Array:
    """Kullback-Leibler divergence KL(P || Q) = sum_x p(x) log(p(x) / q(x)).

    Args:
      p, q: probability vectors (or logits) of one shape (..., num_categories).
      from_logits: treat `p` and `q` as logits.
      validate: check that concrete probabilities are non-negative and sum to 1.

    Returns:
      KL in nats, shape (...); +inf when p > 0 somewhere q = 0.

    References:
      Kullback & Leibler, "On information and sufficiency", Ann. Math. Stat. 1951.

    Example:
      >>> round(float(kl_divergence(jnp.array([0.3, 0.7]), jnp.array([0.7, 0.3]))), 6)
      0.338919
    """
    p, q = check_pair(p, q, from_logits=from_logits, validate=validate)
    return _kl(p, q, from_logits)


@functools.partial(jax.jit, static_argnums=2)
def _kl(p, q, from_logits):
    p, log_p, q, log_q = probabilities_and_logs(p, q, from_logits)
    return jnp.sum(p_log_ratio(p, log_p, log_q), axis=-1)


def js_divergence(
    p, q, *, from_logits: bool = False, validate: bool = True, normalization: str = "mean"
) -> jax.Array:
    """Jensen-Shannon divergence JS(P, Q) = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q) / 2.

    Symmetric, finite, 0 iff P = Q, at most ln 2 (disjoint supports), and sqrt(JS) is a metric.

    Args:
      p, q: probability vectors (or logits) of one shape (..., num_categories).
      from_logits: treat `p` and `q` as logits.
      validate: check that concrete probabilities are non-negative and sum to 1.
      normalization: "mean" (default) for the standard JS above, at most ln 2; "sum" for
        KL(P || M) + KL(Q || M) = 2 JS, at most 2 ln 2, which is what the generator
        -(u + 1) log((1 + u) / 2) + u log u of the lecture notes (F0:190) and of Nowozin et al.
        (2016, Table 2) integrates to.

    Returns:
      JS in nats, shape (...).

    References:
      Lin, "Divergence measures based on the Shannon entropy", IEEE Trans. Inf. Theory 1991.

    Example:
      >>> round(float(js_divergence(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))), 6)  # ln 2
      0.693147
    """
    if normalization not in ("mean", "sum"):
        raise ValueError(f"normalization must be 'mean' or 'sum', got {normalization!r}.")
    p, q = check_pair(p, q, from_logits=from_logits, validate=validate)
    return _js(p, q, from_logits, normalization)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _js(p, q, from_logits, normalization):
    p, log_p, q, log_q = probabilities_and_logs(p, q, from_logits)
    # log m = log((p + q) / 2), from the logs so that logits keep their precision; m > 0
    # wherever p > 0 or q > 0, so both KL terms are finite.
    log_m = jnp.logaddexp(log_p, log_q) - jnp.log(2.0).astype(p.dtype)
    total = jnp.sum(p_log_ratio(p, log_p, log_m) + p_log_ratio(q, log_q, log_m), axis=-1)
    return 0.5 * total if normalization == "mean" else total


def tv_distance(p, q, *, from_logits: bool = False, validate: bool = True) -> jax.Array:
    """Total variation distance ``TV(P, Q) = 1/2 sum_x |p(x) - q(x)| = max_A |P(A) - Q(A)|``.

    Args:
      p, q: probability vectors (or logits) of one shape (..., num_categories).
      from_logits: treat `p` and `q` as logits.
      validate: check that concrete probabilities are non-negative and sum to 1.

    Returns:
      TV in [0, 1], shape (...).

    Example:
      >>> round(float(tv_distance(jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1]))), 6)
      0.4
    """
    p, q = check_pair(p, q, from_logits=from_logits, validate=validate)
    return _tv(p, q, from_logits)


@functools.partial(jax.jit, static_argnums=2)
def _tv(p, q, from_logits):
    p, _, q, _ = probabilities_and_logs(p, q, from_logits)
    return 0.5 * jnp.sum(jnp.abs(p - q), axis=-1)


def hellinger_distance(p, q, *, from_logits: bool = False, validate: bool = True) -> jax.Array:
    """Hellinger distance H(P, Q) = sqrt(1/2 sum_x (sqrt p(x) - sqrt q(x))^2).

    With the 1/2 the distance lies in [0, 1] (1 for disjoint supports), and
    H^2 = 1 - sum_x sqrt(p(x) q(x)). Some texts omit the 1/2 (range [0, sqrt 2]); the
    ``squared_hellinger`` entry of F_DIVERGENCES (Nowozin et al.) is sum (sqrt p - sqrt q)^2 = 2 H^2.

    Args:
      p, q: probability vectors (or logits) of one shape (..., num_categories).
      from_logits: treat `p` and `q` as logits.
      validate: check that concrete probabilities are non-negative and sum to 1.

    Returns:
      H in [0, 1], shape (...).

    References:
      Le Cam & Yang, "Asymptotics in Statistics: Some Basic Concepts", 2000.

    Example:
      >>> float(hellinger_distance(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])))
      1.0
    """
    p, q = check_pair(p, q, from_logits=from_logits, validate=validate)
    return _hellinger(p, q, from_logits)


@functools.partial(jax.jit, static_argnums=2)
def _hellinger(p, q, from_logits):
    p, log_p, q, log_q = probabilities_and_logs(p, q, from_logits)
    if from_logits:
        sqrt_p, sqrt_q = jnp.exp(0.5 * log_p), jnp.exp(0.5 * log_q)
    else:
        sqrt_p, sqrt_q = safe_sqrt(p), safe_sqrt(q)
    return safe_sqrt(0.5 * jnp.sum((sqrt_p - sqrt_q) ** 2, axis=-1))


def chi2_divergence(p, q, *, from_logits: bool = False, validate: bool = True) -> jax.Array:
    """Pearson chi^2 divergence chi^2(P || Q) = sum_x (p(x) - q(x))^2 / q(x).

    Neyman's chi^2 is the same with the roles swapped: ``chi2_divergence(q, p)``.

    Args:
      p, q: probability vectors (or logits) of one shape (..., num_categories).
      from_logits: treat `p` and `q` as logits.
      validate: check that concrete probabilities are non-negative and sum to 1.

    Returns:
      chi^2 >= 0, shape (...); +inf when p > 0 somewhere q = 0.

    References:
      Pearson, Phil. Mag. 1900; Nowozin et al. 2016, Table 1.

    Example:
      >>> round(float(chi2_divergence(jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1]))), 6)
      1.777778
    """
    p, q = check_pair(p, q, from_logits=from_logits, validate=validate)
    return _chi2(p, q, from_logits)


@functools.partial(jax.jit, static_argnums=2)
def _chi2(p, q, from_logits):
    p, _, q, _ = probabilities_and_logs(p, q, from_logits)
    pos_q = q > 0
    term = jnp.where(pos_q, (p - q) ** 2 / jnp.where(pos_q, q, 1.0), 0.0)
    term = jnp.where(pos_q | (p <= 0), term, jnp.inf)
    return jnp.sum(term, axis=-1)


def f_divergence(
    p,
    q,
    divergence: str | FDivergence,
    *,
    from_logits: bool = False,
    validate: bool = True,
    **params,
) -> jax.Array:
    """D_f(P || Q) = sum_x q(x) f(p(x) / q(x)) for an entry of ``F_DIVERGENCES``.

    Categories with q = 0 and p > 0 contribute p * lim_{u -> inf} f(u) / u (Liese & Vajda
    2006), which is +inf for KL, Pearson chi^2 and Jeffreys; with p = 0 and q > 0 they
    contribute q f(0).

    Args:
      p, q: probability vectors (or logits) of one shape (..., num_categories).
      divergence: a name in ``F_DIVERGENCES`` or an :class:`FDivergence`.
      from_logits: treat `p` and `q` as logits.
      validate: check that concrete probabilities are non-negative and sum to 1.
      **params: parameters of a factory entry, e.g. ``alpha=0.5`` for ``"alpha"``.

    Returns:
      D_f in nats, shape (...). Note that ``"gan"`` (f(1) = -log 4) gives 2 JS - log 4.

    References:
      Csiszar, "Information-type measures of difference of probability distributions", 1967.
      Liese & Vajda, "On divergences and informations in statistics and information theory",
      IEEE Trans. Inf. Theory 2006.

    Example:
      >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
      >>> round(float(f_divergence(p, q, "kl")), 6), round(float(f_divergence(p, q, "tv")), 6)
      (0.510826, 0.4)
    """
    entry = get_f_divergence(divergence, **params)
    p, q = check_pair(p, q, from_logits=from_logits, validate=validate)
    return _f_divergence(p, q, entry, from_logits)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _f_divergence(p, q, entry: FDivergence, from_logits: bool):
    p, _, q, _ = probabilities_and_logs(p, q, from_logits)
    pos_q = q > 0
    q_safe = jnp.where(pos_q, q, 1.0)
    u = jnp.where(pos_q, p / q_safe, 1.0)
    f_u = entry.f(u)
    # p = 0 where f(0) = +inf (reverse KL, Neyman chi^2, Jeffreys, alpha < 0): the constant +inf,
    # so that no inf reaches a gradient.
    finite = pos_q & jnp.isfinite(f_u)
    term = jnp.where(finite, jnp.where(finite, q_safe, 0.0) * jnp.where(finite, f_u, 0.0), jnp.inf)
    # q = 0: the recession term p * f'(inf); a constant +inf needs no gradient.
    if entry.slope_at_infinity == float("inf"):
        mass_off_q = jnp.where(p > 0, jnp.inf, 0.0)
    else:
        mass_off_q = jnp.where(p > 0, p, 0.0) * entry.slope_at_infinity
    return jnp.sum(jnp.where(pos_q, term, mass_off_q), axis=-1)
