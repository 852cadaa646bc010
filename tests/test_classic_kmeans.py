"""k-means against scikit-learn's KMeans from the same centres, greedy k-means++, and k-medoids
against brute force and the note's all-points objective (F3:118-122).

Comparisons with scikit-learn run in float64 (``jax.enable_x64``)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.cluster import KMeans

from gendiff import classic

BLOBS = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0]])


def _blobs(n=200, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 4, n)
    return BLOBS[z] + scale * rng.normal(size=(n, 2)), z


@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_equals_sklearn_from_the_same_centres(weighted):
    x, _ = _blobs(scale=2.0)  # overlapping blobs: several Lloyd iterations
    centres = x[:4] + 0.5
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(x)) if weighted else None
    km = KMeans(4, init=centres, n_init=1, max_iter=100, tol=0.0, algorithm="lloyd")
    km.fit(x, sample_weight=w)
    with jax.enable_x64(True):
        res = classic.kmeans(None, jnp.asarray(x), 4, init=centres, num_iters=100, tol=0.0,
                             sample_weight=w)
        diff_c = np.abs(np.asarray(res.centres) - km.cluster_centers_).max()
        diff_i = abs(float(res.inertia) - km.inertia_)
        print(f"weighted={weighted} centres {diff_c:.1e} inertia {diff_i:.1e} iters "
              f"{int(res.num_iters)} vs {km.n_iter_}")
        assert int(res.num_iters) == km.n_iter_ > 2
        assert diff_c < 1e-10 and diff_i < 1e-8
        np.testing.assert_array_equal(res.labels, km.labels_)


def test_kmeans_relocates_an_empty_cluster_like_sklearn():
    x, _ = _blobs(n=120, seed=2)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 6.0], [100.0, 100.0]])  # last one: no points
    km = KMeans(4, init=centres, n_init=1, max_iter=50, tol=0.0, algorithm="lloyd").fit(x)
    with jax.enable_x64(True):
        res = classic.kmeans(None, jnp.asarray(x), 4, init=centres, num_iters=50, tol=0.0)
        assert len(np.unique(np.asarray(res.labels))) == 4
        np.testing.assert_allclose(res.centres, km.cluster_centers_, atol=1e-10)
        np.testing.assert_allclose(res.inertia, km.inertia_, rtol=1e-12)


def test_greedy_kmeans_plusplus_seeds_one_centre_per_blob():
    x, z = _blobs(n=400, seed=3, scale=0.3)
    keys = jax.random.split(jax.random.key(0), 8)
    _, idx = jax.jit(jax.vmap(lambda k: classic.kmeans_plusplus(k, jnp.asarray(x, jnp.float32), 4)))(keys)
    for row in np.asarray(idx):
        assert sorted(z[row]) == [0, 1, 2, 3]
    # Full k-means from k-means++ finds the blob centres, restarts by vmap.
    res = jax.jit(jax.vmap(lambda k: classic.kmeans(k, jnp.asarray(x, jnp.float32), 4)))(keys[:4])
    for c in np.asarray(res.centres):
        np.testing.assert_allclose(np.sort(c, 0), np.sort(BLOBS, 0), atol=0.1)


def test_kmeans_bad_input():
    x, _ = _blobs(n=10)
    with pytest.raises(ValueError, match="larger than the number of samples"):
        classic.kmeans(jax.random.key(0), x, 11)
    with pytest.raises(ValueError, match="NaN"):
        classic.kmeans(jax.random.key(0), np.where(np.eye(10, 2) > 0, np.nan, x), 2)
    with pytest.raises(ValueError, match="init centres must have shape"):
        classic.kmeans(jax.random.key(0), x, 2, init=np.zeros((3, 2)))


def _within(x, members, m):
    return np.sqrt(((x[members] - x[m]) ** 2).sum(1)).sum()


def test_kmedoids_medoids_minimise_the_per_cluster_sum():
    x, _ = _blobs(n=60, seed=4, scale=1.2)
    res = classic.kmedoids(jax.random.key(1), jnp.asarray(x, jnp.float32), 4)
    labels, med = np.asarray(res.labels), np.asarray(res.medoid_indices)
    for j in range(4):
        members = np.flatnonzero(labels == j)
        best = min(_within(x, members, m) for m in members)
        assert _within(x, members, med[j]) <= best + 1e-4
    cost = sum(np.sqrt(((x[i] - x[med[labels[i]]]) ** 2).sum()) for i in range(len(x)))
    np.testing.assert_allclose(res.cost, cost, rtol=1e-4)  # float32


def test_kmedoids_finds_the_brute_force_optimum_and_the_notes_sum_does_not():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(size=(6, 2)), rng.normal(size=(6, 2)) + 8.0])
    D = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    brute = min(D[:, list(pair)].min(1).sum() for pair in itertools.combinations(range(12), 2))
    with jax.enable_x64(True):
        res = classic.kmedoids(jax.random.key(0), jnp.asarray(x), 2)
        assert abs(float(res.cost) - brute) < 1e-10
        # The note's update argmin_x sum_{i=1..n} ||x_i - x||^2 ignores the clusters: it gives one
        # and the same point for both clusters, whose cost is far above the optimum.
        D2 = D**2
        notes_medoid = int(np.argmin(D2.sum(0)))
        assert D[:, [notes_medoid, notes_medoid]].min(1).sum() > 2 * brute
        assert len(set(np.asarray(res.medoid_indices).tolist())) == 2
        # With the note's squared distance inside each cluster the medoids also separate.
        sq = classic.kmedoids(jax.random.key(0), jnp.asarray(x), 2, metric="sqeuclidean")
        assert sorted(np.asarray(sq.labels)[[0, 6]].tolist()) == [0, 1]


def test_kmedoids_bad_input():
    x, _ = _blobs(n=10)
    with pytest.raises(ValueError, match="larger than the number of samples"):
        classic.kmedoids(jax.random.key(0), x, 11)
    with pytest.raises(ValueError, match="distinct"):
        classic.kmedoids(jax.random.key(0), x, 2, init=jnp.array([1, 1]))
    with pytest.raises(ValueError, match="metric"):
        classic.kmedoids(jax.random.key(0), x, 2, metric="cosine")
