"""Tests for gendiff.eval.probe: the linear-probe protocol on separable features and on noise,
agreement with scikit-learn's LogisticRegression, and bad input."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from gendiff.eval.probe import fit_logistic_regression, linear_probe


def _blobs(rng, n, dim, k, sep):
    y = rng.integers(0, k, n)
    centres = sep * rng.normal(size=(k, dim))
    return rng.normal(size=(n, dim)) + centres[y], y


def test_probe_reaches_near_100_percent_on_separable_features():
    rng = np.random.default_rng(0)
    x, y = _blobs(rng, 1200, 16, 5, sep=4.0)
    res = linear_probe(x[:1000], y[:1000], x[1000:], y[1000:])
    assert res.test_accuracy >= 0.99, res
    assert res.train_accuracy >= 0.99 and res.l2 in res.val_accuracy


def test_probe_is_at_chance_on_noise():
    rng = np.random.default_rng(1)
    k = 4
    x, y = rng.normal(size=(2000, 20)), rng.integers(0, k, 2000)
    res = linear_probe(x[:1500], y[:1500], x[1500:], y[1500:])
    # Chance is 1/k = 0.25; 500 test rows give a standard error of 0.019.
    assert abs(res.test_accuracy - 1 / k) < 0.06, res


@pytest.mark.parametrize("l2", [1e-3, 1e-1])
def test_fit_agrees_with_scikit_learn(l2):
    """Objective (1) on standardised features equals sklearn's with C = 1 / (n l2)."""
    rng = np.random.default_rng(2)
    x, y = _blobs(rng, 600, 8, 3, sep=1.0)
    probe = fit_logistic_regression(x, y, l2=l2, tol=1e-5)
    assert float(probe.grad_max) <= 1e-5
    xs = (x - x.mean(0)) / x.std(0)
    sk = SkLogisticRegression(C=1.0 / (len(x) * l2), tol=1e-10, max_iter=10_000).fit(xs, y)
    # sklearn's multinomial weights are defined up to a shift common to all classes; centre both.
    w_ours = np.asarray(probe.weights).T
    w_ours, w_sk = w_ours - w_ours.mean(0), sk.coef_ - sk.coef_.mean(0)
    np.testing.assert_allclose(w_ours, w_sk, atol=2e-3 * max(1.0, np.abs(w_sk).max()))
    np.testing.assert_array_equal(np.asarray(probe.predict(x)), sk.predict(xs))


def test_explicit_validation_split_and_grid_choice():
    rng = np.random.default_rng(3)
    x, y = _blobs(rng, 900, 10, 3, sep=1.5)
    res = linear_probe(
        x[:500], y[:500], x[700:], y[700:], val_features=x[500:700], val_labels=y[500:700],
        l2_grid=(1e-4, 1e-2, 1.0),
    )
    assert set(res.val_accuracy) == {1e-4, 1e-2, 1.0}
    assert res.val_accuracy[res.l2] == max(res.val_accuracy.values())


def test_bad_input():
    x, y = np.zeros((10, 3)), np.zeros(10, int)
    with pytest.raises(ValueError, match=r"features must be \(n, dim\) and labels \(n,\)"):
        linear_probe(x, y[:5], x, y)
    with pytest.raises(ValueError, match="labels must be non-negative integers"):
        linear_probe(x, y.astype(float), x, y)
    with pytest.raises(ValueError, match="train and test features must have one dim"):
        linear_probe(x, y, np.zeros((4, 2)), y[:4])
    with pytest.raises(ValueError, match="l2_grid must be a non-empty sequence of values > 0"):
        linear_probe(x, y, x, y, l2_grid=(0.0,))
    with pytest.raises(ValueError, match=r"val_fraction must lie in \(0, 1\)"):
        linear_probe(x, y, x, y, val_fraction=1.0)
    with pytest.raises(ValueError, match="features contain NaN or inf"):
        linear_probe(np.full((10, 3), np.nan), y, x, y)
