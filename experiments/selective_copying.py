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

import functools
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments import common
from experiments.configs import selective_copying as configs
from gendiff.nets.mamba import MambaLM
from gendiff.nets.s4 import S4Model
from gendiff.train import create_train_state, make_optimizer, make_train_step, train

MODELS = ("mamba", "s4")
BLANK = 0


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def make_batch(
    key: jax.Array, batch: int, seq_len: int, num_data: int, num_symbols: int
) -> dict[str, jax.Array]:
    """A batch of selective-copying sequences.

    Args:
      key: PRNG key.
      batch: number of sequences.
      seq_len: L, positions holding data and blanks.
      num_data: M, data tokens per sequence (M <= L).
      num_symbols: distinct data tokens, ids 1..num_symbols.

    Returns:
      {"tokens": (batch, L + M) int32, "targets": (batch, M) int32}: tokens[:, :L] has the data
      at M sorted random positions and blanks elsewhere, tokens[:, L:] are markers, and
      targets[:, j] is the j-th data token, to be output at position L + j.

    Example:
      >>> b = make_batch(jax.random.key(0), 2, 10, 3, 4)
      >>> b["tokens"].shape, b["targets"].shape
      ((2, 13), (2, 3))
    """
    key_pos, key_sym = jax.random.split(key)
    # M distinct positions per row: the first M of a random permutation, in increasing order.
    order = jnp.argsort(jax.random.uniform(key_pos, (batch, seq_len)), axis=1)
    positions = jnp.sort(order[:, :num_data], axis=1)
    targets = jax.random.randint(key_sym, (batch, num_data), 1, num_symbols + 1, jnp.int32)
    rows = jnp.arange(batch)[:, None]
    data = jnp.full((batch, seq_len), BLANK, jnp.int32).at[rows, positions].set(targets)
    markers = jnp.full((batch, num_data), num_symbols + 1, jnp.int32)
    return {"tokens": jnp.concatenate([data, markers], axis=1), "targets": targets}


def build_model(name: str, config: ml_collections.ConfigDict):
    """MambaLM or S4Model with the shared width, depth and state size of ``config.model``."""
    m = config.model
    vocab = config.task.num_symbols + 2  # blank, data, marker
    if name == "mamba":
        return MambaLM(vocab, m.d_model, m.num_layers, m.d_state, m.d_conv, m.expand)
    if name == "s4":
        return S4Model(vocab, m.d_model, m.num_layers, m.d_state, m.lambda_init, m.discretization)
    raise ValueError(f"Unknown model {name!r}; expected one of {MODELS}.")


def answer_logits(model, params, tokens: jax.Array, num_data: int) -> jax.Array:
    """The logits at the M marker positions, (batch, M, vocab)."""
    return model.apply(params, tokens)[:, -num_data:]


def _task_args(config: ml_collections.ConfigDict) -> tuple[int, int, int]:
    t = config.task
    if not 1 <= t.num_data <= t.seq_len:
        raise ValueError(f"need 1 <= task.num_data <= task.seq_len, got {t.num_data}, {t.seq_len}")
    if t.num_symbols < 1:
        raise ValueError(f"task.num_symbols must be positive, got {t.num_symbols}")
    return t.seq_len, t.num_data, t.num_symbols


def accuracy(model, params, config: ml_collections.ConfigDict, key: jax.Array) -> dict:
    """Per-token and whole-sequence accuracy on ``config.eval.num_sequences`` sequences."""
    task = _task_args(config)
    predict = jax.jit(lambda p, tokens: jnp.argmax(answer_logits(model, p, tokens, task[1]), -1))
    correct = []
    for i in range(-(-config.eval.num_sequences // config.eval.batch)):
        b = make_batch(jax.random.fold_in(key, i), config.eval.batch, *task)
        correct.append(np.asarray(predict(params, b["tokens"]) == b["targets"]))
    correct = np.concatenate(correct)[: config.eval.num_sequences]
    return {"accuracy": float(correct.mean()), "sequence_accuracy": float(correct.all(1).mean())}


def train_model(name: str, config: ml_collections.ConfigDict, workdir: str, key: jax.Array):
    """Trains one model with the gendiff.train harness; returns (model, final TrainState, last
    logged metrics). Step s trains on make_batch(fold_in(data_key, s)), generated on the fly."""
    init_key, data_key, train_key = jax.random.split(key, 3)
    task = _task_args(config)
    model = build_model(name, config)
    params = model.init(init_key, make_batch(init_key, 1, *task)["tokens"])
    tx = make_optimizer(config.optim)

    def loss_fn(params, batch, key):
        del key  # the models are deterministic
        logits = answer_logits(model, params, batch["tokens"], task[1])
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"])
        acc = jnp.mean(jnp.argmax(logits, -1) == batch["targets"])
        return ce.mean(), {"train_accuracy": acc}

    get_batch = lambda step: jax.device_get(
        make_batch(jax.random.fold_in(data_key, step), config.batch_size, *task)
    )
    state, last = train(
        create_train_state(params, tx),
        make_train_step(loss_fn, tx, config.optim.ema_decay),
        get_batch,
        train_key,
        num_steps=config.num_steps,
        workdir=os.path.join(workdir, name),
        checkpoint_every=config.checkpoint_every,
        log_every=config.log_every,
        progress=config.progress,
    )
    return model, state, last


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains each model of ``config.models`` on selective copying, then writes metrics.json.

    The models see the same training batches and are evaluated on the same held-out sequences
    (a key never used for training), with their final (not averaged) parameters.

    Example:
        >>> from experiments.configs import selective_copying as configs
        >>> config = configs.get_config("cpu"); config.num_steps = 100
        >>> metrics = train_and_evaluate(config, "/tmp/selective_copying")
    """
    start = time.time()
    common.check_config(config)
    names = [n.strip() for n in config.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(MODELS))
    if not names or unknown:
        raise ValueError(f"config.models must name some of {MODELS}, got {config.models!r}")
    model_key, eval_key = jax.random.split(jax.random.key(config.seed))
    result: dict = {"num_steps": config.num_steps, **config.task.to_dict()}
    for name in names:
        t0 = time.time()
        model, state, last = train_model(name, config, workdir, model_key)
        for k, v in accuracy(model, state.params, config, eval_key).items():
            result[f"{name}_{k}"] = v
        result[f"{name}_train_loss"] = last.get("loss")
        result[f"{name}_num_params"] = common.num_params(state.params)
        result[f"{name}_wall_s"] = time.time() - t0
    result["wall_s"] = time.time() - start
    if jax.process_index() == 0:
        common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/selective_copying")
