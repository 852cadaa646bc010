"""Inception Score, KID, precision/recall and FID against direct float64 implementations, and the
evaluation helpers around them (input conversion, reference statistics, warnings)."""

import itertools

import numpy as np
import pytest

from gendiff.eval import inception as evaluation
from gendiff.metrics import feature_metrics
from gendiff.metrics.feature_metrics import (
    inception_score,
    kernel_inception_distance,
    knn_radii,
    polynomial_mmd2,
    precision_recall,
)
from gendiff.metrics.frechet import frechet_distance, frechet_distance_from_features

# ----------------------------------------------------------------------------- direct references


def direct_inception_score(logits, splits):
    """exp(mean_x KL(p(y|x) || p(y))) per split, with explicit per-row loops."""
    logits = np.asarray(logits, np.float64)
    n = len(logits)
    scores = []
    for k in range(splits):
        rows = [
            np.exp(r) / np.exp(r).sum() for r in logits[k * n // splits : (k + 1) * n // splits]
        ]
        marginal = sum(rows) / len(rows)
        kls = [sum(p[c] * np.log(p[c] / marginal[c]) for c in range(len(p))) for p in rows]
        scores.append(np.exp(np.mean(kls)))
    return np.mean(scores), np.std(scores)


def direct_mmd2(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, as explicit sums over pairs."""
    d = x.shape[1]
    k = lambda a, b: (float(np.dot(a, b)) / d + 1.0) ** 3
    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    xy = sum(k(a, b) for a in x for b in y) / (n * m)
    return xx + yy - 2.0 * xy


def direct_precision_recall(real, fake, k):
    """Kynkaanniemi et al. with full distance matrices and sorting."""

    def radii(a):
        d = np.linalg.norm(a[:, None] - a[None], axis=-1)
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def covered(points, centres, r):
        d = np.linalg.norm(points[:, None] - centres[None], axis=-1)
        return np.mean([np.any(row <= r) for row in d])

    return covered(fake, real, radii(real)), covered(real, fake, radii(fake))


# ----------------------------------------------------------------------------- tests


def test_inception_score_equals_its_definition():
    logits = 3.0 * np.random.default_rng(0).normal(size=(53, 7))  # 53 rows: unequal splits
    for splits in (1, 10):
        mean, std = inception_score(logits, splits=splits)
        ref_mean, ref_std = direct_inception_score(logits, splits)
        assert abs(mean - ref_mean) < 1e-10 and abs(std - ref_std) < 1e-10
    # Closed forms: identical predictions score 1; confident predictions spread evenly over C
    # classes score C.
    assert inception_score(np.tile([1.0, 2.0, 3.0], (20, 1)), splits=2) == pytest.approx((1.0, 0.0))
    confident = 50.0 * np.eye(5)[np.arange(40) % 5]
    assert inception_score(confident, splits=4)[0] == pytest.approx(5.0, rel=1e-12)


def test_kid_equals_direct_polynomial_mmd():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(25, 6)), 0.5 + rng.normal(size=(30, 6))
    assert abs(polynomial_mmd2(x, y) - direct_mmd2(x, y)) < 1e-10
    kid, kid_std = kernel_inception_distance(x, y, num_subsets=4, subset_size=12, seed=3)
    draws = np.random.default_rng(3)  # the documented draws: x rows, then y rows, per subset
    values = []
    for _ in range(4):
        rows_x = draws.choice(len(x), 12, replace=False)
        rows_y = draws.choice(len(y), 12, replace=False)
        values.append(direct_mmd2(x[rows_x], y[rows_y]))
    assert abs(kid - np.mean(values)) < 1e-10 and abs(kid_std - np.std(values)) < 1e-10
    assert kid > 0.1  # shifted sets


def test_precision_recall_equal_direct_implementation(monkeypatch):
    monkeypatch.setattr(feature_metrics, "_BLOCK", 7)  # several blocks and a partial one
    rng = np.random.default_rng(2)
    real = rng.normal(size=(40, 5))
    fake = 0.6 * rng.normal(size=(33, 5)) + 0.4
    p, r = precision_recall(real, fake, k=3)
    ref_p, ref_r = direct_precision_recall(real, fake, 3)
    assert (p, r) == (ref_p, ref_r)
    assert 0.0 < p < 1.0 and 0.0 < r < 1.0  # a case that discriminates
    np.testing.assert_allclose(
        knn_radii(real, 3),
        np.sort(np.linalg.norm(real[:, None] - real[None], axis=-1), axis=1)[:, 3],
        rtol=1e-12,
    )


def test_fid_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(3).normal(size=(300, 32)) * np.linspace(0.1, 3.0, 32)
    assert frechet_distance_from_features(features, features) < 1e-6
    stats = evaluation.fid_statistics(features)
    assert frechet_distance(*stats, *stats) < 1e-6
    figures = evaluation.image_metrics(
        features, np.zeros((300, 10)), features, kid_subset_size=100, kid_subsets=3
    )
    # (KID of a set with itself is not 0: rows drawn into both subsets add k(x, x) to the cross
    # term only, so it is negative; it is checked against its definition above.)
    assert figures["fid"] < 1e-6
    assert figures["precision"] == figures["recall"] == 1.0 and figures["is"] == pytest.approx(1.0)


def test_fid_warns_with_fewer_samples_than_dimensions():
    with pytest.warns(UserWarning, match="fewer samples than dimensions"):
        evaluation.fid_statistics(np.random.default_rng(0).normal(size=(10, 16)))


def test_reference_statistics_round_trip(tmp_path):
    features = np.random.default_rng(4).normal(size=(50, 4))
    mu, sigma = evaluation.fid_statistics(features)
    path = str(tmp_path / "ref.npz")
    evaluation.save_reference_statistics(path, mu, sigma)
    mu2, sigma2 = evaluation.load_reference_statistics(path)
    np.testing.assert_array_equal(mu2, mu)
    np.testing.assert_array_equal(sigma2, sigma)
    with pytest.raises(ValueError, match=r"mu must have shape \(dim,\) and sigma \(dim, dim\)"):
        evaluation.save_reference_statistics(path, mu, sigma[:3])


def test_image_conversion():
    u8 = np.array([0, 51, 255], np.uint8).reshape(1, 1, 3, 1).repeat(3, axis=-1)
    np.testing.assert_allclose(evaluation.to_unit_range(u8)[0, 0, :, 0], [0.0, 0.2, 1.0])
    floats = np.array([-1.0, 0.0, 1.0], np.float32).reshape(1, 1, 3, 1).repeat(3, axis=-1)
    np.testing.assert_allclose(evaluation.to_unit_range(floats)[0, 0, :, 0], [0.0, 0.5, 1.0])


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((4, 4, 3), np.float32), r"\(num_images, H, W, 3\)"),  # rank
        (np.zeros((1, 4, 4, 1), np.float32), r"\(num_images, H, W, 3\)"),  # channels
        (np.full((1, 4, 4, 3), 1.5, np.float32), r"\[-1, 1\]"),  # range
        (np.full((1, 4, 4, 3), 3, np.int32), "uint8 in"),  # dtype
        (np.full((1, 4, 4, 3), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_images_are_rejected(images, match):
    with pytest.raises(ValueError, match=match):
        evaluation.to_unit_range(images)


def test_bad_metric_arguments():
    x = np.zeros((10, 4))
    with pytest.raises(ValueError, match=r"subset_size must be in \[2, min\(n1, n2\) = 10\]"):
        kernel_inception_distance(x, x, subset_size=11)
    with pytest.raises(ValueError, match="same point dimension"):
        precision_recall(x, np.zeros((10, 3)))
    with pytest.raises(ValueError, match=r"splits must be in \[1, num_samples=10\]"):
        inception_score(x, splits=11)
    with pytest.raises(ValueError, match=r"k must be in \[1, num_samples - 1 = 9\]"):
        knn_radii(x, k=10)


# ----------------------------------------------------------------------------- the scorer


def test_sample_scorer_adds_inception_figures_with_baselines():
    import jax

    from gendiff.eval import SampleScorer

    rng = np.random.default_rng(5)
    projection = rng.normal(size=(4 * 4 * 3, 24))
    seen_channels = []

    def fake_inception(images):  # (pool3, logits): a fixed random projection, for the wiring
        seen_channels.append(images.shape[-1])
        flat = np.asarray(images, np.float64).reshape(len(images), -1)
        return np.tanh(flat @ projection), flat[:, :5]

    real = np.tanh(rng.normal(size=(200, 4, 4, 1)) * 0.3 + 0.2)  # grayscale in [-1, 1]
    features = lambda x: np.asarray(x).reshape(len(x), -1)
    scorer = SampleScorer(
        jax.random.key(0),
        real[:100],
        real[100:],
        features=features,
        num_samples=50,
        inception=fake_inception,
    )
    figures = scorer(real[100:150])
    for name in ("fid", "is", "kid", "precision", "recall"):
        assert {name, f"{name}_floor", f"{name}_noise"} <= set(figures), name
    assert set(seen_channels) == {3}  # grayscale repeated to RGB
    # Real rows score like the floor and far from the noise.
    assert figures["fid"] < 0.5 * figures["fid_noise"]
    assert figures["precision"] > figures["precision_noise"]
    # The given reference statistics are what FID is measured against.
    mu, sigma = evaluation.fid_statistics(fake_inception(np.repeat(real[100:150], 3, -1))[0])
    scorer = SampleScorer(
        jax.random.key(0),
        real[:100],
        real[100:],
        features=features,
        num_samples=50,
        inception=fake_inception,
        inception_reference_statistics=(mu, sigma),
    )
    assert scorer(real[100:150])["fid"] < 1e-6
    with pytest.raises(ValueError, match="1 or 3 channels"):
        points = real.reshape(200, -1)
        SampleScorer(
            jax.random.key(0), points[:100], points[100:], num_samples=50, inception=fake_inception
        )


def test_inception_features_batches_pads_and_converts():
    import jax
    import jax.numpy as jnp

    extractor = evaluation.InceptionFeatures({"params": {}}, batch_size=4)

    def fake_apply(variables, x):  # per-image figures that reveal order, padding and range
        del variables
        pool3 = jnp.tile(jnp.mean(x, axis=(1, 2)), (1, 2048 // 3 + 1))[:, :2048]
        return pool3, jnp.tile(jnp.max(x, axis=(1, 2, 3))[:, None], (1, 1008))

    extractor._apply = jax.jit(fake_apply)
    images = np.random.default_rng(6).integers(0, 256, (10, 5, 6, 3), dtype=np.uint8)
    pool3, logits = extractor(images)  # batches of 4, 4 and 2 (padded to 4)
    unit = images.astype(np.float64) / 255.0
    assert pool3.shape == (10, 2048) and logits.shape == (10, 1008)
    np.testing.assert_allclose(pool3[:, :3], unit.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(logits[:, 0], unit.max(axis=(1, 2, 3)), rtol=1e-6)
    floats = images.astype(np.float32) / 127.5 - 1.0  # the same images in [-1, 1]
    np.testing.assert_allclose(extractor(floats)[0], pool3, atol=1e-6)
