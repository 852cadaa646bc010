"""The one linear-probe protocol for every representation learner.

Frozen features in, test accuracy out, the same way for every method so that the numbers
compare (DESIGN.md section 6):

1. Standardise each feature with the mean and standard deviation of the training split.
2. Split the training features into a fit part and a validation part (`val_fraction`,
   a fixed permutation from `seed`), unless a validation split is passed explicitly.
3. For each regularisation strength lambda in `l2_grid`, fit the multinomial logistic
   regression

       min_{W, b}  1/n sum_i -log softmax(W x_i + b)_{y_i} + lambda/2 ||W||_F^2           (1)

   (bias not penalised) on the fit part, and measure its validation accuracy.
4. Take the lambda with the best validation accuracy (ties: the larger lambda), refit (1) on
   the whole training split and report the test accuracy.

:func:`probe_encoder` runs the whole protocol from a frozen encoder: it computes the features
of the training and test images in batches (no gradient, the encoder's parameters are not
touched) and calls :func:`linear_probe`; every representation learner reports its accuracy
through it, and the baselines (raw pixels: the identity encoder; a randomly initialised
encoder) go through the same call.

Objective (1) is strictly convex for lambda > 0, so every correct solver reaches the same
optimum; here it is solved in JAX by full-batch L-BFGS (optax's, with its zoom line search)
through the project's one training entry point, :func:`gendiff.train.fit`, with a
:class:`gendiff.data.FullBatch` source (the features go to the device once), nothing
written to disk, and ``stop_when`` ending the run once the gradient's norm is below `tol`
(or after `max_iter` iterations). lambda travels with the batch, one value per row, so one
compiled step serves the whole grid. The solve runs on one device per process (the problem
is small and every process solves the same one); the tests check that it agrees with
scikit-learn's LogisticRegression (whose C is 1 / (n lambda)).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gendiff.data import FullBatch
from gendiff.train import create_train_state, fit, make_mesh, make_train_step

DEFAULT_L2_GRID = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


class LogisticRegression(NamedTuple):
    """A fitted probe: logits = ((x - mean) / scale) @ weights + bias.

    Attributes:
      weights: (dim, num_classes).
      bias: (num_classes,).
      mean, scale: (dim,) feature standardisation of the training split.
      grad_max: largest absolute gradient entry of (1) at the returned weights.
      num_iter: L-BFGS iterations used (a multiple of 10: convergence is checked every 10).

    Example:
      >>> from gendiff.eval.probe import fit_logistic_regression
      >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
      >>> probe = fit_logistic_regression(x, np.array([0, 0, 1, 1]), l2=1e-3)
      >>> probe.weights.shape, probe.bias.shape, float(probe.mean[0]), round(float(probe.scale[0]), 6)
      ((1, 2), (2,), 1.5, 1.118034)
      >>> bool(probe.grad_max <= 1e-4), probe.predict(np.array([[-5.0], [5.0]])).tolist()
      (True, [0, 1])
    """

    weights: jax.Array
    bias: jax.Array
    mean: jax.Array
    scale: jax.Array
    grad_max: jax.Array
    num_iter: jax.Array

    def predict(self, features) -> jax.Array:
        """Predicted classes, shape (n,)."""
        x = (jnp.asarray(features, jnp.float32) - self.mean) / self.scale
        return jnp.argmax(x @ self.weights + self.bias, axis=-1)


class ProbeResult(NamedTuple):
    """Outcome of :func:`linear_probe`.

    Attributes:
      test_accuracy: accuracy on the test split of the probe refitted with the chosen l2.
      l2: the chosen lambda.
      val_accuracy: {lambda: validation accuracy} over the grid.
      train_accuracy: accuracy of the final probe on the whole training split.
      grad_max: largest gradient entry of the final fit (convergence check).

    Example:
      >>> from gendiff.eval.probe import DEFAULT_L2_GRID, linear_probe
      >>> rng = np.random.default_rng(0)
      >>> y = rng.integers(0, 2, 200)
      >>> x = rng.normal(size=(200, 3)) + 4.0 * y[:, None]
      >>> res = linear_probe(x[:150], y[:150], x[150:], y[150:])
      >>> res.test_accuracy, res.train_accuracy, res.l2 in DEFAULT_L2_GRID
      (1.0, 1.0, True)
      >>> sorted(res.val_accuracy) == sorted(DEFAULT_L2_GRID), res.grad_max <= 1e-4
      (True, True)
    """

    test_accuracy: float
    l2: float
    val_accuracy: dict
    train_accuracy: float
    grad_max: float


def _objective(params, x, y_onehot, l2):
    w, b = params
    logits = x @ w + b
    ce = -jnp.mean(jnp.sum(y_onehot * jax.nn.log_softmax(logits), axis=-1))
    return ce + 0.5 * l2 * jnp.sum(w * w)  # eq. (1)


def _grad_max(params, x, y_onehot, l2) -> jax.Array:
    g = jax.grad(_objective)(params, x, y_onehot, l2)
    return jnp.maximum(jnp.max(jnp.abs(g[0])), jnp.max(jnp.abs(g[1])))


def _probe_loss(params, batch, key):
    """(1) on a full batch {"x", "y" (one-hot), "l2" (lambda, one per row)}."""
    del key
    return _objective(params, batch["x"], batch["y"], batch["l2"][0]), {}


_LBFGS = optax.lbfgs()  # with optax's zoom line search; `fit` hands it value and value_fn


@functools.lru_cache(maxsize=None)
def _probe_step():
    """One step object for every probe, so jit compiles once per feature shape."""
    return make_train_step(_probe_loss, _LBFGS, ema_decay=0.0)


def _solve(x: np.ndarray, y_onehot: np.ndarray, l2: float, tol: float, max_iter: int):
    """Minimises (1) by L-BFGS through :func:`gendiff.train.fit`; returns (params, steps)."""
    dim, k = x.shape[1], y_onehot.shape[1]
    params = (jnp.zeros((dim, k), jnp.float32), jnp.zeros((k,), jnp.float32))
    batch = FullBatch({"x": x, "y": y_onehot, "l2": np.full(x.shape[0], l2, np.float32)})
    state, last = fit(
        create_train_state(params, _LBFGS),
        _probe_step(),
        batch,
        jax.random.key(0),  # unused: the objective is deterministic
        num_steps=max_iter,
        workdir=None,
        log_every=min(10, max_iter),
        progress=False,
        mesh=make_mesh(jax.local_devices()[:1]),
        stop_when=lambda metrics: metrics["grad_norm"] <= tol,
    )
    return state.params, int(last.get("step", max_iter))


def _check_split(name, features, labels) -> tuple[np.ndarray, np.ndarray]:
    features, labels = np.asarray(features), np.asarray(labels)
    if features.ndim != 2 or labels.shape != features.shape[:1] or features.shape[0] < 1:
        raise ValueError(
            f"{name}: features must be (n, dim) and labels (n,), got {features.shape} and "
            f"{labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise ValueError(f"{name}: labels must be non-negative integers, got {labels.dtype}.")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{name}: features contain NaN or inf.")
    return features.astype(np.float32), labels


def fit_logistic_regression(
    features,
    labels,
    *,
    l2: float,
    num_classes: int | None = None,
    tol: float = 1e-4,
    max_iter: int = 1000,
) -> LogisticRegression:
    """Fits (1) on standardised features by full-batch L-BFGS.

    Args:
      features: (n, dim) frozen features.
      labels: (n,) integer classes.
      l2: lambda > 0 in (1).
      num_classes: number of classes; None takes max(labels) + 1.
      tol: stop when the gradient of (1) has Euclidean norm <= tol (then every entry is
        below tol too); checked every 10 iterations.
      max_iter: L-BFGS iteration cap.

    Returns:
      The fitted :class:`LogisticRegression` (check ``grad_max <= tol`` for convergence).

    Example:
      >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
      >>> probe = fit_logistic_regression(x, np.array([0, 0, 1, 1]), l2=1e-3)
      >>> probe.predict(x).tolist()
      [0, 0, 1, 1]
    """
    features, labels = _check_split("train", features, labels)
    if not l2 > 0:
        raise ValueError(f"l2 must be > 0 (the problem is then strictly convex), got {l2}.")
    k = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    if k < 2 or labels.max() >= k:
        raise ValueError(f"need num_classes >= 2 covering every label, got {k}.")
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale = np.where(scale > 1e-6 * max(float(scale.max()), 1e-30), scale, 1.0).astype(np.float32)
    x = ((features - mean) / scale).astype(np.float32)
    y = np.eye(k, dtype=np.float32)[labels]
    (w, b), n = _solve(x, y, float(l2), float(tol), int(max_iter))
    gmax = _grad_max((w, b), jnp.asarray(x), jnp.asarray(y), jnp.float32(l2))
    return LogisticRegression(w, b, jnp.asarray(mean), jnp.asarray(scale), gmax, jnp.asarray(n))


def _accuracy(probe: LogisticRegression, features, labels) -> float:
    return float(np.mean(np.asarray(probe.predict(features)) == labels))


def linear_probe(
    train_features,
    train_labels,
    test_features,
    test_labels,
    *,
    l2_grid: Sequence[float] = DEFAULT_L2_GRID,
    val_fraction: float = 0.2,
    val_features=None,
    val_labels=None,
    seed: int = 0,
    tol: float = 1e-4,
    max_iter: int = 1000,
) -> ProbeResult:
    """The linear-probe protocol of the module docstring: steps 1-4.

    Args:
      train_features, train_labels: (n, dim) frozen features of the training split, (n,)
        integer labels.
      test_features, test_labels: the test split, scored once at the end.
      l2_grid: candidate lambdas (> 0) of (1).
      val_fraction: share of the training split held out to choose lambda, in (0, 1);
        ignored when `val_features` is given.
      val_features, val_labels: an explicit validation split (then the probe is refitted
        on the training split alone).
      seed: seed of the fit/validation permutation.
      tol, max_iter: L-BFGS stopping rule of :func:`fit_logistic_regression`.

    Returns:
      :class:`ProbeResult`.

    Raises:
      ValueError: for splits of mismatched shapes, non-integer labels, non-finite features,
        an empty or non-positive l2 grid, or a val_fraction outside (0, 1).

    Example:
      >>> rng = np.random.default_rng(0)
      >>> y = rng.integers(0, 2, 200)
      >>> x = rng.normal(size=(200, 3)) + 4.0 * y[:, None]
      >>> linear_probe(x[:150], y[:150], x[150:], y[150:]).test_accuracy
      1.0
    """
    train_x, train_y = _check_split("train", train_features, train_labels)
    test_x, test_y = _check_split("test", test_features, test_labels)
    if test_x.shape[1] != train_x.shape[1]:
        raise ValueError(
            f"train and test features must have one dim, got {train_x.shape[1]} and "
            f"{test_x.shape[1]}."
        )
    grid = [float(v) for v in l2_grid]
    if not grid or min(grid) <= 0:
        raise ValueError(f"l2_grid must be a non-empty sequence of values > 0, got {l2_grid}.")
    k = int(max(train_y.max(), test_y.max())) + 1
    if val_features is None:
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}.")
        perm = np.random.default_rng(seed).permutation(train_x.shape[0])
        n_val = int(round(val_fraction * train_x.shape[0]))
        if not 1 <= n_val < train_x.shape[0]:
            raise ValueError(f"val_fraction {val_fraction} leaves no fit or validation rows.")
        fit_x, fit_y = train_x[perm[n_val:]], train_y[perm[n_val:]]
        val_x, val_y = train_x[perm[:n_val]], train_y[perm[:n_val]]
    else:
        val_x, val_y = _check_split("val", val_features, val_labels)
        fit_x, fit_y = train_x, train_y
        k = max(k, int(val_y.max()) + 1)

    val_accuracy = {}
    for l2 in grid:
        probe = fit_logistic_regression(
            fit_x, fit_y, l2=l2, num_classes=k, tol=tol, max_iter=max_iter
        )
        val_accuracy[l2] = _accuracy(probe, val_x, val_y)
    best = max(grid, key=lambda l2: (val_accuracy[l2], l2))  # ties: the larger lambda
    probe = fit_logistic_regression(
        train_x, train_y, l2=best, num_classes=k, tol=tol, max_iter=max_iter
    )
    return ProbeResult(
        test_accuracy=_accuracy(probe, test_x, test_y),
        l2=best,
        val_accuracy=val_accuracy,
        train_accuracy=_accuracy(probe, train_x, train_y),
        grad_max=float(probe.grad_max),
    )


def encode_features(encode_fn: Callable, images, *, batch_size: int = 500) -> np.ndarray:
    """Features of a frozen encoder: ``encode_fn(images[i:i + batch_size])`` concatenated.

    Args:
      encode_fn: images (b, ...) -> features (b, dim) (or any shape, flattened per row); it
        is jitted and called without gradients (``jax.lax.stop_gradient`` on its output).
      images: (n, ...) inputs.
      batch_size: rows per call (the last batch is padded to keep one compiled shape).

    Returns:
      (n, dim) float32 features on the host.

    Example:
      >>> encode_features(lambda x: 2 * x, np.ones((3, 2)), batch_size=2).tolist()
      [[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]]
    """
    images = np.asarray(images)
    n = images.shape[0]
    if n < 1 or batch_size < 1:
        raise ValueError(f"need at least one image and batch_size >= 1, got {n} and {batch_size}.")
    fn = jax.jit(lambda x: jax.lax.stop_gradient(encode_fn(x)))
    out = []
    for start in range(0, n, batch_size):
        chunk = images[start : start + batch_size]
        pad = batch_size - chunk.shape[0] if n > batch_size else 0
        if pad:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
        feats = np.asarray(fn(jnp.asarray(chunk)), np.float32)
        out.append(feats[: feats.shape[0] - pad].reshape(feats.shape[0] - pad, -1))
    return np.concatenate(out)


def probe_encoder(
    encode_fn: Callable,
    train_images,
    train_labels,
    test_images,
    test_labels,
    *,
    batch_size: int = 500,
    **probe_kwargs,
) -> tuple[ProbeResult, np.ndarray, np.ndarray]:
    """The protocol from a frozen encoder: features of both splits, then :func:`linear_probe`.

    Args:
      encode_fn: images -> (b, dim) features, with the encoder's parameters closed over.
      train_images, train_labels: the training split (lambda is chosen on a held-out part
        of it, see :func:`linear_probe`).
      test_images, test_labels: the test split.
      batch_size: rows per encoder call.
      **probe_kwargs: passed to :func:`linear_probe` (l2_grid, val_fraction, seed, ...).

    Returns:
      (result, train_features, test_features).

    Example:
      >>> rng = np.random.default_rng(0)
      >>> y = rng.integers(0, 2, 100)
      >>> x = rng.normal(size=(100, 2, 2)) + 3.0 * y[:, None, None]
      >>> res, _, _ = probe_encoder(lambda im: im.reshape(im.shape[0], -1), x[:80], y[:80],
      ...                           x[80:], y[80:])
      >>> res.test_accuracy
      1.0
    """
    train_features = encode_features(encode_fn, train_images, batch_size=batch_size)
    test_features = encode_features(encode_fn, test_images, batch_size=batch_size)
    result = linear_probe(train_features, train_labels, test_features, test_labels, **probe_kwargs)
    return result, train_features, test_features
