"""Mode coverage of samples from a mixture with known modes: the PacGAN protocol.

Lin et al. (2018, section 5.1, after VEEGAN) score a generator of a 2-D Gaussian mixture
(the 8-mode ring and the 25-mode grid of :func:`gendiff.data.pacgan_mixture`) on 2,500
samples:

- each sample is assigned to its nearest mode (Euclidean distance to the means);
- it is *high quality* if it lies within 3 standard deviations of that mode;
- a mode is *captured* if at least one high-quality sample is assigned to it;
- the *reverse KL* is KL(Q || P) between the histogram Q of the high-quality samples over the
  modes and the true mode weights P (uniform), with 0 log 0 = 0: 0 when every mode gets its
  share, log K when all the high-quality samples sit in one mode of K.

For images with classes (the digits), :func:`label_coverage` is the same idea through an
independent classifier: how many classes the samples reach and how evenly (mode collapse
shows as a low entropy of the predicted-class histogram).

Pure functions of arrays: jit-able, no I/O.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.divergences.discrete import kl_divergence
from gendiff.metrics._validation import check_finite, check_rank

__all__ = ["assign_modes", "label_coverage", "mode_coverage"]


def assign_modes(samples, means) -> tuple[jax.Array, jax.Array]:
    """The nearest mode of every sample and the distance to it.

    Args:
      samples: (n, d) points.
      means: (K, d) mode centres.

    Returns:
      ``(index, distance)``: int32 (n,) indices into ``means`` (the lowest index on ties) and
      float (n,) Euclidean distances to those modes.

    Example:
      >>> index, dist = assign_modes(jnp.array([[0.9, 0.0], [0.0, -3.0]]),
      ...                            jnp.array([[1.0, 0.0], [0.0, -1.0]]))
      >>> index.tolist(), [round(float(d), 4) for d in dist]
      ([0, 1], [0.1, 2.0])
    """
    samples, means = _check_points(samples, means)
    sq = jnp.sum((samples[:, None, :] - means[None, :, :]) ** 2, axis=-1)  # (n, K)
    index = jnp.argmin(sq, axis=1).astype(jnp.int32)
    nearest = jnp.take_along_axis(sq, index[:, None], axis=1)[:, 0]
    return index, jnp.sqrt(nearest)


def mode_coverage(
    samples,
    means,
    stds,
    weights=None,
    *,
    num_std: float = 3.0,
    min_count: int = 1,
) -> dict[str, jax.Array]:
    """Modes captured, fraction of high-quality samples and reverse KL (PacGAN protocol).

    Args:
      samples: (n, d) generated points (PacGAN: n = 2,500).
      means: (K, d) mode centres.
      stds: the modes' standard deviations, a scalar or (K,).
      weights: the true mode probabilities (K,), summing to 1; uniform by default.
      num_std: a sample is high quality within ``num_std`` stds of its nearest mode (3).
      min_count: high-quality samples a mode needs to count as captured (1).

    Returns:
      A dict of arrays:

      - 'modes_captured': number of modes with >= ``min_count`` high-quality samples;
      - 'high_quality': fraction of the samples that are high quality, in [0, 1];
      - 'reverse_kl': KL(Q || P), Q the high-quality samples' histogram over the modes
        (+inf when no sample is high quality);
      - 'counts': (K,) high-quality samples per mode.

    References:
      Lin, Khetan, Fanti & Oh, "PacGAN", NeurIPS 2018, section 5.1 and Table 1;
      Srivastava et al., "VEEGAN", NeurIPS 2017, section 5.1.

    Example:
      >>> means = jnp.array([[0.0, 0.0], [2.0, 0.0]])
      >>> x = jnp.array([[0.01, 0.0], [0.0, 0.02], [1.0, 0.0], [0.0, 0.5]])
      >>> m = mode_coverage(x, means, 0.1)  # two samples within 0.3 of mode 0, none near 1
      >>> int(m["modes_captured"]), float(m["high_quality"]), round(float(m["reverse_kl"]), 4)
      (1, 0.5, 0.6931)
    """
    samples, means = _check_points(samples, means)
    k = means.shape[0]
    stds = jnp.broadcast_to(_check_vector("stds", stds, k, scalar_ok=True), (k,))
    if not isinstance(stds, jax.core.Tracer) and not np.all(np.asarray(stds) > 0):
        raise ValueError(f"stds must be > 0, got {np.asarray(stds).tolist()}.")
    if weights is None:
        weights = jnp.full((k,), 1.0 / k, samples.dtype)
    else:
        weights = _check_vector("weights", weights, k, scalar_ok=False)
        if not isinstance(weights, jax.core.Tracer):
            w = np.asarray(weights)
            if np.any(w < 0) or abs(float(w.sum()) - 1.0) > 1e-5:
                raise ValueError(f"weights must be >= 0 and sum to 1, got {w.tolist()}.")
    if not float(num_std) > 0:
        raise ValueError(f"num_std must be > 0, got {num_std}.")
    if int(min_count) != min_count or min_count < 1:
        raise ValueError(f"min_count must be a positive integer, got {min_count!r}.")

    index, distance = assign_modes(samples, means)
    good = distance <= num_std * stds[index]
    counts = jnp.zeros((k,), jnp.int32).at[index].add(good.astype(jnp.int32))
    total = jnp.sum(counts)
    q = counts / jnp.maximum(total, 1)
    # KL(Q || P) = sum_k q_k log(q_k / p_k), with 0 log 0 = 0
    reverse_kl = jnp.where(total > 0, kl_divergence(q, weights, validate=False), jnp.inf)
    return {
        "modes_captured": jnp.sum(counts >= min_count),
        "high_quality": jnp.mean(good.astype(samples.dtype)),
        "reverse_kl": reverse_kl,
        "counts": counts,
    }


def _check_points(samples, means) -> tuple[jax.Array, jax.Array]:
    check_rank("samples", samples, 2, "(num_samples, dim)")
    check_rank("means", means, 2, "(num_modes, dim)")
    if np.shape(samples)[1] != np.shape(means)[1]:
        raise ValueError(
            "samples and means must have the same dimension, got samples "
            f"{np.shape(samples)} and means {np.shape(means)}."
        )
    if np.shape(means)[0] < 1:
        raise ValueError("means must hold at least one mode, got shape (0, d).")
    check_finite("samples", samples)
    check_finite("means", means)
    samples = jnp.asarray(samples)
    if not jnp.issubdtype(samples.dtype, jnp.floating):
        samples = samples.astype(jnp.result_type(float))
    return samples, jnp.asarray(means, samples.dtype)


def _check_vector(name: str, x, k: int, *, scalar_ok: bool) -> jax.Array:
    shape = np.shape(x)
    if shape != (k,) and not (scalar_ok and shape == ()):
        expected = f"a scalar or ({k},)" if scalar_ok else f"({k},)"
        raise ValueError(f"{name} must have shape {expected} (one per mode), got {shape}.")
    check_finite(name, x)
    return jnp.asarray(x, jnp.result_type(float))


def label_coverage(labels, num_classes: int) -> dict[str, jax.Array]:
    """How many classes a set of (predicted) labels reaches, and how evenly.

    For generated images, ``labels`` are an independent classifier's predictions; a
    collapsed generator covers few classes, or covers them unevenly.

    Args:
      labels: (n,) integer labels in [0, num_classes).
      num_classes: K.

    Returns:
      A dict of arrays:

      - 'label_coverage': the fraction of the K classes with at least one label;
      - 'label_entropy': the entropy, in nats, of the label histogram (0 for one class,
        log K when every class has the same count);
      - 'counts': (K,) labels per class.

    Example:
      >>> m = label_coverage(jnp.array([0, 0, 1, 1]), num_classes=4)  # half the classes, evenly
      >>> float(m["label_coverage"]), round(float(m["label_entropy"]), 4)  # log 2
      (0.5, 0.6931)
    """
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes}.")
    labels = jnp.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] < 1 or not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(
            f"labels must be a non-empty (n,) integer array, got {labels.dtype} {labels.shape}."
        )
    if not isinstance(labels, jax.core.Tracer):
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"labels must lie in [0, {num_classes}), got values in [{lo}, {hi}].")
    counts = jnp.zeros((num_classes,), jnp.int32).at[labels].add(1)
    q = counts / labels.shape[0]
    entropy = -jnp.sum(jnp.where(q > 0, q * jnp.log(jnp.where(q > 0, q, 1.0)), 0.0))
    return {
        "label_coverage": jnp.mean(counts > 0),
        "label_entropy": entropy,
        "counts": counts,
    }
