"""experiments/sequential_digits.py: the pixel sequences, the classifier and a tiny run."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import sequential_digits as sd
from experiments.configs import sequential_digits as configs
from gendiff import data


def test_sequences_hold_the_pixels_in_raster_order():
    images = np.random.default_rng(0).standard_normal((3, 8, 8, 1)).astype(np.float32)
    seq = sd.as_sequences(images)
    assert seq.shape == (3, 64, 1)
    for r in range(8):
        for c in range(8):
            np.testing.assert_array_equal(seq[:, 8 * r + c, 0], images[:, r, c, 0])
    with pytest.raises(ValueError, match="N, H, W, C"):
        sd.as_sequences(images[0])


def test_a_classifier_with_a_zero_head_scores_the_class_zero_frequency():
    """Zero logits everywhere: argmax picks class 0, so the accuracy is the share of zeros in
    the test labels (chance, about 1/10), whatever the blocks compute."""
    test = data.load("digits", "test")
    model = sd.SequenceClassifier("s4", 10, d_model=8, num_layers=1, d_state=4)
    params = model.init(jax.random.key(0), jnp.zeros((1, 64, 1)))
    head = params["params"]["head"]
    params["params"]["head"] = jax.tree_util.tree_map(jnp.zeros_like, head)
    acc = sd.accuracy(model, params, test, batch=100)  # 4 batches, the last one short
    assert acc == np.mean(test.labels == 0)
    assert 0.05 < acc < 0.15


@pytest.mark.parametrize("mixer", sd.MODELS)
@pytest.mark.parametrize("pooling", sd.POOLINGS)
def test_the_readout_sees_the_first_and_the_last_pixel(mixer, pooling):
    """Both ends of the sequence reach the logits: the first pixel through the whole stack of
    (causal, for Mamba and S4D) blocks, the last one also with the last-position readout."""
    model = sd.SequenceClassifier(
        mixer, 10, d_model=8, num_layers=2, d_state=4, num_heads=2, pooling=pooling
    )
    x = jax.random.normal(jax.random.key(1), (2, 64, 1))
    params = model.init(jax.random.key(0), x)
    logits = model.apply(params, x)
    assert logits.shape == (2, 10)
    for position in (0, -1):
        changed = model.apply(params, x.at[:, position].add(1.0))
        assert np.abs(changed - logits).max() > 1e-4


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
