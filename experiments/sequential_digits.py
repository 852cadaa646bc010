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

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import common, sequence_tasks
from experiments.configs import sequential_digits as configs
from gendiff import data, nets
from gendiff.data.tasks import pixel_sequences
from gendiff.nets.sequence_classifier import MIXERS as MODELS


def build_model(name: str, config: ml_collections.ConfigDict, num_classes: int):
    """The classifier of ``name`` with the shared sizes of ``config.model``."""
    m = config.model
    return nets.SequenceClassifier(
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
    x = pixel_sequences(test.images)
    batches = (
        {"pixels": x[i : i + batch], "targets": test.labels[i : i + batch]}
        for i in range(0, len(x), batch)
    )
    return float(sequence_tasks.correct_predictions(_logits(model), params, batches).mean())


def train_model(
    name: str, config: ml_collections.ConfigDict, workdir: str, key: jax.Array, train_ds
):
    """Trains one classifier on ``train_ds``; returns (model, final TrainState, last logged
    metrics). Global batch s holds the s-th batch of seeded epoch permutations."""
    init_key, train_key = jax.random.split(key)
    x = pixel_sequences(train_ds.images)
    model = build_model(name, config, train_ds.num_classes)
    params = model.init(init_key, jnp.asarray(x[:1]))
    batches = data.ArrayBatches(
        {"pixels": x, "targets": train_ds.labels}, config.batch_size, config.seed
    )
    state, last = sequence_tasks.train_cross_entropy(
        params, _logits(model), batches, config, os.path.join(workdir, name), train_key
    )
    return model, state, last


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains each model of ``config.models`` on the sequential digits, then writes metrics.json
    with each model's test accuracy (final, not averaged, parameters).

    Example:
        >>> from experiments.configs import sequential_digits as configs
        >>> config = configs.get_config("cpu"); config.num_steps = 200
        >>> metrics = train_and_evaluate(config, "/tmp/sequential_digits")
    """
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
