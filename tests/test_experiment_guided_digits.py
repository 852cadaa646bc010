"""experiments/guided_digits.py and experiments/diffusion_classifier.py end to end, tiny configs."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from experiments import diffusion_classifier, guided_digits
from experiments.configs import diffusion_classifier as dc_configs
from experiments.configs import guided_digits as configs
from gendiff import ddpm
from gendiff import eval as evaluation
from gendiff.paths import DiscreteVPPath


@pytest.fixture(scope="module")
def guided_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("guided_digits"))
    return workdir, guided_digits.train_and_evaluate(configs.get_config("tiny"), workdir)


def test_guided_digits_reports_every_scale_and_writes_class_rows(guided_run):
    workdir, result = guided_run
    config = configs.get_config("tiny")
    names = [f"cfg_w{w:g}" for w in config.eval.cfg_scales]
    names += [f"classifier_s{s:g}" for s in config.eval.classifier_scales]
    for name in names:
        assert 0.0 <= result[f"{name}_accuracy"] <= 1.0
        assert result[f"{name}_fd_digits"] > 0
        # Rows are classes: 10 rows of samples_per_class (4) digits each.
        with Image.open(os.path.join(workdir, f"samples_{name}.png")) as png:
            height, width = evaluation.grid_image_size(40, 8, 8, nrow=4, title=True)
            assert png.size == (width, height)
    assert result["fd_digits_floor"] < result["fd_digits_noise"]
    assert result["num_steps"] == config.num_steps
    with open(os.path.join(workdir, "metrics.json")) as f:
        assert json.load(f) == pytest.approx(result)
    # Both networks were checkpointed in their own directories.
    assert os.listdir(os.path.join(workdir, "checkpoints"))
    assert os.listdir(os.path.join(workdir, "noisy_classifier", "checkpoints"))


def test_guided_denoising_loss_drops_labels_at_rate_p_and_is_the_ddpm_loss():
    path = DiscreteVPPath.from_schedule("linear", 50)
    x0 = jax.random.normal(jax.random.key(0), (4000, 2))
    labels = jnp.arange(4000, dtype=jnp.int32) % 10
    seen = []

    def model_fn(x, t, y):
        seen.append(y)
        return jnp.zeros_like(x) + y[:, None] / 10.0

    kwargs = dict(path=path, prediction="eps", null_label=10)
    loss, _ = guided_digits.guided_denoising_loss(
        jax.random.key(1), model_fn, x0, labels, label_dropout=0.25, **kwargs
    )
    assert abs(float(jnp.mean(seen[-1] == 10)) - 0.25) < 0.04
    # Same key, p = 0: exactly DDPM's loss of the conditional model on the true labels.
    kept, _ = guided_digits.guided_denoising_loss(
        jax.random.key(1), model_fn, x0, labels, label_dropout=0.0, **kwargs
    )
    key_loss = jax.random.split(jax.random.key(1))[1]
    reference, _ = ddpm.denoising_loss(
        key_loss, lambda x, t: model_fn(x, t, labels), x0, path, prediction="eps"
    )
    np.testing.assert_allclose(kept, reference, rtol=1e-6)
    assert not np.isclose(loss, kept)


def test_diffusion_classifier_loads_the_guided_model(guided_run, tmp_path):
    denoiser_dir, _ = guided_run
    config = dc_configs.get_config("tiny")
    config.denoiser_workdir = denoiser_dir
    result = diffusion_classifier.train_and_evaluate(config, str(tmp_path))
    for n in config.classify.num_samples:
        assert 0.0 <= result[f"accuracy_n{n}"] <= 1.0
    assert result["num_test"] == config.classify.num_test
    assert result["num_denoiser_steps"] == configs.get_config("tiny").num_steps
    assert 0.5 < result["reference_accuracy"] <= 1.0  # the independent classifier works
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
