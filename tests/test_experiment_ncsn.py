"""experiments/ncsn.py: a short run end to end."""

import json
import math
import os

from experiments import ncsn
from experiments.configs import ncsn as configs


def test_short_toy2d_run_writes_finite_metrics_and_samples(tmp_path):
    config = configs.get_config("toy2d")
    config.num_steps, config.checkpoint_every, config.log_every = 30, 30, 10
    config.optim.warmup_steps = 5
    config.progress = False
    config.model.hidden, config.model.depth = 32, 1
    config.ncsn.num_levels, config.ncsn.steps_per_level = 3, 5
    config.eval.num_samples = config.eval.sample_batch = 200
    result = ncsn.train_and_evaluate(config, str(tmp_path))
    with open(tmp_path / "metrics.json") as f:
        assert json.load(f) == result
    assert os.path.exists(tmp_path / "samples.png")
    assert result["num_steps"] == 30
    for name in ("train_loss", "swd", "swd_floor", "swd_noise", "mmd"):
        assert math.isfinite(result[name]), name
    assert result["swd_floor"] < result["swd_noise"]
