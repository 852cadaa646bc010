"""k-means: greedy k-means++ seeding and Lloyd's algorithm (one ``lax.while_loop``).

The objective (F3:107-116) is the inertia C = sum_j sum_{x_i in cluster j} ||x_i - c_j||^2. The note's
centre update at F3:112 divides by n; the mean of a cluster divides by its own size n_j.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gendiff.classic import _checks


class KMeansResult(NamedTuple):
    """Output of :func:`kmeans`.

    Attributes:
      centres: (k, d) cluster centres.
      labels: (n,) index of the nearest centre of each point (int32).
      inertia: weighted sum of squared distances of the points to their centres.
      num_iters: Lloyd iterations run.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import kmeans
      >>> x = jnp.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.0]])
      >>> res = kmeans(jax.random.key(0), x, 2, init=x[jnp.array([0, 2])])
      >>> res.labels.tolist(), float(res.inertia)  # 4 points at distance 1/2 from their centre
      ([0, 0, 1, 1], 1.0)
    """

    centres: jax.Array
    labels: jax.Array
    inertia: jax.Array
    num_iters: jax.Array


def squared_distances(x: jax.Array, c: jax.Array) -> jax.Array:
    """(n, k) matrix of ||x_i - c_j||^2 via ||x||^2 - 2 x.c + ||c||^2, clipped at 0."""
    d2 = jnp.sum(x * x, 1)[:, None] - 2.0 * x @ c.T + jnp.sum(c * c, 1)[None, :]
    return jnp.maximum(d2, 0.0)


def _weights(sample_weight, x):
    n = x.shape[0]
    if sample_weight is None:
        return jnp.ones((n,), x.dtype)
    w = _checks.as_float_array("sample_weight", sample_weight, 1).astype(x.dtype)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {w.shape}.")
    _checks.check_finite("sample_weight", w)
    if _checks.is_concrete(w) and (bool(jnp.any(w < 0)) or not bool(jnp.sum(w) > 0)):
        raise ValueError("sample_weight must be non-negative with a positive sum.")
    return w


def _seed(key, x, k, w, num_trials, dist_fn):
    """Greedy D^2 seeding (shared by k-means++ and k-medoids++); returns centre indices."""
    n = x.shape[0]
    key_first, key_rest = jax.random.split(key)
    first = jax.random.categorical(key_first, jnp.log(w))
    closest = dist_fn(x[first][None], x)[0]

    def step(closest, c):
        potential = jnp.cumsum(w * closest)
        u = jax.random.uniform(jax.random.fold_in(key_rest, c), (num_trials,), x.dtype)
        candidates = jnp.searchsorted(potential, u * potential[-1], side="right")
        candidates = jnp.minimum(candidates, n - 1)
        trial = jnp.minimum(closest[None], dist_fn(x[candidates], x))  # (trials, n)
        best = jnp.argmin(jnp.sum(w[None] * trial, 1))
        return trial[best], candidates[best]

    _, rest = jax.lax.scan(step, closest, jnp.arange(1, k))
    return jnp.concatenate([first[None], rest]).astype(jnp.int32)


def kmeans_plusplus(
    key: jax.Array,
    x: jax.Array,
    k: int,
    *,
    sample_weight: jax.Array | None = None,
    num_trials: int | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007).

    The first centre is a data point drawn with probability proportional to its weight; each
    next centre is the best, by the resulting potential sum_i w_i min_j ||x_i - c_j||^2, of
    ``num_trials`` points drawn with probability proportional to w_i D(x_i)^2.

    Args:
      key: PRNG key.
      x: (n, d) data.
      k: number of centres, 1 <= k <= n.
      sample_weight: optional (n,) non-negative weights.
      num_trials: candidates per centre; default 2 + floor(ln k).

    Returns:
      ``(centres, indices)``: (k, d) centres and their (k,) row indices in ``x``.

    References:
      Arthur & Vassilvitskii, "k-means++: the advantages of careful seeding", SODA 2007.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import kmeans_plusplus
      >>> x = jnp.array([[0.0, 0.0], [0.1, 0.0], [10.0, 10.0], [10.1, 10.0]])
      >>> centres, idx = kmeans_plusplus(jax.random.key(0), x, 2)
      >>> sorted(int(i) // 2 for i in idx)  # one centre in each pair
      [0, 1]
    """
    x = _checks.as_float_array("x", x, 2)
    _checks.check_num_components("k", k, x.shape[0])
    _checks.check_finite("x", x)
    w = _weights(sample_weight, x)
    trials = 2 + int(math.log(k)) if num_trials is None else int(num_trials)
    idx = _seed(key, x, k, w, trials, squared_distances)
    return x[idx], idx


