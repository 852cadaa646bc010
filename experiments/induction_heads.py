"""Induction heads (Olsson et al. 2022; Gu & Dao 2023, §4.1.2): Mamba against an LTI SSM (S4D).

  python -m experiments.induction_heads                    # both models, a few minutes on a CPU

Each sequence is L random tokens in which a trigger token appears once at a random position,
followed by some token; the last position holds the trigger again, and there the model must
output the token that followed the first trigger. The model has to find the earlier trigger,
wherever it is, and copy what came after it: associative recall. Both models are trained with
the same width, depth, state size, optimizer and steps, with cross-entropy on the last position
only, at one length L; metrics.json reports their accuracy on held-out sequences of length L and
of the longer lengths of ``config.eval.lengths`` (length generalisation).

Token ids: 0..num_symbols-1 = ordinary tokens, num_symbols = trigger.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import ml_collections

from experiments import common, sequence_tasks
from experiments.configs import induction_heads as configs

MODELS = sequence_tasks.TOKEN_MODELS


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def make_batch(key: jax.Array, batch: int, seq_len: int, num_symbols: int) -> dict[str, jax.Array]:
    """A batch of induction-heads sequences.

    Args:
      key: PRNG key.
      batch: number of sequences.
      seq_len: L >= 3, the length of each sequence.
      num_symbols: S, ordinary tokens 0..S-1; the trigger is token S.

    Returns:
      {"tokens": (batch, L) int32, "targets": (batch, 1) int32}: uniform random ordinary tokens,
      but for the trigger at a uniform random position p in [0, L - 3] and at L - 1;
      targets[:, 0] = tokens[:, p + 1], to be output at the last position.

    Example:
      >>> b = make_batch(jax.random.key(0), 2, 10, 4)
      >>> b["tokens"].shape, b["targets"].shape, int(b["tokens"][0, -1])
      ((2, 10), (2, 1), 4)
    """
    key_tok, key_pos = jax.random.split(key)
    tokens = jax.random.randint(key_tok, (batch, seq_len), 0, num_symbols, jnp.int32)
    p = jax.random.randint(key_pos, (batch,), 0, seq_len - 2)  # first trigger, p + 1 < L - 1
    rows = jnp.arange(batch)
    tokens = tokens.at[rows, p].set(num_symbols).at[:, -1].set(num_symbols)
    return {"tokens": tokens, "targets": tokens[rows, p + 1][:, None]}


def build_model(name: str, config: ml_collections.ConfigDict):
    """MambaLM or S4Model with the shared width, depth and state size of ``config.model``."""
    return sequence_tasks.token_model(name, config.model, config.task.num_symbols + 1)


def _eval_lengths(config: ml_collections.ConfigDict) -> list[int]:
    """The training length, then the other lengths of ``config.eval.lengths``, all >= 3."""
    t = config.task
    if t.num_symbols < 1:
        raise ValueError(f"task.num_symbols must be positive, got {t.num_symbols}")
    lengths = [t.seq_len] + [int(n) for n in config.eval.lengths if int(n) != t.seq_len]
    if min(lengths) < 3:
        raise ValueError(f"sequence lengths must be >= 3, got {lengths}")
    return lengths


def _answer_logits(model) -> sequence_tasks.LogitsFn:
    """The logits at the last position, (batch, 1, vocab)."""
    return lambda params, batch: sequence_tasks.last_logits(model, params, batch["tokens"], 1)


def accuracy(
    model, params, config: ml_collections.ConfigDict, key: jax.Array, seq_len: int
) -> float:
    """Accuracy on ``config.eval.num_sequences`` held-out sequences of length ``seq_len``."""
    num_batches = -(-config.eval.num_sequences // config.eval.batch)
    batches = (
        make_batch(jax.random.fold_in(key, i), config.eval.batch, seq_len, config.task.num_symbols)
        for i in range(num_batches)
    )
    correct = sequence_tasks.correct_predictions(_answer_logits(model), params, batches)
    return float(correct[: config.eval.num_sequences].mean())


def train_model(name: str, config: ml_collections.ConfigDict, workdir: str, key: jax.Array):
    """Trains one model at length ``config.task.seq_len``; returns (model, final TrainState, last
    logged metrics). Step s trains on make_batch(fold_in(data_key, s)), generated on the fly."""
    init_key, data_key, train_key = jax.random.split(key, 3)
    task = (config.task.seq_len, config.task.num_symbols)
    model = build_model(name, config)
    params = model.init(init_key, make_batch(init_key, 1, *task)["tokens"])
    get_batch = lambda step: jax.device_get(
        make_batch(jax.random.fold_in(data_key, step), config.batch_size, *task)
    )
    state, last = sequence_tasks.train_cross_entropy(
        params, _answer_logits(model), get_batch, config, os.path.join(workdir, name), train_key
    )
    return model, state, last


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains each model of ``config.models`` on induction heads, then writes metrics.json.

    The models see the same training batches and are evaluated, with their final (not averaged)
    parameters, on the same held-out sequences (keys never used for training) of each length:
    ``{name}_accuracy_len{L}`` for the training length and each of ``config.eval.lengths``.

    Example:
        >>> from experiments.configs import induction_heads as configs
        >>> config = configs.get_config("cpu"); config.num_steps = 200
        >>> metrics = train_and_evaluate(config, "/tmp/induction_heads")
    """
    common.check_config(config)
    names = sequence_tasks.model_names(config.models, MODELS)
    lengths = _eval_lengths(config)
    model_key, eval_key = jax.random.split(jax.random.key(config.seed))

    def run_model(name: str) -> dict:
        model, state, last = train_model(name, config, workdir, model_key)
        figures = {
            f"accuracy_len{n}": accuracy(
                model, state.params, config, jax.random.fold_in(eval_key, n), n
            )
            for n in lengths
        }
        figures["train_loss"] = last.get("loss")
        figures["num_params"] = common.num_params(state.params)
        return figures

    header = {"num_steps": config.num_steps, "eval_lengths": lengths, **config.task.to_dict()}
    return sequence_tasks.compare_models(names, run_model, header, workdir)


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/induction_heads")
