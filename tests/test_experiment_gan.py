"""experiments/gan.py end to end on tiny configs: PacGAN's ring and grid, DCGANs on digits."""

import json
import os
import warnings

import jax
import numpy as np
import pytest

from experiments import gan
from experiments.configs import gan as configs
from gendiff import data, metrics


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("gan_ring"))
    return workdir, gan.train_and_evaluate(configs.get_config("ring_tiny"), workdir)


@pytest.mark.slow  # an end-to-end run: .ci/run runs it after the default suite
def test_ring_sweep_writes_the_table_and_beats_the_untrained_generator(ring_run):
    workdir, result = ring_run
    config = configs.get_config("ring_tiny")
    names = [f"{v}_pac{m}" for v in config.sweep.variants for m in config.sweep.packings]
    with open(os.path.join(workdir, "results.json")) as f:
        rows = json.load(f)
    assert sorted(rows) == sorted(names)
    table = open(os.path.join(workdir, "results.md")).read()
    for name in names:
        assert f"| {name} | {config.num_steps} | 2 |" in table
        assert os.path.exists(os.path.join(workdir, name, "samples.png"))
        assert len(rows[name]["runs"]) == len(config.sweep.seeds)
        for run in rows[name]["runs"]:
            assert run["num_steps"] == config.num_steps
            assert sum(run["counts"]) == round(run["high_quality"] * config.eval.num_samples)
        assert result[f"{name}/modes_captured_mean"] == pytest.approx(
            sum(r["modes_captured"] for r in rows[name]["runs"]) / 2
        )
    with open(os.path.join(workdir, "metrics.json")) as f:
        # a run that captures no mode has reverse KL inf (and its row's std is nan)
        assert json.load(f) == pytest.approx(result, nan_ok=True)
    # Untrained generators of the same networks, scored the same way, capture 0-2 of the 8
    # ring modes; after 400 steps the tiny GAN has found the ring (4-8 modes at the tiny
    # preset's 10 stds; the ring preset's 6,000 steps sharpen them to its 3 stds).
    means, stds, weights = data.pacgan_mixture("ring")
    generator, _ = gan._networks(config, (2,), None, 1)
    untrained = []
    for seed in config.sweep.seeds:
        z = jax.random.normal(jax.random.key(100 + seed), (1000, config.model.latent_dim))
        x = generator.apply(generator.init(jax.random.key(seed), z[:2]), z)
        coverage = metrics.mode_coverage(
            np.asarray(x), means, stds, weights, num_std=config.eval.num_std
        )
        untrained.append(float(coverage["modes_captured"]))
    assert max(untrained) <= 3, untrained
    for name in names:
        assert result[f"{name}/modes_captured_mean"] >= np.mean(untrained) + 3, name


@pytest.mark.slow  # an end-to-end run: .ci/run runs it after the default suite
def test_a_finished_sweep_only_re_evaluates(ring_run, tmp_path):
    workdir, result = ring_run
    again = gan.train_and_evaluate(configs.get_config("ring_tiny"), workdir)
    assert again == pytest.approx(result, nan_ok=True)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("sweep.variants", ("wgan_pg",), "unknown GAN variant 'wgan_pg'"),
        ("sweep.packings", (1, 0), "packing must be a positive integer"),
        ("sweep.packings", (3,), "must be a multiple of the packing m=3"),
        ("gan.loss", "nonsaturating", "unknown GAN loss 'nonsaturating'"),
        ("dataset", "rings", "config.dataset must be one of"),
        ("sweep.seeds", (), "must list at least one seed"),
        ("gan.num_steps", -1, "config.gan.num_steps must be an integer >= 0"),
        ("conditional", True, "config.conditional needs labelled images"),
        ("num_steps", 0, "config.num_steps must be a positive integer"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, field, value, message):
    config = configs.get_config("ring_tiny")
    if field == "gan.loss":
        config.sweep.variants = ()
    section, _, name = field.rpartition(".")
    (config[section] if section else config)[name] = value
    with pytest.raises(ValueError, match=message):
        gan.train_and_evaluate(config, str(tmp_path))
    assert not os.listdir(tmp_path)  # nothing trained


