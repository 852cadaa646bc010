"""experiments/knowledge_distillation.py on a tiny config, and its config errors."""

import json
import os

import pytest
from conftest import assert_loss_fell

from experiments import knowledge_distillation as experiment
from experiments.configs import knowledge_distillation as configs


def test_with_alpha_zero_both_student_arms_are_the_same_run_and_beat_chance(tmp_path):
    # alpha = 0 drops the soft targets, so the two arms share initialisations, batches and loss.
    c = configs.get_config("cpu")
    c.num_steps, c.checkpoint_every, c.log_every, c.optim.warmup_steps = 15, 15, 1, 2
    c.optim.ema_decay = 0.5  # the scored EMA parameters follow the 15 steps
    c.num_student_seeds, c.student_train_examples = 1, 100
    c.kd.alpha = 0.0
    metrics = experiment.train_and_evaluate(c, str(tmp_path))
    for name in ("test_accuracy", "test_nll"):
        assert metrics[f"student_kd_{name}"] == metrics[f"student_ce_{name}"]
    # Chance is about 0.1 on the 10 digit classes (359 test images, standard error 0.016).
    # Measured: teacher 0.84, students 0.26; teacher loss 2.27 -> 0.97, students 2.38 -> 2.14.
    assert metrics["teacher_test_accuracy"] > 0.6
    assert metrics["student_kd_test_accuracy"] > 0.18
    assert_loss_fell(tmp_path / "teacher", margin=0.8)
    assert_loss_fell(tmp_path / "student_kd_0", margin=0.15)
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
