"""experiments/sequential_digits.py: the scoring of a classifier, a tiny run and bad configs."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import sequential_digits as sd
from experiments.configs import sequential_digits as configs
from gendiff import data, nets


def test_a_classifier_with_a_zero_head_scores_the_class_zero_frequency():
    """Zero logits everywhere: argmax picks class 0, so the accuracy is the share of zeros in
    the test labels (chance, about 1/10), whatever the blocks compute."""
    test = data.load("digits", "test")
    model = nets.SequenceClassifier("s4", 10, d_model=8, num_layers=1, d_state=4)
    params = model.init(jax.random.key(0), jnp.zeros((1, 64, 1)))
    head = params["params"]["head"]
    params["params"]["head"] = jax.tree_util.tree_map(jnp.zeros_like, head)
    acc = sd.accuracy(model, params, test, batch=100)  # 4 batches, the last one short
    assert acc == np.mean(test.labels == 0)
    assert 0.05 < acc < 0.15


def _tiny_config(models):
    config = configs.get_config("cpu")
    config.models = models
    config.num_steps, config.checkpoint_every, config.log_every = 3, 3, 1
    config.batch_size = 16
    config.progress = False
    config.optim.warmup_steps = 1
    config.model.d_model, config.model.d_state, config.model.num_layers = 8, 4, 1
    config.model.num_heads = 2
    return config


def test_tiny_training_run_of_every_model_writes_metrics(tmp_path):
    result = sd.train_and_evaluate(_tiny_config("mamba,s4,transformer"), str(tmp_path))
    with open(tmp_path / "metrics.json") as f:
        assert json.load(f) == result
    assert result["sequence_length"] == 64
    for name in sd.MODELS:
        assert 0.0 <= result[f"{name}_test_accuracy"] <= 1.0
        assert np.isfinite(result[f"{name}_train_loss"])
        assert result[f"{name}_num_params"] > 0


def test_bad_configs_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="transformer"):
        sd.train_and_evaluate(_tiny_config("mamba,lstm"), str(tmp_path))
    config = _tiny_config("s4")
    config.model.pooling = "max"
    with pytest.raises(ValueError, match="mean"):
        sd.train_and_evaluate(config, str(tmp_path))
