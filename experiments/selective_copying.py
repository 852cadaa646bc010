"""Selective copying (Gu & Dao 2023): a time-varying SSM (Mamba) against an LTI one (S4D).

  python -m experiments.selective_copying                  # both models, a few minutes on a CPU

Each sequence has L positions holding M data tokens at random positions among blanks, then M
marker tokens; at the j-th marker the model must output the j-th data token. Where the data sit
changes from sequence to sequence, so a fixed convolution kernel (S4D) cannot pick them out,
while Mamba's input-dependent step lets it skip the blanks. Both models are trained with the
same width, depth, state size, optimizer and steps, with cross-entropy on the M answer positions
only; metrics.json reports their per-token and whole-sequence accuracies on held-out sequences.

Token ids: 0 = blank, 1..num_symbols = data, num_symbols + 1 = marker.
"""

from __future__ import annotations

import os

import jax
import ml_collections

from experiments import common, sequence_tasks
from experiments.configs import selective_copying as configs
from gendiff.data import GeneratedBatches, tasks

MODELS = sequence_tasks.TOKEN_MODELS


def build_model(name: str, config: ml_collections.ConfigDict):
    """MambaLM or S4Model with the shared width, depth and state size of ``config.model``."""
    vocab = config.task.num_symbols + 2  # blank, data, marker
    return sequence_tasks.token_model(name, config.model, vocab)


def _sizes(config: ml_collections.ConfigDict) -> dict[str, int]:
    t = config.task
    if not 1 <= t.num_data <= t.seq_len:
        raise ValueError(f"need 1 <= task.num_data <= task.seq_len, got {t.num_data}, {t.seq_len}")
    if t.num_symbols < 1:
        raise ValueError(f"task.num_symbols must be positive, got {t.num_symbols}")
    return {"seq_len": t.seq_len, "num_data": t.num_data, "num_symbols": t.num_symbols}


def _answer_logits(model, num_data: int) -> sequence_tasks.LogitsFn:
    """The logits at the M marker positions, (batch, M, vocab)."""
    return lambda params, batch: sequence_tasks.last_logits(
        model, params, batch["tokens"], num_data
    )


def accuracy(model, params, config: ml_collections.ConfigDict, key: jax.Array) -> dict:
    """Per-token and whole-sequence accuracy on ``config.eval.num_sequences`` sequences."""
    sizes = _sizes(config)
    num_batches = -(-config.eval.num_sequences // config.eval.batch)
    batch_of = tasks.step_batches(tasks.selective_copying, key, config.eval.batch, **sizes)
    batches = (batch_of(i) for i in range(num_batches))
    logits_fn = _answer_logits(model, sizes["num_data"])
    correct = sequence_tasks.correct_predictions(logits_fn, params, batches)
    correct = correct[: config.eval.num_sequences]
    return {"accuracy": float(correct.mean()), "sequence_accuracy": float(correct.all(1).mean())}


def train_model(name: str, config: ml_collections.ConfigDict, workdir: str, key: jax.Array):
    """Trains one model; returns (model, final TrainState, last logged metrics). The global
    batch of step s is drawn from fold_in(data_key, s)."""
    init_key, data_key, train_key = jax.random.split(key, 3)
    sizes = _sizes(config)
    model = build_model(name, config)
    params = model.init(init_key, tasks.selective_copying(init_key, 1, **sizes)["tokens"])
    batch_of_step = tasks.step_batches(
        tasks.selective_copying, data_key, config.batch_size, **sizes
    )
    state, last = sequence_tasks.train_cross_entropy(
        params,
        _answer_logits(model, sizes["num_data"]),
        GeneratedBatches(batch_of_step, config.batch_size),
        config,
        os.path.join(workdir, name),
        train_key,
    )
    return model, state, last


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains each model of ``config.models`` on selective copying, then writes metrics.json.

    The models see the same training batches and are evaluated on the same held-out sequences
    (a key never used for training), with their final (not averaged) parameters.

    Example:
        >>> from experiments.configs import selective_copying as configs
        >>> config = configs.get_config("cpu"); config.num_steps = 100
        >>> metrics = train_and_evaluate(config, "/tmp/selective_copying")
    """
    names = sequence_tasks.model_names(config.models, MODELS)
    model_key, eval_key = jax.random.split(jax.random.key(config.seed))

    def run_model(name: str) -> dict:
        model, state, last = train_model(name, config, workdir, model_key)
        return {
            **accuracy(model, state.params, config, eval_key),
            "train_loss": last.get("loss"),
            "num_params": common.num_params(state.params),
        }

    header = {"num_steps": config.num_steps, **config.task.to_dict()}
    return sequence_tasks.compare_models(names, run_model, header, workdir)


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/selective_copying")
