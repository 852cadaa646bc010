"""Paper-comparable image metrics: FID, Inception Score, KID, precision/recall on Inception-v3.

Features come from pytorch-fid's Inception-v3 (:class:`gendiff.nets.FIDInceptionV3`) with
weights from a local file (:func:`gendiff.nets.load_inception_variables`; nothing is downloaded):
pool3 (2048-d) for FID, KID and precision/recall, the 1008 logits for the Inception Score.

Input conversion (:func:`to_unit_range`): uint8 images are taken as [0, 255] and divided by 255;
float images must lie in [-1, 1] (the library's image range) and become (x + 1) / 2. The network
then resizes to 299x299 bilinearly and maps to [-1, 1] inside. Generated float samples are not
quantised to 8 bits first; clean-fid documents that quantisation and resizing change FID, so
compare only numbers computed with the same conversion.

Features are computed in fixed batches with the batch split over the process's local devices
(data parallel, replicated weights); the statistics are computed on the host in float64.
"""

from __future__ import annotations

import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.metrics._validation import check_finite
from gendiff.metrics.feature_metrics import (
    inception_score,
    kernel_inception_distance,
    precision_recall,
)
from gendiff.metrics.frechet import frechet_distance, gaussian_statistics
from gendiff.nets.inception import FIDInceptionV3
from gendiff.nets.inception_weights import load_inception_variables


def to_unit_range(images) -> np.ndarray:
    """uint8 [0, 255] -> x / 255; float [-1, 1] -> (x + 1) / 2; float32 (n, H, W, 3) in [0, 1].

    Example:
      >>> to_unit_range(np.array([0, 255], np.uint8).reshape(2, 1, 1, 1).repeat(3, -1))[:, 0, 0, 0]
      array([0., 1.], dtype=float32)
      >>> to_unit_range(np.full((1, 2, 2, 3), -1.0))[0, 0, 0]
      array([0., 0., 0.], dtype=float32)
      >>> to_unit_range(np.full((1, 2, 2, 3), 2.0))
      Traceback (most recent call last):
      ...
      ValueError: float images must lie in [-1, 1] (uint8 images in [0, 255]), got range [2.0, 2.0].
    """
    shape = np.shape(images)
    if len(shape) != 4 or shape[-1] != 3:
        raise ValueError(
            f"images must have shape (num_images, H, W, 3) (RGB, channels last), got {shape}."
        )
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"images must be uint8 in [0, 255] or floats in [-1, 1], got {x.dtype}.")
    check_finite("images", x)
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if lo < -1.0 - 1e-6 or hi > 1.0 + 1e-6:
        raise ValueError(
            f"float images must lie in [-1, 1] (uint8 images in [0, 255]), got range [{lo}, {hi}]."
        )
    return np.clip((x.astype(np.float32) + 1.0) / 2.0, 0.0, 1.0)


