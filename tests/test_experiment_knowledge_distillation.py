"""experiments/knowledge_distillation.py on a tiny config, and its config errors."""

import json
import os

import pytest

from experiments import knowledge_distillation as experiment
from experiments.configs import knowledge_distillation as configs


def test_with_alpha_zero_both_student_arms_are_the_same_run(tmp_path):
    # alpha = 0 drops the soft targets, so the two arms share initialisations, batches and loss.
    c = configs.get_config("cpu")
    c.num_steps, c.checkpoint_every, c.log_every, c.optim.warmup_steps = 15, 15, 5, 2
    c.num_student_seeds, c.student_train_examples = 1, 100
    c.kd.alpha = 0.0
    metrics = experiment.train_and_evaluate(c, str(tmp_path))
    for name in ("test_accuracy", "test_nll"):
        assert metrics[f"student_kd_{name}"] == metrics[f"student_ce_{name}"]
    assert 0.0 <= metrics["student_kd_test_accuracy"] <= 1.0
    assert metrics["teacher_num_params"] > 10 * metrics["student_num_params"]
    with open(os.path.join(tmp_path, "metrics.json")) as f:
        assert json.load(f)["teacher_test_nll"] == metrics["teacher_test_nll"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("kd.temperature", 0.0, "temperature must be > 0"),
        ("kd.alpha", 2.0, r"alpha must lie in \[0, 1\]"),
        ("num_student_seeds", 0, "config.num_student_seeds must be a positive integer"),
        ("student_train_examples", -1, "config.student_train_examples must be >= 0"),
        ("dataset", "toy2d/two_moons", "must hold labelled images"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, field, value, message):
    config = configs.get_config("cpu")
    section, _, name = field.rpartition(".")
    (config[section] if section else config)[name] = value
    with pytest.raises(ValueError, match=message):
        experiment.train_and_evaluate(config, str(tmp_path))
