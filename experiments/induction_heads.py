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

import os

import jax
import ml_collections

from experiments import common, sequence_tasks
from experiments.configs import induction_heads as configs
from gendiff.data import GeneratedBatches, tasks

MODELS = sequence_tasks.TOKEN_MODELS


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


def _sizes(config: ml_collections.ConfigDict, seq_len: int) -> dict[str, int]:
    return {"seq_len": seq_len, "num_symbols": config.task.num_symbols}


def accuracy(
    model, params, config: ml_collections.ConfigDict, key: jax.Array, seq_len: int
) -> float:
    """Accuracy on ``config.eval.num_sequences`` held-out sequences of length ``seq_len``."""
    num_batches = -(-config.eval.num_sequences // config.eval.batch)
    batch_of = tasks.step_batches(
        tasks.induction_heads, key, config.eval.batch, **_sizes(config, seq_len)
    )
    batches = (batch_of(i) for i in range(num_batches))
    correct = sequence_tasks.correct_predictions(_answer_logits(model), params, batches)
    return float(correct[: config.eval.num_sequences].mean())


def train_model(name: str, config: ml_collections.ConfigDict, workdir: str, key: jax.Array):
    """Trains one model at length ``config.task.seq_len``; returns (model, final TrainState, last
    logged metrics). The global batch of step s is drawn from fold_in(data_key, s)."""
    init_key, data_key, train_key = jax.random.split(key, 3)
    sizes = _sizes(config, config.task.seq_len)
    model = build_model(name, config)
    params = model.init(init_key, tasks.induction_heads(init_key, 1, **sizes)["tokens"])
    batch_of_step = tasks.step_batches(
        tasks.induction_heads, data_key, config.batch_size, **sizes
    )
    batches = GeneratedBatches(batch_of_step, config.batch_size)
    state, last = sequence_tasks.train_cross_entropy(
        params, _answer_logits(model), batches, config, os.path.join(workdir, name), train_key
    )
    return model, state, last


@common.experiment
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
