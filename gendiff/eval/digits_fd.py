"""Fréchet distance in the feature space of a small digits classifier ("FD-digits").

This is *not* FID: there is no Inception network. A small CNN
(`gendiff.nets.classifier.ImageClassifier`) is trained on the real digits through
`gendiff.train.fit`, and the Fréchet distance is measured between Gaussians fitted to its
penultimate ReLU features. Numbers are only comparable between runs that use the same
classifier (same cache, data, seed and config).

The trained parameters are cached in `cache_dir` as `params.msgpack`
(flax.serialization) plus `meta.json` (config, seed, input shape, a SHA-256
fingerprint of the training data, accuracies), written by process 0 only and
atomically (`gendiff.eval.io`). The training run itself (checkpoint, metrics.jsonl)
lives in `cache_dir/training/<key digest>`, so an interrupted training resumes. A later
`load_or_train` with the same data, seed and config loads the cache instead of
retraining; anything else retrains and overwrites it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Callable

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gendiff.data import ArrayBatches
from gendiff.eval.io import write_bytes, write_json
from gendiff.metrics._validation import check_finite, check_rank
from gendiff.metrics.frechet import frechet_distance_from_features
from gendiff.nets.classifier import ImageClassifier
from gendiff.train import create_train_state, fit, make_optimizer, make_train_step

PARAMS_FILE = "params.msgpack"
META_FILE = "meta.json"
TRAINING_SUBDIR = "training"


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """Architecture and optimisation settings of the feature classifier.

    Attributes:
      num_classes: number of labels (labels are integers in [0, num_classes)).
      channels: convolution widths of `ImageClassifier`.
      feature_dim: width of the feature layer.
      dropout_rate: dropout on the features during training.
      learning_rate: peak AdamW learning rate (cosine-decayed to 0).
      weight_decay: AdamW weight decay.
      batch_size: global minibatch size (epoch-shuffled rows, `gendiff.data.ArrayBatches`).
      num_epochs: training length: num_epochs * (N // batch_size) steps for N images.

    Example:
      >>> from gendiff.eval import ClassifierConfig
      >>> config = ClassifierConfig(channels=(8,), feature_dim=16, num_epochs=2)
      >>> model = config.model()
      >>> model.channels, model.feature_dim, model.num_classes
      ((8,), 16, 10)
      >>> x = jnp.zeros((5, 8, 8, 1))
      >>> jax.eval_shape(lambda k: model.apply(model.init(k, x), x), key).shape  # logits
      (5, 10)
    """

    num_classes: int = 10
    channels: tuple[int, ...] = (16, 32)
    feature_dim: int = 128
    dropout_rate: float = 0.1
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    num_epochs: int = 15

    def model(self) -> ImageClassifier:
        """The (untrained) network these settings describe."""
        return ImageClassifier(
            num_classes=self.num_classes,
            channels=self.channels,
            feature_dim=self.feature_dim,
            dropout_rate=self.dropout_rate,
        )


def _check_images(name: str, images, image_shape: tuple[int, ...] | None = None) -> np.ndarray:
    check_rank(name, images, 4, "(num_images, H, W, C)")
    images = np.asarray(images, dtype=np.float32)
    if images.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image, got shape {images.shape}.")
    if image_shape is not None and images.shape[1:] != tuple(image_shape):
        raise ValueError(
            f"{name} must have shape (num_images, {', '.join(map(str, image_shape))}) "
            f"to match the classifier, got {images.shape}."
        )
    check_finite(name, images)
    return images


def _check_labels(labels, num_images: int, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (num_images,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be integers of shape ({num_images},), got {labels.dtype} {labels.shape}."
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got range [{labels.min()}, {labels.max()}]."
        )
    return labels.astype(np.int32)


class DigitsFeatureExtractor:
    """A trained `ImageClassifier` used as a feature map for FD-digits.

    Use `load_or_train` to build one. All methods take images of the training
    shape (num_images, H, W, C) scaled like the training data ([-1, 1]) and run
    jitted forward passes in fixed-size batches.

    Attributes:
      config: the `ClassifierConfig` it was trained with.
      params: the Flax parameters.
      image_shape: (H, W, C) of the inputs.
      meta: the cache metadata (seed, data fingerprint, accuracies).

    Example:
      >>> from gendiff.eval import ClassifierConfig, DigitsFeatureExtractor
      >>> config = ClassifierConfig(channels=(4,), feature_dim=8)  # untrained, for the shapes
      >>> params = config.model().init(key, jnp.zeros((1, 8, 8, 1)))
      >>> extractor = DigitsFeatureExtractor(config, params, (8, 8, 1), meta={})
      >>> images = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 1)).astype(np.float32)
      >>> features = extractor.features(images, batch_size=4)
      >>> features.shape, bool((features >= 0).all())  # penultimate ReLU features
      ((3, 8), True)
      >>> extractor.logits(images, batch_size=4).shape
      (3, 10)
    """

    def __init__(self, config: ClassifierConfig, params, image_shape: tuple[int, ...], meta: dict):
        self.config = config
        self.params = params
        self.image_shape = tuple(image_shape)
        self.meta = meta
        model = config.model()
        self._logits_fn = jax.jit(model.apply)
        self._features_fn = jax.jit(functools.partial(model.apply, return_features=True))

    def _batched(self, fn: Callable, images, batch_size: int) -> np.ndarray:
        images = _check_images("images", images, self.image_shape)
        outputs = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            # Pad to a full batch so every call reuses one compiled computation.
            padded = np.zeros((batch_size, *self.image_shape), np.float32)
            padded[: len(chunk)] = chunk
            outputs.append(np.asarray(fn(self.params, padded))[: len(chunk)])
        return np.concatenate(outputs, axis=0)

    def features(self, images, batch_size: int = 500) -> np.ndarray:
        """Penultimate-layer (ReLU) features.

        Args:
          images: (num_images, H, W, C) images, same H, W, C as the training images.
          batch_size: images per forward pass.

        Returns:
          float32 array of shape (num_images, feature_dim).

        Example:
          >>> from gendiff.eval.digits_fd import ClassifierConfig, DigitsFeatureExtractor
          >>> config = ClassifierConfig()  # untrained parameters, for the shapes
          >>> params = config.model().init(key, jnp.zeros((1, 8, 8, 1)))
          >>> extractor = DigitsFeatureExtractor(config, params, (8, 8, 1), meta={})
          >>> images = np.zeros((3, 8, 8, 1), np.float32)
          >>> extractor.features(images).shape
          (3, 128)
        """
        return self._batched(self._features_fn, images, batch_size)

    def logits(self, images, batch_size: int = 500) -> np.ndarray:
        """Class logits.

        Args:
          images: (num_images, H, W, C) images, same H, W, C as the training images.
          batch_size: images per forward pass.

        Returns:
          float32 array of shape (num_images, num_classes).

        Example:
          >>> from gendiff.eval.digits_fd import ClassifierConfig, DigitsFeatureExtractor
          >>> config = ClassifierConfig()  # untrained parameters, for the shapes
          >>> params = config.model().init(key, jnp.zeros((1, 8, 8, 1)))
          >>> extractor = DigitsFeatureExtractor(config, params, (8, 8, 1), meta={})
          >>> images = np.zeros((3, 8, 8, 1), np.float32)
          >>> extractor.logits(images).shape
          (3, 10)
        """
        return self._batched(self._logits_fn, images, batch_size)

    def accuracy(self, images, labels) -> float:
        """Fraction of images whose arg-max logit equals the label.

        Args:
          images: (num_images, H, W, C) images.
          labels: (num_images,) integer labels.

        Returns:
          Accuracy in [0, 1] as a Python float.

        Example:
          >>> from gendiff.eval.digits_fd import ClassifierConfig, DigitsFeatureExtractor
          >>> config = ClassifierConfig()  # untrained parameters, for the shapes
          >>> params = config.model().init(key, jnp.zeros((1, 8, 8, 1)))
          >>> extractor = DigitsFeatureExtractor(config, params, (8, 8, 1), meta={})
          >>> images = np.zeros((3, 8, 8, 1), np.float32)
          >>> 0.0 <= extractor.accuracy(images, np.zeros(3, np.int32)) <= 1.0
          True
        """
        labels = _check_labels(labels, np.shape(images)[0], self.config.num_classes)
        return float(np.mean(np.argmax(self.logits(images), axis=1) == labels))


def _fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in (images, labels):
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _train(
    config: ClassifierConfig, images: np.ndarray, labels: np.ndarray, seed: int, workdir: str
):
    """Softmax cross-entropy with AdamW (cosine-decayed rate) through `gendiff.train.fit`.

    Returns the trained parameters (host arrays). Every process must call this: the
    batches are sharded over all devices and `fit` checkpoints in `workdir`.
    """
    model = config.model()
    n = images.shape[0]
    batch_size = min(config.batch_size, n)
    num_steps = config.num_epochs * (n // batch_size)
    init_key, train_key = jax.random.split(jax.random.key(seed))
    params = model.init(init_key, jnp.asarray(images[:1]))
    tx = make_optimizer(
        {
            "optimizer": "adamw",
            "learning_rate": config.learning_rate,
            "schedule": "cosine",
            "num_steps": num_steps,
            "weight_decay": config.weight_decay,
        }
    )

    def loss_fn(params, batch, key):
        logits = model.apply(params, batch["image"], train=True, rngs={"dropout": key})
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
        accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == batch["label"])
        return loss, {"accuracy": accuracy}

    state, _ = fit(
        create_train_state(params, tx),
        make_train_step(loss_fn, tx, ema_decay=0.0),  # the raw parameters are used
        ArrayBatches({"image": images, "label": labels}, batch_size=batch_size, seed=seed),
        train_key,
        num_steps=num_steps,
        workdir=workdir,
        checkpoint_every=None,
        log_every=max(1, n // batch_size),
        progress=False,
    )
    return jax.device_get(state.params)


def _read_meta(path: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def load_or_train(
    cache_dir: str | os.PathLike,
    train_images,
    train_labels,
    test_images=None,
    test_labels=None,
    seed: int = 0,
    config: ClassifierConfig | None = None,
) -> DigitsFeatureExtractor:
    """Loads the cached classifier for this data/seed/config, or trains and caches one.

    Training is deterministic given the seed: by default 15 epochs of a small CNN,
    a few seconds on CPU for the 8x8 sklearn digits. In a multi-process job every process
    must call this (training is data-parallel over all devices); only process 0 writes the
    cache.

    Args:
      cache_dir: directory for params.msgpack, meta.json and training/ (created if needed).
      train_images: (N, H, W, C) images scaled to [-1, 1].
      train_labels: (N,) integer labels in [0, config.num_classes).
      test_images: optional held-out images; their accuracy is put in meta["test_accuracy"]
        (and written to meta.json when training).
      test_labels: labels for test_images (required with them).
      seed: seed for initialisation, shuffling and dropout.
      config: classifier settings; ClassifierConfig() by default.

    Returns:
      A `DigitsFeatureExtractor`.

    Example:
      >>> import tempfile
      >>> from gendiff.data import load
      >>> train, test = load("digits", "train"), load("digits", "test")
      >>> extractor = load_or_train(tempfile.mkdtemp(), train.images, train.labels,
      ...                           test.images, test.labels, config=ClassifierConfig(num_epochs=2))
      >>> extractor.meta["test_accuracy"] > 0.5  # chance is 0.1; the default 15 epochs give ~0.98
      True
    """
    config = config or ClassifierConfig()
    train_images = _check_images("train_images", train_images)
    if train_images.min() < -1.0 - 1e-6 or train_images.max() > 1.0 + 1e-6:
        raise ValueError(
            "train_images must be scaled to [-1, 1], got range "
            f"[{train_images.min():.3g}, {train_images.max():.3g}]."
        )
    train_labels = _check_labels(train_labels, train_images.shape[0], config.num_classes)
    if (test_images is None) != (test_labels is None):
        raise ValueError("test_images and test_labels must be given together.")

    # Everything that determines the trained parameters; a cache hit must match all of it.
    key = {
        "config": dataclasses.asdict(config),
        "seed": int(seed),
        "image_shape": list(train_images.shape[1:]),
        "train_data_sha256": _fingerprint(train_images, train_labels),
    }
    key["config"]["channels"] = list(config.channels)
    cache_dir = os.fspath(cache_dir)
    params_path = os.path.join(cache_dir, PARAMS_FILE)
    meta_path = os.path.join(cache_dir, META_FILE)
    image_shape = train_images.shape[1:]

    meta = _read_meta(meta_path)
    cached = meta is not None and meta.get("key") == key and os.path.exists(params_path)
    if cached:
        template = config.model().init(jax.random.key(0), jnp.zeros((1, *image_shape)))
        with open(params_path, "rb") as f:
            params = flax.serialization.from_bytes(template, f.read())
    else:
        # One training directory per cache key: a run with other data, seed or config never
        # resumes from this one's checkpoint.
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        workdir = os.path.join(cache_dir, TRAINING_SUBDIR, digest)
        params = _train(config, train_images, train_labels, seed, workdir)
        meta = {"key": key, "test_accuracy": None}
    extractor = DigitsFeatureExtractor(config, params, image_shape, meta)
    if test_images is not None:
        extractor.meta["test_accuracy"] = extractor.accuracy(test_images, test_labels)
    if not cached:
        extractor.meta["train_accuracy"] = extractor.accuracy(train_images, train_labels)
        # Process 0 only. Parameters first: meta.json is what marks the cache as complete.
        write_bytes(params_path, flax.serialization.to_bytes(params))
        write_json(meta_path, extractor.meta)
    return extractor


def fd_digits(extractor: DigitsFeatureExtractor, images_a, images_b) -> float:
    """FD-digits: Fréchet distance between two image sets in the classifier's feature space.

    Not FID (no Inception network); only comparable between runs sharing the
    same trained classifier.

    Args:
      extractor: a trained `DigitsFeatureExtractor`.
      images_a: (n_a, H, W, C) images in [-1, 1].
      images_b: (n_b, H, W, C) images in [-1, 1].

    Returns:
      The squared Fréchet distance as a Python float.

    Example:
      >>> from gendiff.eval.digits_fd import ClassifierConfig, DigitsFeatureExtractor
      >>> config = ClassifierConfig()  # untrained parameters, for the call; use load_or_train
      >>> params = config.model().init(key, jnp.zeros((1, 8, 8, 1)))
      >>> extractor = DigitsFeatureExtractor(config, params, (8, 8, 1), meta={})
      >>> images = np.asarray(jax.random.uniform(key, (50, 8, 8, 1), minval=-1.0))
      >>> abs(fd_digits(extractor, images, images)) < 1e-3  # a set is at distance 0 from itself
      True
    """
    return frechet_distance_from_features(
        extractor.features(images_a), extractor.features(images_b)
    )
