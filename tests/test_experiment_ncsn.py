"""experiments/ncsn.py: a short run end to end."""

import json
import math
import os

from experiments import ncsn
from experiments.configs import ncsn as configs


def test_short_toy2d_run_samples_closer_to_the_data_than_noise(tmp_path):
    config = configs.get_config("toy2d")
    config.num_steps, config.checkpoint_every, config.log_every = 500, 500, 100
    config.optim.warmup_steps, config.optim.ema_decay = 5, 0.5  # EMA that follows 500 steps
    config.progress = False
    config.model.hidden, config.model.depth = 32, 1
    config.ncsn.num_levels, config.ncsn.steps_per_level = 10, 50
    config.eval.num_samples = config.eval.sample_batch = 200
    result = ncsn.train_and_evaluate(config, str(tmp_path))
    with open(tmp_path / "metrics.json") as f:
        assert json.load(f) == result
    assert os.path.exists(tmp_path / "samples.png")
    assert result["num_steps"] == 500
    assert math.isfinite(result["train_loss"])
    assert result["swd_floor"] < result["swd_noise"]
    # The baseline is N(0, I) noise scored the same way. Measured on this config: SWD 0.15 vs
    # 0.32 for noise, MMD^2 0.005 vs 0.047 (an untrained network's samples score far above).
    assert result["swd"] < 0.75 * result["swd_noise"]
    assert result["mmd"] < 0.5 * result["mmd_noise"]
