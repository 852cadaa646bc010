"""experiments/score_sde.py: short runs end to end on each SDE, and bad path names."""

import math

import pytest

from experiments import score_sde
from experiments.configs import score_sde as configs


@pytest.mark.parametrize("path", ["vp", "ve"])
def test_short_toy2d_run_writes_finite_metrics(tmp_path, path):
    config = configs.get_config("toy2d")
    config.sde.path = path
    config.num_steps, config.checkpoint_every, config.log_every = 30, 30, 10
    config.optim.warmup_steps = 5
    config.progress = False
    config.model.hidden, config.model.depth = 32, 1
    config.sde.num_steps = 20
    config.eval.num_samples = config.eval.sample_batch = 200
    result = score_sde.train_and_evaluate(config, str(tmp_path))
    assert (tmp_path / "samples.png").exists() and (tmp_path / "metrics.json").exists()
    for name in ("train_loss", "swd", "swd_floor", "swd_noise"):
        assert math.isfinite(result[name]), name


def test_unknown_path_names_the_options(tmp_path):
    config = configs.get_config("toy2d")
    config.sde.path = "cld"
    with pytest.raises(ValueError, match="Unknown SDE path 'cld'"):
        score_sde.train_and_evaluate(config, str(tmp_path))