def test_wasserstein_loss_without_a_lipschitz_device_warns(tmp_path):
    config = configs.get_config("grid_tiny")
    config.sweep.variants = ("wasserstein",)  # the bare loss: no clipping, no penalty
    config.num_steps = config.checkpoint_every = config.log_every = 2
    with pytest.warns(UserWarning, match="needs a Lipschitz critic"):
        gan.train_and_evaluate(config, str(tmp_path))
    config.sweep.variants = ("wgan_gp",)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        gan.train_and_evaluate(config, str(tmp_path / "gp"))


def test_grid_preset_runs_and_names_its_configuration(tmp_path):
    result = gan.train_and_evaluate(configs.get_config("grid_tiny"), str(tmp_path))
    assert set(result) >= {"non_saturating_pac1/modes_captured_mean"}
    assert "| non_saturating_pac1 | 400 | 1 |" in open(tmp_path / "results.md").read()
    # 25 modes: untrained generators capture 0-1 (measured); after 400 steps, 9.
    assert result["non_saturating_pac1/modes_captured_mean"] >= 5


def test_a_variant_may_set_its_own_length(tmp_path):
    config = configs.get_config("grid_tiny")
    config.sweep.variants = ("non_saturating",)
    config.gan.num_steps = 7  # replaces config.num_steps (400) for every run
    gan.train_and_evaluate(config, str(tmp_path))
    with open(tmp_path / "results.json") as f:
        run = json.load(f)["non_saturating_pac1"]["runs"][0]
    assert run["num_steps"] == 7
    assert "| non_saturating_pac1 | 7 | 1 |" in open(tmp_path / "results.md").read()


def test_a_latent_code_reaches_the_generator_and_its_samples(tmp_path):
    config = configs.get_config("grid_tiny")
    config.model.latent_categories = 4
    settings = gan.run_settings(config, "non_saturating", 1)
    settings["num_steps"] = 7
    batches = gan.mixture_batches("grid", config.batch_size, 0)
    generator, state, _ = gan.train_gan(
        config, str(tmp_path), settings, 0, batches, (2,), None, "x"
    )
    table = jax.tree.leaves(state.params["generator"]["params"]["Embed_0"])[0]
    assert table.shape[0] == 4  # one embedding row per code
    config.eval.num_samples = config.eval.sample_batch = 64
    key = jax.random.key(1)
    by_code = [gan.draw(config, generator, state, key, np.full(64, c)) for c in range(4)]
    assert all(np.abs(by_code[0] - x).max() > 1e-3 for x in by_code[1:])  # the code matters
    drawn = gan.draw(config, generator, state, key)  # codes drawn per sample
    assert drawn.shape == (64, 2) and np.all(np.isfinite(drawn))


# The digits tests train the FD-digits feature classifier besides the GAN: minutes, not seconds.
@pytest.mark.slow
def test_digits_dcgan_runs_and_reports_fd_with_its_baselines(tmp_path):
    config = configs.get_config("digits_tiny")
    result = gan.train_and_evaluate(config, str(tmp_path))
    # No quality claim: after 300 steps the unconditional DCGAN is still far from the digits
    # (measured fd_digits 333 against noise 118 and floor 6.5); the digits preset (3,000
    # steps, R1 gamma 10) reaches 8.0.
    assert result["fd_digits_floor"] < result["fd_digits_noise"]
    assert result["fd_digits_floor"] < result["fd_digits"]
    assert result["num_steps"] == config.num_steps
    assert os.path.exists(tmp_path / "samples.png")


@pytest.mark.slow
def test_conditional_digits_gan_beats_chance(tmp_path):
    config = configs.get_config("cgan_digits_tiny")
    result = gan.train_and_evaluate(config, str(tmp_path))
    # Chance is 0.1 (200 samples: standard error 0.02). Measured after 300 steps: label
    # accuracy 0.98, fd_digits 48.1 against a floor of 6.5 and noise 117.7 (the cgan_digits
    # preset's 2,000 steps: 0.99 and 5.7).
    assert result["label_accuracy"] > 0.6
    assert {f"fd_digits_class{k}" for k in range(10)} <= set(result)
    assert result["fd_digits"] < 0.6 * result["fd_digits_noise"]
    assert os.path.exists(tmp_path / "samples.png")
