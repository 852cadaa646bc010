"""experiments/rbm.py on a tiny config, and its config errors."""

import json
import os

import pytest

from experiments import rbm as experiment
from experiments.configs import rbm as configs


def _tiny():
    c = configs.get_config("cpu")
    c.num_hidden, c.methods = 16, ("cd1", "pcd1")  # CD-10: the same code as CD-1
    c.num_steps, c.checkpoint_every, c.log_every = 1000, 1000, 250
    c.eval.ais_betas, c.eval.ais_chains, c.eval.gibbs_sweeps, c.eval.num_samples = (
        1000,
        32,
        100,
        200,
    )
    return c


@pytest.mark.slow  # an end-to-end run: .ci/run runs it after the default suite
def test_tiny_run_beats_the_base_rate_model_and_ais_agrees_with_exact(tmp_path):
    metrics = experiment.train_and_evaluate(_tiny(), str(tmp_path))
    # Measured: base rates -24.71 nats; CD-1 -19.00, PCD-1 -19.51 (1000 steps, 16 hidden).
    for method in ("cd1", "pcd1"):
        m = metrics[method]
        assert m["test_log_likelihood"] > metrics["base_rate_test_log_likelihood"] + 2.0
        assert abs(m["log_z_ais"] - m["log_z_exact"]) < 0.1
        assert abs(m["log_z_reverse_ais"] - m["log_z_exact"]) < 0.1
        for name in ("filters.png", "samples.png", "samples.npy"):
            assert os.path.exists(tmp_path / method / name)
        # 100 Gibbs sweeps from the base-rate model; measured FD 42.8 (CD-1) and 76.3 (PCD-1)
        # against noise values 122.9 and 113.2.
        assert m["fd_digits"] < 0.8 * m["fd_digits_noise"]
        assert m["sample_s_per_1000"] > 0
    with open(tmp_path / "metrics.json") as f:
        assert json.load(f)["pcd1"]["log_z_exact"] == metrics["pcd1"]["log_z_exact"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("methods", ("cd1", "gibbs"), "Unknown training method 'gibbs'"),
        ("methods", ("cd0",), "Unknown training method 'cd0'"),
        ("num_hidden", 0, "num_hidden must be a positive integer"),
        ("dataset", "toy2d/two_moons", "must hold images"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, field, value, message):
    config = configs.get_config("cpu")
    config[field] = value
    with pytest.raises(ValueError, match=message):
        experiment.train_and_evaluate(config, str(tmp_path))
