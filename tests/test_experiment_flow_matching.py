"""experiments/flow_matching.py: short runs end to end (with a reflow round), and bad configs."""

import json
import math

import pytest

from experiments import flow_matching
from experiments.configs import flow_matching as configs


def _tiny(config, num_steps):
    config.num_steps, config.checkpoint_every, config.log_every = num_steps, num_steps, 100
    config.optim.warmup_steps, config.optim.ema_decay = 5, 0.5  # EMA that follows the short run
    config.progress = False
    config.eval.num_samples = config.eval.sample_batch = config.eval.straightness_samples = 200
    config.eval.samplers, config.eval.sampler = "euler:1,rk4:2", "rk4:2"
    return config


@pytest.mark.slow  # an end-to-end run: .ci/run runs it after the default suite
def test_short_toy2d_run_and_its_reflow_beat_their_baselines(tmp_path):
    config = _tiny(configs.get_config("toy2d"), num_steps=500)
    config.model.hidden, config.model.depth = 32, 1
    config.reflow_steps = 200
    config.reflow.num_pairs, config.reflow.pair_batch = 300, 200
    config.reflow.sampler, config.reflow.samplers = "euler:3", "euler:1,euler:2"
    result = flow_matching.train_and_evaluate(config, str(tmp_path))
    with open(tmp_path / "metrics.json") as f:
        assert json.load(f) == result
    for png in ("samples.png", "reflow.png"):
        assert (tmp_path / png).stat().st_size > 10_000, png
    # The reflow network trained for reflow_steps in its own directory.
    with open(tmp_path / "reflow" / "metrics.jsonl") as f:
        assert [json.loads(line)["step"] for line in f][-1] == 200
    assert result["num_steps"] == 500
    for name in ("reflow_swd_euler_nfe2", "reflow_train_loss"):
        assert math.isfinite(result[name]), name
    # The headline samples are the rk4:2 ones, drawn from the same noise.
    assert result["swd"] == result["swd_rk4_nfe8"]
    # Baselines, measured on this config: N(0, I) noise scores SWD 0.32 and MMD^2 0.047, the
    # flow 0.16 and 0.003. One Euler step of the flow scores 0.74, of its reflow 0.32, and
    # reflow straightens the flow (straightness 0.56 -> 0.003).
    assert result["swd"] < 0.6 * result["swd_noise"]
    assert result["mmd"] < 0.5 * result["mmd_noise"]
    assert result["reflow_swd_euler_nfe1"] < 0.6 * result["swd_euler_nfe1"]
    assert 0.0 <= result["reflow_straightness"] < 0.1 * result["straightness"]


@pytest.mark.slow  # an end-to-end run: .ci/run runs it after the default suite
def test_short_vp_run_on_digits_has_fd_below_noise_at_each_sampler(tmp_path):
    # The image branch (clipping, FD in classifier features) with a small MLP on the flattened
    # digits: compiling the U-Net would take most of a minute.
    config = _tiny(configs.get_config("cpu"), num_steps=100)
    config.model.name, config.model.hidden, config.model.depth = "mlp", 32, 1
    config.path = "vp"
    config.eval.samplers, config.eval.sampler = "euler:1", "euler:4"
    config.reflow.sampler = "euler:2"
    result = flow_matching.train_and_evaluate(config, str(tmp_path))
    assert (tmp_path / "samples.png").exists() and not (tmp_path / "reflow.png").exists()
    for name in ("fd_digits_euler_nfe1", "straightness"):
        assert math.isfinite(result[name]), name
    assert not any(name.startswith("reflow_") for name in result)
    # Measured on this config: FD-digits 76 (euler:4) vs 118 for clipped noise, floor 7.6.
    assert result["fd_digits_floor"] < result["fd_digits"] < 0.8 * result["fd_digits_noise"]


def test_parse_samplers_reads_solver_and_steps():
    assert flow_matching.parse_samplers("euler:1, heun:3,rk4:25") == [
        ("euler", 1),
        ("heun", 3),
        ("rk4", 25),
    ]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("path", "cld", "Unknown flow matching path 'cld'"),
        (
            "eval.samplers",
            "euler:1,midpoint:4",
            "Unknown sampler 'midpoint:4'.*'euler', 'heun', 'rk4'",
        ),
        ("eval.sampler", "euler", "Sampler 'euler' needs a positive number of steps"),
        ("reflow.sampler", "euler:2,rk4:2", "Expected one 'solver:num_steps'"),
        ("reflow.samplers", "euler:0", "Sampler 'euler:0' needs a positive number of steps"),
        ("reflow_steps", -1, "config.reflow_steps must be >= 0"),
        ("num_steps", 0, "config.num_steps must be a positive integer"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, field, value, message):
    config = configs.get_config("toy2d")
    section, _, name = field.rpartition(".")
    (config[section] if section else config)[name] = value
    with pytest.raises(ValueError, match=message):
        flow_matching.train_and_evaluate(config, str(tmp_path))


def test_unknown_preset_names_the_presets():
    with pytest.raises(ValueError, match="Unknown preset 'gpu'.*toy2d"):
        configs.get_config("gpu")