def _assign(x, centres):
    return jnp.argmin(squared_distances(x, centres), 1).astype(jnp.int32)


def _update(x, w, labels, centres, k):
    """Weighted means of the clusters; an empty cluster takes the point farthest from its centre."""
    counts = jax.ops.segment_sum(w, labels, k)
    empty = counts <= 0
    own = jnp.sum((x - centres[labels]) ** 2, 1)
    farthest = jnp.argsort(-own)
    rank = jnp.maximum(jnp.cumsum(empty) - 1, 0)
    moved = jnp.where(empty, farthest[rank], x.shape[0])  # out of range -> dropped
    labels = labels.at[moved].set(jnp.arange(k, dtype=labels.dtype), mode="drop")
    sums = jax.ops.segment_sum(w[:, None] * x, labels, k)
    counts = jax.ops.segment_sum(w, labels, k)
    new = sums / jnp.where(counts > 0, counts, 1.0)[:, None]
    return jnp.where((counts > 0)[:, None], new, centres)


def kmeans(
    key: jax.Array,
    x: jax.Array,
    k: int,
    *,
    init: str | jax.Array = "k-means++",
    num_iters: int = 300,
    tol: float = 1e-4,
    sample_weight: jax.Array | None = None,
) -> KMeansResult:
    """k-means by Lloyd's algorithm: assign each point to its nearest centre, move each centre to
    the (weighted) mean of its points, until the labels stop changing, the squared centre shift
    is at most ``tol`` times the mean per-feature variance of ``x``, or ``num_iters`` is reached.

    The final labels and inertia are those of the returned centres. An empty cluster is moved to
    the point farthest from its centre. With ``init`` given as centres this follows scikit-learn's
    ``KMeans(algorithm="lloyd", n_init=1)`` step for step. Jittable; vmap over ``key`` for restarts.

    Args:
      key: PRNG key (used by k-means++ only).
      x: (n, d) data.
      k: number of clusters, 1 <= k <= n.
      init: "k-means++" (greedy, :func:`kmeans_plusplus`) or (k, d) initial centres.
      num_iters: maximum number of Lloyd iterations.
      tol: relative tolerance on the squared centre shift; 0 stops only on unchanged labels.
      sample_weight: optional (n,) non-negative weights.

    Returns:
      A :class:`KMeansResult`.

    References:
      Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 1982.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import kmeans
      >>> x = jnp.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.0]])
      >>> res = kmeans(jax.random.key(0), x, 2, init=x[jnp.array([0, 2])])
      >>> res.centres.tolist(), float(res.inertia)
      ([[0.0, 0.5], [5.0, 5.5]], 1.0)
    """
    x = _checks.as_float_array("x", x, 2)
    n, d = x.shape
    _checks.check_num_components("k", k, n)
    _checks.check_iters("num_iters", num_iters)
    _checks.check_finite("x", x)
    if float(tol) < 0:
        raise ValueError(f"tol must be >= 0, got {tol}.")
    w = _weights(sample_weight, x)
    if isinstance(init, str):
        _checks.check_option("init", init, ("k-means++",))
        centres = None
    else:
        centres = _checks.as_float_array("init", init, 2).astype(x.dtype)
        if centres.shape != (k, d):
            raise ValueError(f"init centres must have shape ({k}, {d}), got {centres.shape}.")
        _checks.check_finite("init", centres)
    return _kmeans(key, x, w, centres, jnp.asarray(tol, x.dtype), k=k, num_iters=num_iters)


@functools.partial(jax.jit, static_argnames=("k", "num_iters"))
def _kmeans(key, x, w, centres, tol, *, k, num_iters):
    n = x.shape[0]
    if centres is None:
        idx = _seed(key, x, k, w, 2 + int(math.log(k)), squared_distances)
        centres = x[idx]
    threshold = tol * jnp.mean(jnp.var(x, 0))

    def cond(carry):
        i, _, _, done = carry
        return (i < num_iters) & ~done

    def body(carry):
        i, centres, labels_old, _ = carry
        labels = _assign(x, centres)
        new = _update(x, w, labels, centres, k)
        shift = jnp.sum((new - centres) ** 2)
        done = jnp.all(labels == labels_old) | (shift <= threshold)
        return i + 1, new, labels, done

    init_carry = (jnp.int32(0), centres, jnp.full((n,), -1, jnp.int32), jnp.bool_(False))
    iters, centres, _, _ = jax.lax.while_loop(cond, body, init_carry)
    labels = _assign(x, centres)
    inertia = jnp.sum(w * jnp.sum((x - centres[labels]) ** 2, 1))
    return KMeansResult(centres, labels, inertia, iters)
