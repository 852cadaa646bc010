"""Sequential digits: the 8x8 digits classified from their 64 pixels read one at a time.

  python -m experiments.sequential_digits                  # all models, a few minutes on a CPU

Each image of gendiff.data.load("digits", split) becomes a sequence of 64 scalars (row-major
raster order, values in [-1, 1]), the small cousin of sequential MNIST. Every model lifts the
scalars to d_model channels with a position-wise Dense layer, mixes along the sequence with
num_layers residual blocks (Mamba, S4D, or a pre-LN transformer with sinusoidal positions),
pools the sequence (the mean over positions, or the last position) and classifies it with a
Dense layer. The models are trained with the same width, depth, optimizer, steps and batches;
metrics.json reports each model's accuracy on the test split. For reference a small CNN or
MLP on the whole image gets about 97%.
"""

from __future__ import annotations

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import common, sequence_tasks
from experiments.configs import sequential_digits as configs
from gendiff import data
from gendiff.nets import MambaBlock, S4DLayer, TransformerBlock, positional_encoding

MODELS = ("mamba", "s4", "transformer")
POOLINGS = ("mean", "last")


def as_sequences(images: np.ndarray) -> np.ndarray:
    """Images (N, H, W, C) -> sequences (N, H W, C) of pixels in row-major (raster) order.

    Example:
      >>> as_sequences(np.zeros((5, 8, 8, 1))).shape
      (5, 64, 1)
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W, C), got {images.shape}")
    n, h, w, c = images.shape
    return images.reshape(n, h * w, c)


class SequenceClassifier(nn.Module):
    """Sequence of feature vectors -> class logits.

    x (batch, length, features) -> Dense(d_model) (+ sinusoidal positions for the transformer)
    -> num_layers residual blocks -> RMSNorm -> mean or last position -> Dense(num_classes).
    The Mamba and S4D blocks are used as x + block(RMSNorm(x)); the transformer block holds its
    own pre-LN residuals and attends over the whole sequence.

    Attributes:
      mixer: 'mamba', 's4' or 'transformer'.
      num_classes: number of classes.
      d_model: residual width.
      num_layers: number of blocks.
      d_state: SSM state size (Mamba, S4D).
      d_conv, expand: Mamba's convolution width and inner expansion.
      lambda_init, discretization: S4D's initialisation and discretisation.
      num_heads: transformer attention heads.
      pooling: 'mean' over positions or the 'last' position.

    Example:
      >>> clf = SequenceClassifier("s4", num_classes=10, d_model=8, num_layers=1, d_state=4)
      >>> x = jnp.zeros((2, 64, 1))
      >>> params = clf.init(jax.random.key(0), x)
      >>> clf.apply(params, x).shape
      (2, 10)
    """

    mixer: str
    num_classes: int
    d_model: int = 32
    num_layers: int = 2
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    lambda_init: str = "lin"
    discretization: str = "zoh"
    num_heads: int = 4
    pooling: str = "mean"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim != 3:
            raise ValueError(f"x must have shape (batch, length, features), got {x.shape}")
        if self.mixer not in MODELS:
            raise ValueError(f"Unknown mixer {self.mixer!r}; expected one of {MODELS}.")
        if self.pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {self.pooling!r}; expected one of {POOLINGS}.")
        h = nn.Dense(self.d_model, name="encoder")(x)
        if self.mixer == "transformer":
            h = h + positional_encoding(x.shape[1], self.d_model)
        for i in range(self.num_layers):
            if self.mixer == "transformer":
                h = TransformerBlock(self.num_heads, name=f"block_{i}")(h)
                continue
            if self.mixer == "mamba":
                block = MambaBlock(self.d_state, self.d_conv, self.expand, name=f"block_{i}")
            else:
                block = S4DLayer(
                    self.d_state, self.lambda_init, self.discretization, name=f"block_{i}"
                )
            h = h + block(nn.RMSNorm(name=f"norm_{i}")(h))
        h = nn.RMSNorm(name="norm_f")(h)
        h = h.mean(axis=1) if self.pooling == "mean" else h[:, -1]
        return nn.Dense(self.num_classes, name="head")(h)


def build_model(name: str, config: ml_collections.ConfigDict, num_classes: int):
    """The classifier of ``name`` with the shared sizes of ``config.model``."""
    m = config.model
    return SequenceClassifier(
        name,
        num_classes,
        m.d_model,
        m.num_layers,
        m.d_state,
        m.d_conv,
        m.expand,
        m.lambda_init,
        m.discretization,
        m.num_heads,
        m.pooling,
    )


def _logits(model) -> sequence_tasks.LogitsFn:
    return lambda params, batch: model.apply(params, batch["pixels"])


def accuracy(model, params, test: data.ArrayDataset, batch: int) -> float:
    """Accuracy of the classifier on every sequence of the ``test`` split."""
    x = as_sequences(test.images)
    batches = (
        {"pixels": x[i : i + batch], "targets": test.labels[i : i + batch]}
        for i in range(0, len(x), batch)
    )
    return float(sequence_tasks.correct_predictions(_logits(model), params, batches).mean())


def train_model(
    name: str, config: ml_collections.ConfigDict, workdir: str, key: jax.Array, train_ds
):
    """Trains one classifier on ``train_ds``; returns (model, final TrainState, last logged
    metrics). Step s trains on the s-th batch of seeded epoch permutations (EpochBatcher)."""
    init_key, train_key = jax.random.split(key)
    x = as_sequences(train_ds.images)
    model = build_model(name, config, train_ds.num_classes)
    params = model.init(init_key, jnp.asarray(x[:1]))
    batcher = data.EpochBatcher(len(x), config.batch_size, config.seed)

    def get_batch(step: int) -> dict:
        rows = batcher.indices(step)
        return {"pixels": x[rows], "targets": train_ds.labels[rows]}

    state, last = sequence_tasks.train_cross_entropy(
        params, _logits(model), get_batch, config, os.path.join(workdir, name), train_key
    )
    return model, state, last


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains each model of ``config.models`` on the sequential digits, then writes metrics.json
    with each model's test accuracy (final, not averaged, parameters).

    Example:
        >>> from experiments.configs import sequential_digits as configs
        >>> config = configs.get_config("cpu"); config.num_steps = 200
        >>> metrics = train_and_evaluate(config, "/tmp/sequential_digits")
    """
    common.check_config(config)
    names = sequence_tasks.model_names(config.models, MODELS)
    train_ds, test_ds = data.load("digits", "train"), data.load("digits", "test")
    model_key = jax.random.key(config.seed)

    def run_model(name: str) -> dict:
        model, state, last = train_model(name, config, workdir, model_key, train_ds)
        return {
            "test_accuracy": accuracy(model, state.params, test_ds, config.eval.batch),
            "train_accuracy": last.get("train_accuracy"),
            "train_loss": last.get("loss"),
            "num_params": common.num_params(state.params),
        }

    header = {
        "num_steps": config.num_steps,
        "sequence_length": int(np.prod(train_ds.example_shape[:2])),
        "pooling": config.model.pooling,
    }
    return sequence_tasks.compare_models(names, run_model, header, workdir)


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/sequential_digits")
