"""experiments/selective_copying.py: a short training run of each model, and bad configs."""

import json

import numpy as np
import pytest

from experiments import selective_copying as sc
from experiments.configs import selective_copying as configs


def _tiny_config(models):
    config = configs.get_config("cpu")
    config.models = models
    config.num_steps, config.checkpoint_every, config.log_every = 4, 4, 2
    config.batch_size = 8
    config.progress = False
    config.optim.warmup_steps = 1
    config.task.seq_len, config.task.num_data, config.task.num_symbols = 12, 3, 4
    config.model.d_model, config.model.d_state = 8, 4
    config.eval.num_sequences, config.eval.batch = 20, 8
    return config


def test_tiny_training_run_of_both_models_writes_metrics(tmp_path):
    result = sc.train_and_evaluate(_tiny_config("mamba,s4"), str(tmp_path))
    with open(tmp_path / "metrics.json") as f:
        assert json.load(f) == result
    for name in ("mamba", "s4"):
        assert 0.0 <= result[f"{name}_accuracy"] <= 1.0
        assert result[f"{name}_sequence_accuracy"] <= result[f"{name}_accuracy"]
        assert np.isfinite(result[f"{name}_train_loss"])
        assert result[f"{name}_num_params"] > 0


def test_unknown_model_name_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="mamba"):
        sc.train_and_evaluate(_tiny_config("mamba,lstm"), str(tmp_path))
