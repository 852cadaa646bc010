"""Inception Score, KID and precision/recall as pure functions of logits and features (float64).

Inception Score (Salimans et al. 2016), with p(y|x) = softmax(logits) and the rows cut into
``splits`` contiguous parts, for each part

    IS = exp( mean_x KL(p(y|x) || p(y)) ),    p(y) = mean_x p(y|x) over the part,          (1)

reported as the mean and standard deviation over the parts (10 splits in the literature).

Kernel Inception Distance (Binkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial
kernel k(a, b) = (a.b / d + 1)^3 between ``subset_size`` rows drawn without replacement from each
set, averaged over ``num_subsets`` draws:

    MMD_u^2 = sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (m (m-1))
              - 2 sum_{i, j} k(x_i, y_j) / m^2.                                            (2)

Precision and recall (Kynkaanniemi et al. 2019): each point of a set gets the radius of its k-th
nearest neighbour within the set (k = 3, itself excluded); the set's manifold is the union of the
balls. Precision is the fraction of generated points inside the real manifold, recall the
fraction of real points inside the generated manifold (Euclidean distances, ``<=``).
"""

from __future__ import annotations

import numpy as np

from gendiff.metrics._validation import check_finite, check_point_clouds, check_rank

_BLOCK = 1024  # rows per block of distances in precision/recall


def _as64(name, x, layout="(num_samples, dim)"):
    check_rank(name, x, 2, layout)
    x = np.asarray(x, np.float64)
    check_finite(name, x)
    return x


def inception_score(logits, splits: int = 10) -> tuple[float, float]:
    """Mean and standard deviation over ``splits`` parts of exp(E KL(p(y|x) || p(y))), eq. (1).

    Args:
      logits: (n, num_classes) unnormalised log-probabilities, n >= splits.
      splits: number of contiguous parts (10 in the literature).

    Returns:
      (mean, std) as Python floats; 1 for constant predictions, num_classes at most.

    Example:
      >>> inception_score(np.eye(4) * 100.0, splits=1)  # confident, uniform over 4 classes
      (4.0, 0.0)
    """
    logits = _as64("logits", logits, "(num_samples, num_classes)")
    n = logits.shape[0]
    if not 1 <= int(splits) <= n:
        raise ValueError(f"splits must be in [1, num_samples={n}], got {splits}.")
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    scores = []
    for k in range(splits):
        part = log_p[k * n // splits : (k + 1) * n // splits]
        p = np.exp(part)
        log_py = np.log(p.mean(axis=0))
        kl = np.sum(p * (part - log_py), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def polynomial_mmd2(x, y) -> float:
    """Unbiased MMD^2 of eq. (2) with k(a, b) = (a.b / d + 1)^3, on all rows of x and y.

    Example:
      >>> rng = np.random.default_rng(0)
      >>> x, y = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
      >>> abs(polynomial_mmd2(x, y)) < 0.05, polynomial_mmd2(x, y + 1.0) > 0.5
      (True, True)
    """
    check_point_clouds(x, y)
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n, m, d = len(x), len(y), x.shape[1]
    if n < 2 or m < 2:
        raise ValueError(f"x and y need at least 2 rows each, got {n} and {m}.")
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    xx = (k_xx.sum() - np.trace(k_xx)) / (n * (n - 1))
    yy = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(xx + yy - 2.0 * k_xy.mean())


def kernel_inception_distance(
    features1, features2, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID: mean and std over ``num_subsets`` draws of the polynomial MMD^2 of eq. (2).

    Each draw takes ``subset_size`` rows without replacement from each set (rows of the two sets
    drawn independently), with a NumPy generator seeded by ``seed``.

    Args:
      features1: (n1, dim) features, n1 >= subset_size.
      features2: (n2, dim) features, n2 >= subset_size.
      num_subsets: number of draws (100 in the literature).
      subset_size: rows per draw (1000 in the literature).
      seed: seed of the draws.

    Returns:
      (mean, std) as Python floats. Unbiased: near 0 (and possibly negative) for equal sets.

    Example:
      >>> rng = np.random.default_rng(0)
      >>> kid, _ = kernel_inception_distance(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)),
      ...                                    num_subsets=10, subset_size=100)
      >>> abs(kid) < 0.05
      True
    """
    check_point_clouds(features1, features2)
    x, y = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    if not 2 <= int(subset_size) <= min(len(x), len(y)):
        raise ValueError(
            f"subset_size must be in [2, min(n1, n2) = {min(len(x), len(y))}], got {subset_size}."
        )
    if int(num_subsets) < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}.")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        rows_x = rng.choice(len(x), subset_size, replace=False)
        rows_y = rng.choice(len(y), subset_size, replace=False)
        values.append(polynomial_mmd2(x[rows_x], y[rows_y]))
    return float(np.mean(values)), float(np.std(values))


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d2, 0.0)


def knn_radii(features, k: int = 3) -> np.ndarray:
    """Distance of each row to its k-th nearest other row (the row itself excluded).

    Example:
      >>> knn_radii(np.array([[0.0], [1.0], [3.0], [6.0]]), k=2)
      array([3., 2., 3., 5.])
    """
    x = _as64("features", features)
    if not 1 <= int(k) < len(x):
        raise ValueError(f"k must be in [1, num_samples - 1 = {len(x) - 1}], got {k}.")
    radii = np.empty(len(x))
    for start in range(0, len(x), _BLOCK):
        d2 = _squared_distances(x[start : start + _BLOCK], x)
        # Index 0 of each sorted row is the row itself (distance 0); index k the k-th neighbour.
        radii[start : start + _BLOCK] = np.partition(d2, k, axis=1)[:, k]
    return np.sqrt(radii)


def _coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    inside = np.zeros(len(points), bool)
    for start in range(0, len(points), _BLOCK):
        d2 = _squared_distances(points[start : start + _BLOCK], centres)
        inside[start : start + _BLOCK] = np.any(d2 <= radii[None, :] ** 2, axis=1)
    return float(inside.mean())


def precision_recall(real_features, fake_features, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) with k-NN balls, k = 3.

    Args:
      real_features: (n, dim) features of real data.
      fake_features: (m, dim) features of generated data.
      k: neighbour whose distance is each point's radius (3 in the paper).

    Returns:
      (precision, recall), each in [0, 1].

    Example:
      >>> rng = np.random.default_rng(0)
      >>> real = rng.normal(size=(300, 2))
      >>> precision_recall(real, real)
      (1.0, 1.0)
      >>> p, r = precision_recall(real, 0.1 * rng.normal(size=(300, 2)))  # collapsed samples
      >>> p > 0.9 and r < 0.3
      True
    """
    check_point_clouds(real_features, fake_features)
    real, fake = _as64("real_features", real_features), _as64("fake_features", fake_features)
    precision = _coverage(fake, real, knn_radii(real, k))
    recall = _coverage(real, fake, knn_radii(fake, k))
    return precision, recall
