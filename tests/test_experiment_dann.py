"""experiments/dann.py on tiny configs, and its config errors."""

import json
import os

import numpy as np
import pytest

from experiments import dann as experiment
from experiments.configs import dann as configs


def test_lambda_schedule_is_ganins_ramp():
    p = np.array([0.0, 0.1, 0.5, 1.0])
    expected = 2.0 / (1.0 + np.exp(-10.0 * p)) - 1.0  # 0, 0.462, 0.987, 0.99991
    np.testing.assert_allclose(np.asarray(experiment.lambda_schedule(p)), expected, rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(experiment.lambda_schedule(p, 0.5, 3.0)),
        0.5 * (2.0 / (1.0 + np.exp(-3.0 * p)) - 1.0),
        rtol=1e-6,
    )


TINY_MOONS = dict(num_steps=1500, num_seeds=1, num_train=500, num_test=1000, log_every=100)


@pytest.mark.slow  # an end-to-end run: .ci/run runs it after the default suite
def test_moons_dann_beats_source_only_on_the_rotated_target(tmp_path):
    c = configs.get_config("moons")
    for k, v in TINY_MOONS.items():
        c[k] = v
    c.arms = ("source_only", "dann")
    c.optim.learning_rate = 1e-3
    m = experiment.train_and_evaluate(c, str(tmp_path))
    # Measured with this config on seeds 0-4: source-only 0.780 0.794 0.774 0.784 0.783,
    # DANN 0.838 0.835 0.968 0.840 0.840 (gain >= 0.041 on every seed); the test runs seed 0.
    assert m["source_only_source_accuracy"] > 0.97
    assert m["dann_target_accuracy"] > m["source_only_target_accuracy"] + 0.03
    assert m["dann_gain"] == pytest.approx(
        m["dann_target_accuracy"] - m["source_only_target_accuracy"]
    )
    with open(os.path.join(tmp_path, "metrics.json")) as f:
        assert json.load(f)["dann_target_accuracy"] == m["dann_target_accuracy"]
    assert os.path.getsize(os.path.join(tmp_path, "boundary.png")) > 10_000


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("dann.lambda_max", -0.5, "config.dann.lambda_max must be >= 0"),
        ("dann.domain_weight", -1.0, "config.dann.domain_weight must be >= 0"),
        ("dann.schedule", "linear", "unknown config.dann.schedule 'linear'"),
        ("domain", "svhn", "unknown config.domain 'svhn'"),
        ("arms", ("dann", "target_only"), "config.arms must name some of"),
        ("num_seeds", 0, "config.num_seeds must be a positive integer"),
        ("batch_size", 0, "config.batch_size must be a positive integer"),
        ("model.extractor", "resnet", "unknown config.model.extractor 'resnet'"),
        ("dataset", "svhn", "unknown config.dataset 'svhn'"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, field, value, message):
    # model.* and dataset are fields of the image presets; the rest, of every preset
    image_field = field.startswith("model.") or field == "dataset"
    config = configs.get_config("digits" if image_field else "moons")
    section, _, name = field.rpartition(".")
    (config[section] if section else config)[name] = value
    with pytest.raises(ValueError, match=message):
        experiment.train_and_evaluate(config, str(tmp_path))
