"""k-medoids by alternating (Voronoi) iteration, with the per-cluster objective.

Each centre is a data point, the medoid of its own cluster:

    m_j = argmin_{x in cluster j} sum_{x_i in cluster j} D(x_i, x).

F3:118-122 writes the sum over all n points, which makes the "medoid" the same point for every
cluster (the medoid of the whole data set); the sum belongs over the cluster's members.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gendiff.classic import _checks
from gendiff.classic.kmeans import _seed

METRICS = ("euclidean", "sqeuclidean")


class KMedoidsResult(NamedTuple):
    """Output of :func:`kmedoids`.

    Attributes:
      medoid_indices: (k,) row indices of the medoids in ``x`` (int32).
      medoids: (k, d) the medoids.
      labels: (n,) cluster of each point (int32).
      cost: sum_i D(x_i, m_{label_i}).
      num_iters: iterations run.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import kmedoids
      >>> x = jnp.array([[0.0], [1.0], [2.0], [100.0], [10.0], [11.0], [12.0]])
      >>> res = kmedoids(jax.random.key(0), x, 2, init=jnp.array([0, 4]))
      >>> res.medoid_indices.tolist(), res.labels.tolist(), float(res.cost)  # 1+1 + 89+1+1
      ([1, 5], [0, 0, 0, 1, 1, 1, 1], 93.0)
    """

    medoid_indices: jax.Array
    medoids: jax.Array
    labels: jax.Array
    cost: jax.Array
    num_iters: jax.Array


def pairwise_dissimilarity(x: jax.Array, y: jax.Array, metric: str = "euclidean") -> jax.Array:
    """(n, m) Euclidean or squared Euclidean distances between the rows of x and y.

    Computed from the differences (not ||x||^2 - 2 x.y + ||y||^2), so a point's distance to itself
    is exactly 0 and small Euclidean distances keep full relative precision.
    """
    d2 = jnp.sum((x[:, None, :] - y[None, :, :]) ** 2, -1)
    return jnp.sqrt(d2) if metric == "euclidean" else d2


def kmedoids(
    key: jax.Array,
    x: jax.Array,
    k: int,
    *,
    init: str | jax.Array = "k-medoids++",
    metric: str = "euclidean",
    num_iters: int = 100,
) -> KMedoidsResult:
    """k-medoids: alternate nearest-medoid assignment and the per-cluster medoid update.

    Each step lowers (or keeps) the cost sum_i D(x_i, m_{label_i}); it stops when the medoids no
    longer change. It holds the (n, n) dissimilarity matrix, so it suits n up to some thousands.
    With the Euclidean distance (the default) a far outlier pulls a cluster's centre much less
    than under the squared distance of k-means (F3:122); "sqeuclidean" is the note's D.

    Args:
      key: PRNG key (used by k-medoids++ seeding only).
      x: (n, d) data.
      k: number of clusters, 1 <= k <= n.
      init: "k-medoids++" (greedy D-seeding with the chosen metric) or (k,) medoid indices.
      metric: "euclidean" or "sqeuclidean".
      num_iters: maximum number of iterations.

    Returns:
      A :class:`KMedoidsResult`.

    References:
      Park & Jun, "A simple and fast algorithm for K-medoids clustering", Expert Systems with
      Applications 2009 (the alternating update); Kaufman & Rousseeuw, "Finding Groups in Data",
      1990 (the k-medoids objective).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import kmedoids
      >>> x = jnp.array([[0.0], [1.0], [2.0], [100.0], [10.0], [11.0], [12.0]])
      >>> res = kmedoids(jax.random.key(0), x, 2, init=jnp.array([0, 4]))
      >>> res.medoids.ravel().tolist()  # the outlier 100 does not move the right medoid
      [1.0, 11.0]
    """
    x = _checks.as_float_array("x", x, 2)
    n = x.shape[0]
    _checks.check_num_components("k", k, n)
    _checks.check_option("metric", metric, METRICS)
    _checks.check_iters("num_iters", num_iters)
    _checks.check_finite("x", x)
    if isinstance(init, str):
        _checks.check_option("init", init, ("k-medoids++",))
        medoids = None
    else:
        medoids = jnp.asarray(init)
        if medoids.shape != (k,) or not jnp.issubdtype(medoids.dtype, jnp.integer):
            raise ValueError(f"init must be 'k-medoids++' or ({k},) integer indices.")
        if _checks.is_concrete(medoids) and (
            bool(jnp.any((medoids < 0) | (medoids >= n))) or len(set(medoids.tolist())) != k
        ):
            raise ValueError(f"init indices must be {k} distinct rows in [0, {n}).")
        medoids = medoids.astype(jnp.int32)
    return _kmedoids(key, x, medoids, k=k, metric=metric, num_iters=num_iters)


@functools.partial(jax.jit, static_argnames=("k", "metric", "num_iters"))
def _kmedoids(key, x, medoids, *, k, metric, num_iters):
    n = x.shape[0]
    if medoids is None:
        dist = lambda a, b: pairwise_dissimilarity(a, b, metric)
        medoids = _seed(key, x, k, jnp.ones((n,), x.dtype), 1, dist)
    D = pairwise_dissimilarity(x, x, metric)  # (n, n)

    def assign(medoids):
        # A medoid belongs to its own cluster even when it ties with another medoid.
        labels = jnp.argmin(D[:, medoids], 1).astype(jnp.int32)
        return labels.at[medoids].set(jnp.arange(k, dtype=jnp.int32))

    def update(medoids):
        labels = assign(medoids)
        member = jax.nn.one_hot(labels, k, dtype=x.dtype)  # (n, k)
        within = member.T @ D  # (k, n): sum over cluster j's members of D(x_i, candidate)
        within = jnp.where(member.T > 0, within, jnp.inf)  # candidates from the cluster only
        return jnp.argmin(within, 1).astype(jnp.int32)

    def cond(carry):
        i, _, done = carry
        return (i < num_iters) & ~done

    def body(carry):
        i, medoids, _ = carry
        new = update(medoids)
        return i + 1, new, jnp.all(new == medoids)

    iters, medoids, _ = jax.lax.while_loop(cond, body, (jnp.int32(0), medoids, jnp.bool_(False)))
    labels = assign(medoids)
    cost = jnp.sum(D[jnp.arange(n), medoids[labels]])
    return KMedoidsResult(medoids, x[medoids], labels, cost, iters)
