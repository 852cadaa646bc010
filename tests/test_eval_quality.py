"""Tests for the sample-quality scorer, gendiff.eval.SampleScorer."""

import jax
import numpy as np
import pytest
from sklearn.datasets import load_digits

from gendiff import data
from gendiff.eval import NUM_SAMPLES, SampleScorer
from gendiff.metrics import frechet_distance_from_features, sliced_wasserstein


@pytest.fixture(scope="module")
def digits():
    bunch = load_digits()
    images = (bunch.images / 8.0 - 1.0).astype(np.float32)[..., None]  # (N, 8, 8, 1) in [-1, 1]
    order = np.random.default_rng(0).permutation(len(images))
    train, test = order[:1437], order[1437:]
    return images[train], bunch.target[train], images[test], bunch.target[test]


def _pixels(images):
    return np.asarray(images, np.float32).reshape(len(images), -1)


def test_default_count_is_1000():
    assert NUM_SAMPLES == 1000


def _moons():
    """Two-moons points: (reference from the test split, floor pool from the train split)."""
    train, test = data.load("toy2d/two_moons", "train"), data.load("toy2d/two_moons", "test")
    return test.images[:500], train.images


def test_points_figures_lie_between_floor_and_noise():
    reference, pool = _moons()
    scorer = SampleScorer(jax.random.key(0), reference, pool, num_samples=200)
    # A blurred model: real points plus noise of scale 0.3.
    rng = np.random.default_rng(1)
    rows = rng.choice(len(pool), 300, replace=False)
    samples = pool[rows] + 0.3 * rng.standard_normal((300, 2)).astype(np.float32)
    figures = scorer(samples)
    assert set(figures) == {"swd", "swd_floor", "swd_noise", "mmd", "mmd_floor", "mmd_noise"}
    for name in ("swd", "mmd"):
        assert figures[f"{name}_floor"] < figures[name] < figures[f"{name}_noise"], name
    assert scorer.metric == "swd"
    assert scorer.distance(samples) == figures["swd"]
    # Same key, same floor rows; another key draws other rows.
    same = SampleScorer(jax.random.key(0), reference, pool, num_samples=200)
    other = SampleScorer(jax.random.key(1), reference, pool, num_samples=200)
    assert np.array_equal(same._floor, scorer._floor)
    assert not np.array_equal(other._floor, scorer._floor)


def test_images_fd_lies_between_floor_and_noise_and_every_set_has_num_samples_rows(digits):
    train_x, _, test_x, _ = digits
    calls = []

    def features(images):
        calls.append(len(images))
        return _pixels(images)

    n = 300
    scorer = SampleScorer(
        jax.random.key(0), test_x, train_x, features=features, metric="fd_digits", num_samples=n
    )
    rng = np.random.default_rng(2)
    blurred = train_x[-500:] + 0.6 * rng.standard_normal((500, 8, 8, 1)).astype(np.float32)
    figures = scorer(blurred)
    assert set(figures) == {"fd_digits", "fd_digits_floor", "fd_digits_noise"}
    assert figures["fd_digits_floor"] < figures["fd_digits"] < figures["fd_digits_noise"]
    # The reference (test split) once, then samples, floor and noise with n rows each.
    assert calls == [len(test_x), n, n, n]
    # The figure is the Fréchet distance of the first n samples, clipped to [-1, 1].
    expected = frechet_distance_from_features(_pixels(np.clip(blurred[:n], -1, 1)), _pixels(test_x))
    np.testing.assert_allclose(figures["fd_digits"], expected, rtol=1e-9)
    # Baselines are computed once per scorer.
    assert scorer.distance(blurred) == figures["fd_digits"]
    assert scorer.baselines() == {k: v for k, v in figures.items() if k != "fd_digits"}
    assert calls == [len(test_x), n, n, n, n]


def test_accuracy_of_class_conditional_samples(digits):
    train_x, train_y, test_x, test_y = digits
    # An independent classifier: the nearest class mean of the train digits.
    means = np.stack([_pixels(train_x[train_y == k]).mean(0) for k in range(10)])

    def logits(images):
        return -(((_pixels(images)[:, None, :] - means[None]) ** 2).sum(-1))

    scorer = SampleScorer(
        jax.random.key(0), test_x, train_x, features=_pixels, classifier=logits, num_samples=300
    )
    figures = scorer(test_x, labels=test_y)
    assert figures["accuracy"] > 0.8
    # Label coverage: real digits reach every class about evenly (entropy near log 10); one
    # digit repeated reaches one class (entropy 0); the same figures for floor and noise.
    assert figures["label_coverage"] == figures["label_coverage_floor"] == 1.0
    assert np.log(10) - 0.05 < figures["label_entropy"] <= np.log(10)
    collapsed = scorer(np.repeat(test_x[:1], 300, axis=0))
    assert collapsed["label_coverage"] == 0.1 and collapsed["label_entropy"] == 0.0
    assert collapsed["label_entropy_noise"] < collapsed["label_entropy_floor"]
    assert scorer.accuracy(test_x, np.roll(test_y, 1)) < 0.3  # wrong labels score near chance
    assert scorer.metric == "fd_classifier"
    with pytest.raises(ValueError, match="labels must be integers"):
        scorer.accuracy(test_x, test_y[:10])
    with pytest.raises(ValueError, match="classifier="):
        SampleScorer(
            jax.random.key(0), test_x, train_x, features=_pixels, num_samples=300
        ).accuracy(test_x, test_y)


def test_bad_inputs_are_clear_errors(digits):
    train_x, _, test_x, _ = digits
    key = jax.random.key(0)
    scorer = SampleScorer(key, test_x, train_x, features=_pixels, num_samples=300)
    with pytest.raises(ValueError, match="num_samples=300"):
        scorer(train_x[:299])
    with pytest.raises(ValueError, match=r"\(n, 8, 8, 1\)"):
        scorer(np.zeros((300, 28, 28, 1)))
    with pytest.raises(ValueError, match="NaN"):
        scorer(np.full((300, 8, 8, 1), np.nan))
    with pytest.raises(ValueError, match="features="):
        SampleScorer(key, test_x, train_x, num_samples=300)
    with pytest.raises(ValueError, match="as many rows"):
        SampleScorer(key, test_x, train_x[:100], features=_pixels, num_samples=300)
    with pytest.raises(ValueError, match="shape of the reference"):
        SampleScorer(key, test_x, np.zeros((500, 2)), num_samples=300)


def test_swd_figure_matches_the_metric_with_the_scorer_key():
    reference, pool = _moons()
    key = jax.random.key(3)
    samples = pool[:200]
    swd_key = jax.random.fold_in(key, 3)
    expected = float(sliced_wasserstein(swd_key, samples, reference))
    assert SampleScorer(key, reference, pool, num_samples=200).distance(samples) == expected
