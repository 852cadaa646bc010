"""experiments/induction_heads.py: the task generator and a few training steps per model."""

import json

import jax
import numpy as np
import pytest

from experiments import induction_heads as ih
from experiments import sequence_tasks
from experiments.configs import induction_heads as configs


def test_the_label_is_the_token_after_the_first_trigger():
    L, S = 12, 5
    b = ih.make_batch(jax.random.key(0), 64, L, S)
    tokens, targets = np.asarray(b["tokens"]), np.asarray(b["targets"])
    assert tokens.shape == (64, L) and targets.shape == (64, 1)
    assert tokens.min() >= 0 and tokens.max() <= S
    np.testing.assert_array_equal(tokens[:, -1], S)  # the query trigger
    is_trigger = tokens == S
    np.testing.assert_array_equal(is_trigger.sum(1), 2)  # once inside, once at the end
    first = is_trigger.argmax(1)
    assert first.max() <= L - 3  # the recalled token is never the query itself
    np.testing.assert_array_equal(targets[:, 0], tokens[np.arange(64), first + 1])
    assert targets.max() < S  # an ordinary token, never the trigger
    # The trigger moves between sequences, and a different key gives different sequences.
    assert len(set(first)) > 3
    assert not np.array_equal(tokens, ih.make_batch(jax.random.key(1), 64, L, S)["tokens"])


def test_a_model_that_recalls_scores_one_and_a_fixed_guess_scores_chance():
    """The scoring pipeline against two hand-written predictors on 2000 sequences: one that
    looks up the token after the first trigger, one that always answers 0 (chance, 1/S)."""
    S = 4
    batches = [ih.make_batch(jax.random.key(i), 500, 20, S) for i in range(4)]

    def one_hot(answer):
        return jax.nn.one_hot(answer, S + 1)[:, None, :]  # (batch, 1, vocab) logits

    def recall(params, batch):
        first = (batch["tokens"] == S).argmax(1)
        return one_hot(batch["tokens"][np.arange(len(first)), first + 1])

    zero = lambda params, batch: one_hot(0 * batch["tokens"][:, 0])
    assert sequence_tasks.correct_predictions(recall, None, batches).mean() == 1.0
    chance = sequence_tasks.correct_predictions(zero, None, batches).mean()
    assert abs(chance - 1 / S) < 0.03  # 3 standard errors


def _tiny_config(models):
    config = configs.get_config("cpu")
    config.models = models
    config.num_steps, config.checkpoint_every, config.log_every = 4, 4, 2
    config.batch_size = 8
    config.progress = False
    config.optim.warmup_steps = 1
    config.task.seq_len, config.task.num_symbols = 8, 4
    config.model.d_model, config.model.d_state = 8, 4
    config.eval.lengths = (8, 16)
    config.eval.num_sequences, config.eval.batch = 20, 8
    return config


def test_tiny_training_run_of_both_models_writes_metrics(tmp_path):
    result = ih.train_and_evaluate(_tiny_config("mamba,s4"), str(tmp_path))
    with open(tmp_path / "metrics.json") as f:
        assert json.load(f) == result
    assert result["eval_lengths"] == [8, 16]  # the training length once, then the longer one
    for name in ("mamba", "s4"):
        for n in (8, 16):
            assert 0.0 <= result[f"{name}_accuracy_len{n}"] <= 1.0
        assert np.isfinite(result[f"{name}_train_loss"])
        assert result[f"{name}_num_params"] > 0


def test_bad_configs_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="mamba"):
        ih.train_and_evaluate(_tiny_config("mamba,lstm"), str(tmp_path))
    config = _tiny_config("s4")
    config.eval.lengths = (2,)
    with pytest.raises(ValueError, match=">= 3"):
        ih.train_and_evaluate(config, str(tmp_path))