class InceptionFeatures:
    """Batched, device-parallel pool3 features and logits of FIDInceptionV3.

    Args:
      variables: {'params', 'batch_stats'} (e.g. from :func:`load_inception_variables`), or a
        path to a weights file.
      batch_size: images per forward pass (rounded up to a multiple of the device count).

    Example:
      >>> from gendiff.nets.inception import random_variables
      >>> extractor = InceptionFeatures(random_variables(0), batch_size=2)
      >>> extractor.batch_size >= 2
      True
    """

    def __init__(self, variables, batch_size: int = 64):
        if isinstance(variables, (str, os.PathLike)):
            variables = load_inception_variables(variables)
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        devices = jax.local_devices()  # each process featurises the images it is given
        self.batch_size = -(-int(batch_size) // len(devices)) * len(devices)
        mesh = jax.sharding.Mesh(np.asarray(devices), ("data",))
        self._batch_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
        replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
        self._variables = jax.device_put(variables, replicated)
        self._apply = jax.jit(FIDInceptionV3(logits_bias=False).apply)  # IS: pool3 @ W

    def __call__(self, images) -> tuple[np.ndarray, np.ndarray]:
        """(pool3 (n, 2048), logits (n, 1008)) float32 of uint8 or [-1, 1] float images.

        Example:
          >>> from gendiff.nets.inception import random_variables
          >>> extractor = InceptionFeatures(random_variables(0), batch_size=2)
          >>> extractor(np.zeros((0, 8, 8, 3), np.uint8))[0].shape  # (no forward pass)
          (0, 2048)
        """
        x = to_unit_range(images)
        pools, logits = [np.zeros((0, 2048), np.float32)], [np.zeros((0, 1008), np.float32)]
        for start in range(0, len(x), self.batch_size):
            batch = x[start : start + self.batch_size]
            n = len(batch)
            if n < self.batch_size:  # pad the last batch: one compiled shape
                pad = np.zeros((self.batch_size - n, *batch.shape[1:]), np.float32)
                batch = np.concatenate([batch, pad])
            pool, logit = self._apply(
                self._variables, jax.device_put(jnp.asarray(batch), self._batch_sharding)
            )
            pools.append(np.asarray(pool)[:n])
            logits.append(np.asarray(logit)[:n])
        return np.concatenate(pools), np.concatenate(logits)


def fid_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) in float64 for FID, warning when there are fewer samples than dimensions.

    With n <= dim the covariance is singular and FID is strongly biased (papers use 50,000
    samples for 2048-d features).

    Example:
      >>> mu, sigma = fid_statistics(np.random.default_rng(0).normal(size=(50, 4)))
      >>> sigma.shape
      (4, 4)
    """
    n, dim = np.shape(features)[0], np.shape(features)[-1]
    if n < dim:
        warnings.warn(
            f"FID from {n} samples of {dim}-d features: fewer samples than dimensions, the "
            "covariance is singular and the FID is strongly biased upwards; papers use 50,000.",
            stacklevel=2,
        )
    return gaussian_statistics(features)


def save_reference_statistics(path: str, mu, sigma) -> None:
    """Writes FID reference statistics to ``path`` (.npz with arrays ``mu`` and ``sigma``).

    Example:
      >>> import os, tempfile
      >>> path = os.path.join(tempfile.mkdtemp(), "ref.npz")
      >>> save_reference_statistics(path, np.zeros(3), np.eye(3))
      >>> mu, sigma = load_reference_statistics(path)
      >>> mu.shape, sigma.shape
      ((3,), (3, 3))
    """
    mu, sigma = np.asarray(mu, np.float64), np.asarray(sigma, np.float64)
    _check_statistics(str(path), mu, sigma)
    if not str(path).endswith(".npz"):
        raise ValueError(f"path must end in .npz, got {path!r}.")
    tmp = f"{path}.tmp.npz"
    np.savez(tmp, mu=mu, sigma=sigma)
    os.replace(tmp, path)


def load_reference_statistics(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) from an .npz holding arrays ``mu`` (dim,) and ``sigma`` (dim, dim).

    Files written by pytorch-fid's ``--save-stats`` have the same layout.

    Example:
      >>> import os, tempfile
      >>> path = os.path.join(tempfile.mkdtemp(), "ref.npz")
      >>> np.savez(path, mu=np.zeros(2))
      >>> load_reference_statistics(path)
      Traceback (most recent call last):
      ...
      ValueError: ...ref.npz must hold arrays 'mu' and 'sigma', got ['mu'].
    """
    with np.load(path, allow_pickle=False) as data:
        if not {"mu", "sigma"} <= set(data.files):
            raise ValueError(f"{path} must hold arrays 'mu' and 'sigma', got {sorted(data.files)}.")
        mu, sigma = np.asarray(data["mu"], np.float64), np.asarray(data["sigma"], np.float64)
    _check_statistics(str(path), mu, sigma)
    return mu, sigma


