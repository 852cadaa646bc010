"""What the sequence-model experiments share: building the token models, training by
cross-entropy, scoring predictions, and comparing several models in one metrics.json.

Used by experiments/selective_copying.py, induction_heads.py and sequential_digits.py.
"""

from __future__ import annotations

import os
import time
from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments import common
from gendiff.data import BatchSource
from gendiff.nets.mamba import MambaLM
from gendiff.nets.s4 import S4Model
from gendiff.train import TrainState

TOKEN_MODELS = ("mamba", "s4")

# logits_fn(params, batch) -> logits (..., num_classes) scored against batch["targets"] (...).
LogitsFn = Callable[[dict, dict], jax.Array]


def model_names(models: str, valid: tuple[str, ...]) -> list[str]:
    """The names of a comma-separated ``config.models`` string, all of them in ``valid``.

    Example:
      >>> model_names("mamba, s4", ("mamba", "s4"))
      ['mamba', 's4']
    """
    names = [n.strip() for n in models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(valid))
    if not names or unknown:
        raise ValueError(f"config.models must name some of {valid}, got {models!r}")
    return names


def token_model(name: str, m: ml_collections.ConfigDict, vocab_size: int):
    """MambaLM or S4Model over ``vocab_size`` tokens with the width, depth and state size of
    the model config ``m`` (fields d_model, num_layers, d_state; Mamba's d_conv, expand; S4D's
    lambda_init, discretization).

    Example:
      >>> from experiments.configs import selective_copying as configs
      >>> token_model("s4", configs.get_config().model, 10).d_model
      32
    """
    if name == "mamba":
        return MambaLM(vocab_size, m.d_model, m.num_layers, m.d_state, m.d_conv, m.expand)
    if name == "s4":
        return S4Model(
            vocab_size, m.d_model, m.num_layers, m.d_state, m.lambda_init, m.discretization
        )
    raise ValueError(f"Unknown model {name!r}; expected one of {TOKEN_MODELS}.")


def last_logits(model, params, tokens: jax.Array, num: int) -> jax.Array:
    """The logits of a token model at the last ``num`` positions, (batch, num, vocab)."""
    return model.apply(params, tokens)[:, -num:]


def train_cross_entropy(
    params,
    logits_fn: LogitsFn,
    batches: BatchSource,
    config: ml_collections.ConfigDict,
    workdir: str,
    key: jax.Array,
) -> tuple[TrainState, dict]:
    """Minimises the mean cross-entropy of ``logits_fn(params, batch)`` against
    ``batch["targets"]`` (:func:`common.fit_network`: resume, checkpoints, logging).

    Args:
      params: initial parameters.
      logits_fn: ``logits_fn(params, batch) -> (..., classes)`` logits; deterministic.
      batches: the global batch definition; its batches hold integer "targets" (...).
      config: experiment config (num_steps, checkpoint_every, log_every, progress, optim).
      workdir: where the checkpoints and metrics.jsonl go.
      key: base PRNG key of the training steps (unused by deterministic models).

    Returns:
      (final TrainState, last logged metrics, which include 'loss' and 'train_accuracy').
    """

    def loss_fn(params, batch, key):
        del key  # the models are deterministic
        logits = logits_fn(params, batch)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"])
        acc = jnp.mean(jnp.argmax(logits, -1) == batch["targets"])
        return ce.mean(), {"train_accuracy": acc}

    return common.fit_network(config, workdir, params, loss_fn, batches, key)


def correct_predictions(logits_fn: LogitsFn, params, batches: Iterable[dict]) -> np.ndarray:
    """Whether argmax ``logits_fn(params, batch)`` equals ``batch["targets"]``, concatenated
    over ``batches`` along the first axis (boolean, the shape of the stacked targets)."""
    correct = jax.jit(lambda p, b: jnp.argmax(logits_fn(p, b), -1) == b["targets"])
    return np.concatenate([np.asarray(correct(params, b)) for b in batches])


def compare_models(
    names: list[str],
    run_model: Callable[[str], dict],
    header: dict,
    workdir: str,
) -> dict:
    """Runs each model and writes their figures side by side to ``workdir/metrics.json``.

    Args:
      names: model names, run in order.
      run_model: ``run_model(name) -> {figure: value}`` trains and evaluates one model.
      header: figures common to all models (task sizes, steps).
      workdir: directory of metrics.json (written by process 0).

    Returns:
      ``header`` plus ``{name}_{figure}`` for every model's figures, ``{name}_wall_s`` and the
      total ``wall_s``.
    """
    start = time.time()
    result = dict(header)
    for name in names:
        t0 = time.time()
        for k, v in run_model(name).items():
            result[f"{name}_{k}"] = v
        result[f"{name}_wall_s"] = time.time() - t0
    result["wall_s"] = time.time() - start
    common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result
