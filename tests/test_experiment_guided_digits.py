"""experiments/guided_digits.py and experiments/diffusion_classifier.py end to end, tiny configs."""

import json
import os

import pytest
from PIL import Image

from experiments import diffusion_classifier, guided_digits
from experiments.configs import diffusion_classifier as dc_configs
from experiments.configs import guided_digits as configs
from gendiff import eval as evaluation


@pytest.fixture(scope="module")
def guided_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("guided_digits"))
    return workdir, guided_digits.train_and_evaluate(configs.get_config("tiny"), workdir)


@pytest.mark.slow  # an end-to-end run: .ci/run runs it after the default suite
def test_guided_digits_beats_its_baselines_and_writes_class_rows(guided_run):
    workdir, result = guided_run
    config = configs.get_config("tiny")
    names = [f"cfg_w{w:g}" for w in config.eval.cfg_scales]
    names += [f"classifier_s{s:g}" for s in config.eval.classifier_scales]
    for name in names:
        assert 0.0 <= result[f"{name}_accuracy"] <= 1.0
        # Every sampler's digits are closer to the test digits than clipped noise is.
        assert result[f"{name}_fd_digits"] < 0.9 * result["fd_digits_noise"], name
        # Rows are classes: 10 rows of samples_per_class (10) digits each.
        with Image.open(os.path.join(workdir, f"samples_{name}.png")) as png:
            height, width = evaluation.grid_image_size(100, 8, 8, nrow=10, title=True)
            assert png.size == (width, height)
    assert result["fd_digits_floor"] < result["fd_digits_noise"]
    assert result["num_steps"] == config.num_steps
    # Measured on the tiny config (chance 0.1; 100 samples per scale, standard error 0.03):
    # the noisy classifier is 0.91 accurate on clean test digits; classifier guidance at s = 4
    # gives digits of the asked class 0.62 of the time against 0.20 at s = 0, and FD-digits
    # 83 against 103 at s = 0 and 124 for noise; the denoiser's loss fell from 0.99 to 0.47.
    assert result["noisy_classifier_test_accuracy_t0"] > 0.6
    assert result["classifier_s4_accuracy"] > result["classifier_s0_accuracy"] + 0.2
    assert result["classifier_s4_fd_digits"] < result["classifier_s0_fd_digits"]
    assert result["train_loss"] < 0.7
    with open(os.path.join(workdir, "metrics.json")) as f:
        assert json.load(f) == pytest.approx(result)
    # Both networks were checkpointed in their own directories.
    assert os.listdir(os.path.join(workdir, "checkpoints"))
    assert os.listdir(os.path.join(workdir, "noisy_classifier", "checkpoints"))


@pytest.mark.slow  # an end-to-end run: .ci/run runs it after the default suite
def test_diffusion_classifier_loads_the_guided_model_and_beats_chance(guided_run, tmp_path):
    denoiser_dir, _ = guided_run
    config = dc_configs.get_config("tiny")
    config.denoiser_workdir = denoiser_dir
    result = diffusion_classifier.train_and_evaluate(config, str(tmp_path))
    for n in config.classify.num_samples:
        assert 0.0 <= result[f"accuracy_n{n}"] <= 1.0
    assert result["num_test"] == config.classify.num_test == 100
    assert result["num_denoiser_steps"] == configs.get_config("tiny").num_steps
    assert 0.5 < result["reference_accuracy"] <= 1.0  # the independent classifier works
    # Chance is 0.1 (standard error 0.03 on 100 digits); measured: 0.36 with 2 draws, 0.42
    # with 4.
    assert result["accuracy_n4"] > 0.25
    assert not os.path.exists(tmp_path / "checkpoints")  # nothing was trained here
    assert os.path.exists(tmp_path / "metrics.json")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("eval.cfg_scales", (0.0, -1.0), "guidance_scale must be a finite scalar >= 0"),
        ("eval.classifier_scales", (float("nan"),), "guidance_scale must be a finite scalar"),
        ("num_steps", 0, "config.num_steps must be a positive integer"),
    ],
)
def test_bad_guided_config_is_a_clear_error(tmp_path, field, value, message):
    config = configs.get_config("tiny")
    section, _, name = field.rpartition(".")
    (config[section] if section else config)[name] = value
    with pytest.raises(ValueError, match=message):
        guided_digits.train_and_evaluate(config, str(tmp_path))


def test_bad_diffusion_classifier_config_is_a_clear_error(tmp_path):
    config = dc_configs.get_config("tiny")
    config.classify.num_samples = (2, 3)
    with pytest.raises(ValueError, match=r"multiples of draws_per_call = 2, got \(2, 3\)"):
        diffusion_classifier.train_and_evaluate(config, str(tmp_path))
    config = dc_configs.get_config("tiny")
    config.denoiser_workdir = str(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="holds no checkpoints"):
        diffusion_classifier.train_and_evaluate(config, str(tmp_path))
    with pytest.raises(ValueError, match="Unknown preset 'gpu'; expected one of"):
        dc_configs.get_config("gpu")
