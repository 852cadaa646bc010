"""The one sample-quality scorer: a distance to held-out data, with its floor and noise values.

A distance between generated samples and real data means little on its own, and the Fréchet
distance is biased by the number of samples (fewer samples, larger FD). So every figure comes
with two baselines measured the same way, with the same number of rows, against the same
held-out (test) data:

- the floor: ``num_samples`` real rows that are not the reference (the train split);
- the noise value: ``num_samples`` rows of standard Gaussian noise (clipped to [-1, 1] for
  images).

A model is good when its figure lies near the floor and far below the noise value. Images are
scored by the Fréchet distance in the features of a classifier trained on the real data
(``fd_digits`` for the 8x8 digits, ``fd_classifier`` elsewhere; this is not FID), points by
the sliced Wasserstein distance and the unbiased RBF MMD^2, and class-conditional samples also
by the accuracy of an independent classifier on their intended labels.

Headline figures use :data:`NUM_SAMPLES` rows, so that they compare across experiments.

With ``inception=`` (an :class:`gendiff.eval.InceptionFeatures` built from local weights) images
also get the paper-comparable figures of :func:`gendiff.eval.image_metrics` (fid, is, kid,
precision, recall, with their floor and noise values) in pytorch-fid's Inception-v3 features;
single-channel images are repeated to RGB first. Papers use 50,000 samples for FID.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np

from gendiff.metrics._validation import check_finite
from gendiff.metrics.frechet import frechet_distance, gaussian_statistics
from gendiff.metrics.mmd import mmd_rbf
from gendiff.metrics.modes import label_coverage
from gendiff.metrics.swd import sliced_wasserstein

NUM_SAMPLES = 1000  # rows behind every headline figure (samples, floor and noise alike)


class SampleScorer:
    """Scores samples against reference data, with floor and noise values of the same size.

    Every figure is computed on exactly ``num_samples`` rows: the first ``num_samples``
    samples, ``num_samples`` rows of ``floor_pool`` drawn without replacement, and
    ``num_samples`` noise rows. The baselines, the reference statistics and the SWD
    projections are computed once per scorer, so scoring many sample sets (one per sampler
    or per NFE) costs one feature pass each.

    Images, shape (n, H, W, C) in [-1, 1] (samples are clipped to [-1, 1]):
    ``{metric}``, ``{metric}_floor`` and ``{metric}_noise``, the Fréchet distance in
    ``features`` space. Points, shape (n, d): ``swd``, ``swd_floor``, ``swd_noise`` and
    ``mmd``, ``mmd_floor``, ``mmd_noise``. Images with ``classifier``: ``label_coverage`` and
    ``label_entropy`` of the predicted classes (:func:`gendiff.metrics.label_coverage`; mode
    collapse shows here), with their floor and noise values; with labels also ``accuracy``.

    Args:
      key: PRNG key of the floor rows, the noise and the SWD projections.
      reference: (m, ...) held-out real data every figure is measured against (the test split).
      floor_pool: (N, ...) other real data, N >= num_samples (the train split).
      features: for images, ``features(images) -> (n, dim)``, e.g.
        ``DigitsFeatureExtractor.features``; required for images, unused for points.
      metric: name of the image figure: 'fd_digits' (features of the digits classifier)
        or 'fd_classifier' (the default: features of a classifier of another image set).
      classifier: optional ``classifier(images) -> (n, num_classes)`` logits, independent of
        the generator, for the accuracy of class-conditional samples.
      num_samples: rows behind every figure; :data:`NUM_SAMPLES` for headline figures.
      inception: optional ``inception(images) -> (pool3, logits)`` for images, e.g.
        :class:`gendiff.eval.InceptionFeatures`; adds fid, is, is_std, kid, kid_std, precision
        and recall (and their floor and noise values).
      inception_reference_statistics: optional (mu, sigma) of pool3 features FID is measured
        against (e.g. training-set statistics); by default those of ``reference``.

    Example:
      >>> import jax, numpy as np
      >>> from gendiff.data import load
      >>> train, test = load("toy2d/two_moons", "train"), load("toy2d/two_moons", "test")
      >>> scorer = SampleScorer(jax.random.key(0), test.images, train.images, num_samples=200)
      >>> figures = scorer(train.images[-200:])  # real data scores near the floor
      >>> figures["swd_floor"] < figures["swd_noise"], figures["swd"] < figures["swd_noise"]
      (True, True)
    """

    def __init__(
        self,
        key: jax.Array,
        reference,
        floor_pool,
        *,
        features: Callable[[np.ndarray], np.ndarray] | None = None,
        metric: str = "fd_classifier",
        classifier: Callable[[np.ndarray], np.ndarray] | None = None,
        num_samples: int = NUM_SAMPLES,
        inception: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
        inception_reference_statistics: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        reference = np.asarray(reference, np.float32)
        floor_pool = np.asarray(floor_pool, np.float32)
        if reference.ndim not in (2, 4):
            raise ValueError(
                "reference must be images (num_images, H, W, C) or points (num_points, dim), "
                f"got shape {reference.shape}."
            )
        if floor_pool.shape[1:] != reference.shape[1:]:
            raise ValueError(
                "floor_pool rows must have the shape of the reference rows "
                f"{reference.shape[1:]}, got {floor_pool.shape[1:]}."
            )
        if int(num_samples) < 2:
            raise ValueError(f"num_samples must be >= 2, got {num_samples}.")
        if len(floor_pool) < num_samples:
            raise ValueError(
                f"floor_pool has {len(floor_pool)} rows, fewer than num_samples={num_samples}; "
                "the floor must use as many rows as the samples."
            )
        check_finite("reference", reference)
        self.is_images = reference.ndim == 4
        if self.is_images and features is None:
            raise ValueError(
                "Scoring images needs features=, e.g. DigitsFeatureExtractor.features."
            )
        self.reference = reference
        self.num_samples = int(num_samples)
        self.metric = metric if self.is_images else "swd"
        self._features, self._classifier = features, classifier
        if inception is not None and not (self.is_images and reference.shape[-1] in (1, 3)):
            raise ValueError(
                "inception= needs images with 1 or 3 channels (num_images, H, W, C), got "
                f"reference of shape {reference.shape}."
            )
        self._inception = inception
        self._inception_statistics = inception_reference_statistics
        self._inception_reference = None
        # Keys folded with tags rather than split: a scorer built with the key that drew the
        # data (say key(0) for both) must not pick its floor rows with that data's own draws.
        floor_key, noise_key, self._swd_key = (jax.random.fold_in(key, tag) for tag in (1, 2, 3))
        rows = jax.random.choice(floor_key, len(floor_pool), (self.num_samples,), replace=False)
        self._floor = floor_pool[np.asarray(rows)]
        noise = np.asarray(
            jax.random.normal(noise_key, (self.num_samples, *reference.shape[1:])), np.float32
        )
        self._noise = np.clip(noise, -1.0, 1.0) if self.is_images else noise
        self._reference_stats = None
        self._baselines = None

    def _rows(self, samples) -> np.ndarray:
        samples = np.asarray(samples, np.float32)
        if samples.shape[1:] != self.reference.shape[1:]:
            raise ValueError(
                f"samples must have shape (n, {', '.join(map(str, self.reference.shape[1:]))}) "
                f"like the reference, got {samples.shape}."
            )
        if len(samples) < self.num_samples:
            raise ValueError(
                f"Got {len(samples)} samples, but every figure of this scorer uses "
                f"num_samples={self.num_samples} rows (FD is biased by the sample count, so "
                "samples, floor and noise use the same number). Draw at least that many, or "
                "build the scorer with a smaller num_samples."
            )
        samples = samples[: self.num_samples]
        check_finite("samples", samples)
        return np.clip(samples, -1.0, 1.0) if self.is_images else samples

    def _distances(self, x: np.ndarray) -> dict[str, float]:
        if self.is_images:
            if self._reference_stats is None:
                self._reference_stats = gaussian_statistics(self._features(self.reference))
            stats = gaussian_statistics(self._features(x))
            figures = {self.metric: frechet_distance(*stats, *self._reference_stats)}
            if self._classifier is not None:
                logits = np.asarray(self._classifier(x))
                coverage = label_coverage(np.argmax(logits, axis=-1), logits.shape[-1])
                covered = int(np.count_nonzero(coverage["counts"]))  # exact, not float32
                figures["label_coverage"] = covered / logits.shape[-1]
                figures["label_entropy"] = float(coverage["label_entropy"])
            if self._inception is not None:
                figures.update(self._inception_figures(x))
            return figures
        return {
            "swd": float(sliced_wasserstein(self._swd_key, x, self.reference)),
            "mmd": float(mmd_rbf(x, self.reference)),
        }

    def _inception_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if images.shape[-1] == 1:  # grayscale -> RGB, as pytorch-fid and torch-fidelity do
            images = np.repeat(images, 3, axis=-1)
        return self._inception(images)

    def _inception_figures(self, x: np.ndarray) -> dict[str, float]:
        from gendiff.eval.inception import image_metrics  # Flax is loaded only when used

        if self._inception_reference is None:
            self._inception_reference = self._inception_features(self.reference)[0]
        pool3, logits = self._inception_features(x)
        return image_metrics(
            pool3,
            logits,
            self._inception_reference,
            reference_statistics=self._inception_statistics,
        )

    def distance(self, samples) -> float:
        """The primary figure (FD for images, SWD for points) of the first ``num_samples`` rows.

        Example:
          >>> from gendiff.data import load
          >>> train, test = load("toy2d/two_moons", "train"), load("toy2d/two_moons", "test")
          >>> scorer = SampleScorer(key, test.images, train.images, num_samples=200)
          >>> scorer.distance(test.images) < scorer.distance(test.images + 1.0)
          True
        """
        x = self._rows(samples)
        if self.is_images:
            return self._distances(x)[self.metric]
        return float(sliced_wasserstein(self._swd_key, x, self.reference))

    def baselines(self) -> dict[str, float]:
        """The floor and noise values of every figure, ``{name}_floor`` and ``{name}_noise``.

        Example:
          >>> from gendiff.data import load
          >>> train, test = load("toy2d/two_moons", "train"), load("toy2d/two_moons", "test")
          >>> scorer = SampleScorer(key, test.images, train.images, num_samples=200)
          >>> b = scorer.baselines()
          >>> b["swd_floor"] < b["swd_noise"] and b["mmd_floor"] < b["mmd_noise"]
          True
        """
        if self._baselines is None:
            floor, noise = self._distances(self._floor), self._distances(self._noise)
            self._baselines = {
                **{f"{name}_floor": value for name, value in floor.items()},
                **{f"{name}_noise": value for name, value in noise.items()},
            }
        return dict(self._baselines)

    def accuracy(self, samples, labels) -> float:
        """Fraction of the first ``num_samples`` samples the classifier assigns to their label.

        Example:
          >>> from gendiff.data import load
          >>> train, test = load("toy2d/two_moons", "train"), load("toy2d/two_moons", "test")
          >>> sign = lambda x: jnp.stack([-x[:, 0], x[:, 0]], axis=-1)  # class 1 where x > 0
          >>> scorer = SampleScorer(key, test.images, train.images, num_samples=200,
          ...                       classifier=sign)
          >>> x = np.abs(test.images)  # every point has x > 0
          >>> scorer.accuracy(x, np.ones(len(x), np.int32))
          1.0
        """
        if self._classifier is None:
            raise ValueError("accuracy needs a scorer built with classifier=.")
        x = self._rows(samples)
        labels = np.asarray(labels)
        if labels.shape != (len(samples),) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"labels must be integers of shape ({len(samples)},), "
                f"got {labels.dtype} {labels.shape}."
            )
        predicted = np.argmax(np.asarray(self._classifier(x)), axis=-1)
        return float(np.mean(predicted == labels[: self.num_samples]))

    def __call__(self, samples, labels=None) -> dict[str, float]:
        """Every figure of ``samples`` with its floor and noise values (and accuracy).

        Args:
          samples: at least ``num_samples`` generated rows shaped like the reference.
          labels: intended classes of class-conditional samples, shape (len(samples),);
            adds ``accuracy`` (needs ``classifier``).

        Returns:
          A dict of Python floats (keys in the class docstring).

        Example:
          >>> from gendiff.data import load
          >>> train, test = load("toy2d/two_moons", "train"), load("toy2d/two_moons", "test")
          >>> scorer = SampleScorer(key, test.images, train.images, num_samples=200)
          >>> figures = scorer(test.images + 0.2)  # shifted moons
          >>> figures["swd_floor"] < figures["swd"] < figures["swd_noise"]
          True
        """
        figures = {**self._distances(self._rows(samples)), **self.baselines()}
        if labels is not None:
            figures["accuracy"] = self.accuracy(samples, labels)
        return figures
