"""Tests for the digits classifier and FD in its feature space (FD-digits)."""

import json

import jax
import jax.numpy as jnp
import matplotlib.image
import numpy as np
import pytest
from sklearn.datasets import load_digits

from gendiff.eval import digits_fd, fd_digits, grid_image_size, load_or_train, save_image_grid
from gendiff.nets.classifier import ImageClassifier


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    images = (data.images / 8.0 - 1.0).astype(np.float32)[
        ..., None
    ]  # 0..16 -> [-1, 1], (N, 8, 8, 1)
    order = np.random.default_rng(0).permutation(len(images))
    train, test = order[:1437], order[1437:]
    return images[train], data.target[train], images[test], data.target[test]


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("cache") / "digits_classifier"
    return cache_dir, load_or_train(cache_dir, *digits, seed=0)


def test_classifier_shapes_for_general_images():
    model = ImageClassifier(num_classes=5, feature_dim=32)
    x = jnp.zeros((3, 12, 10, 3))
    params = model.init(jax.random.key(0), x)
    assert model.apply(params, x).shape == (3, 5)
    assert model.apply(params, x, return_features=True).shape == (3, 32)
    train_logits = model.apply(params, x, train=True, rngs={"dropout": jax.random.key(1)})
    assert train_logits.shape == (3, 5)
    with pytest.raises(ValueError, match=r"\(batch, H, W, C\)"):
        model.apply(params, jnp.zeros((12, 10, 3)))


def test_held_out_accuracy_is_high(digits, trained):
    _, extractor = trained
    _, _, test_x, test_y = digits
    assert extractor.accuracy(test_x, test_y) >= 0.95
    assert extractor.meta["test_accuracy"] == extractor.accuracy(test_x, test_y)


def test_features_and_logits(digits, trained):
    _, extractor = trained
    test_x = digits[2]
    features = extractor.features(test_x)
    assert features.shape == (len(test_x), 128) and features.dtype == np.float32
    assert np.all(features >= 0)  # ReLU features
    assert extractor.logits(test_x).shape == (len(test_x), 10)
    # Batching (with a padded last batch) does not change the result.
    np.testing.assert_allclose(
        extractor.features(test_x, batch_size=7), features, rtol=1e-5, atol=1e-5
    )
    with pytest.raises(ValueError, match=r"\(num_images, 8, 8, 1\)"):
        extractor.features(np.zeros((4, 28, 28, 1)))


def test_fd_digits_separates_real_digits_from_noise(digits, trained):
    _, extractor = trained
    train_x, _, test_x, _ = digits
    noise = np.random.default_rng(1).uniform(-1.0, 1.0, size=test_x.shape)
    fd_real = fd_digits(extractor, train_x, test_x)
    fd_noise = fd_digits(extractor, noise, test_x)
    assert fd_real * 10 < fd_noise


def test_cache_round_trip_loads_identical_parameters_without_training(digits, trained, monkeypatch):
    cache_dir, extractor = trained
    meta = json.loads((cache_dir / "meta.json").read_text())
    assert meta["key"]["seed"] == 0 and meta["key"]["image_shape"] == [8, 8, 1]
    assert meta["test_accuracy"] >= 0.95

    def no_training(*args, **kwargs):
        raise AssertionError("retrained although a matching cache exists")

    monkeypatch.setattr(digits_fd, "_train", no_training)
    loaded = load_or_train(cache_dir, *digits, seed=0)
    test_x = digits[2]
    np.testing.assert_array_equal(loaded.features(test_x), extractor.features(test_x))
    # A different seed does not match the cache and trains.
    with pytest.raises(AssertionError, match="retrained"):
        load_or_train(cache_dir, *digits, seed=1)


def test_load_or_train_rejects_bad_training_data(digits, tmp_path):
    train_x, train_y, _, _ = digits
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        load_or_train(tmp_path, (train_x + 1.0) * 8.0, train_y)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\)"):
        load_or_train(tmp_path, train_x, train_y + 1)
    with pytest.raises(ValueError, match="together"):
        load_or_train(tmp_path, train_x, train_y, test_images=train_x)


def test_digits_grid_png(digits, tmp_path):
    path = tmp_path / "digits.png"
    save_image_grid(path, digits[2][:64], title="sklearn digits")
    assert matplotlib.image.imread(path).shape[:2] == grid_image_size(64, 8, 8, title=True)