def _check_statistics(source: str, mu: np.ndarray, sigma: np.ndarray) -> None:
    if mu.ndim != 1 or sigma.shape != (mu.size, mu.size):
        raise ValueError(
            f"{source}: mu must have shape (dim,) and sigma (dim, dim), got {mu.shape} and "
            f"{sigma.shape}."
        )


def image_metrics(
    fake_pool3,
    fake_logits,
    real_pool3,
    *,
    reference_statistics: tuple[np.ndarray, np.ndarray] | None = None,
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    splits: int = 10,
    seed: int = 0,
) -> dict[str, float]:
    """fid, is (and is_std), kid (and kid_std), precision and recall of generated features.

    Args:
      fake_pool3: (m, 2048) pool3 features of generated images.
      fake_logits: (m, 1008) logits of the same images (Inception Score).
      real_pool3: (n, 2048) pool3 features of real images (KID, precision/recall, and FID
        unless ``reference_statistics`` is given).
      reference_statistics: (mu, sigma) of the real set for FID (e.g. training-set statistics
        from :func:`load_reference_statistics`).
      kid_subset_size: rows per KID subset, reduced to min(n, m) when the sets are smaller.
      kid_subsets: number of KID subsets.
      splits: Inception Score splits.
      seed: seed of the KID subsets.

    Example:
      >>> rng = np.random.default_rng(0)
      >>> real, fake = rng.normal(size=(40, 4)), rng.normal(size=(40, 4))
      >>> figures = image_metrics(fake, rng.normal(size=(40, 6)), real, kid_subsets=5)
      >>> sorted(figures)
      ['fid', 'is', 'is_std', 'kid', 'kid_std', 'precision', 'recall']
    """
    real_pool3, fake_pool3 = np.asarray(real_pool3), np.asarray(fake_pool3)
    if reference_statistics is None:
        reference_statistics = fid_statistics(real_pool3)
    fid = frechet_distance(*fid_statistics(fake_pool3), *reference_statistics)
    is_mean, is_std = inception_score(fake_logits, splits=min(splits, len(fake_pool3)))
    subset = min(kid_subset_size, len(real_pool3), len(fake_pool3))
    kid, kid_std = kernel_inception_distance(real_pool3, fake_pool3, kid_subsets, subset, seed)
    precision, recall = precision_recall(real_pool3, fake_pool3)
    return {
        "fid": fid,
        "is": is_mean,
        "is_std": is_std,
        "kid": kid,
        "kid_std": kid_std,
        "precision": precision,
        "recall": recall,
    }


def _main(argv: list[str] | None = None) -> None:
    """Writes the FID statistics (mu, sigma) of a dataset split to an .npz (see the usage)."""
    import argparse

    from gendiff import data

    parser = argparse.ArgumentParser(
        description="FID reference statistics of a dataset split, e.g. for "
        "--config.eval.inception_reference. Usage: python -m gendiff.eval.inception "
        "--weights pt_inception-2015-12-05-6726825d.pth --dataset cifar10 --split train "
        "--out cifar10_train_stats.npz"
    )
    parser.add_argument("--weights", required=True, help="local .npz or pytorch-fid .pth")
    parser.add_argument("--dataset", required=True, help="a gendiff.data name")
    parser.add_argument("--split", default="train")
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--out", required=True, help="output .npz (mu, sigma)")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    images = data.load(args.dataset, args.split, args.data_dir).images
    if images.shape[-1] == 1:  # grayscale -> RGB, as in SampleScorer
        images = np.repeat(images, 3, axis=-1)
    pool3, _ = InceptionFeatures(args.weights, args.batch)(images)
    save_reference_statistics(args.out, *fid_statistics(pool3))
    print(f"wrote {args.out}: statistics of {len(pool3)} images of {args.dataset}/{args.split}")


if __name__ == "__main__":
    _main()
