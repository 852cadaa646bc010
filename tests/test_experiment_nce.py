"""experiments/nce.py on a small Gaussian case, and its config errors."""

import os

import pytest

from experiments import nce as experiment
from experiments.configs import nce as configs


def _small():
    c = configs.get_config("cpu")
    c.cases, c.nus, c.num_seeds, c.num_data, c.num_steps = ("gaussian",), (1, 20), 2, 2000, 400
    c.log_every = 100
    return c


@pytest.mark.slow  # an end-to-end run: .ci/run runs it after the default suite
def test_nce_recovers_the_normaliser_and_approaches_maximum_likelihood(tmp_path):
    m = experiment.train_and_evaluate(_small(), str(tmp_path))
    # Measured (2 data sets of 2000 points): |c - log Z*| 0.026 (nu = 1), 0.013 (nu = 20),
    # ML 0.027; |c - log Z(theta_hat)| 0.008 at nu = 20; parameter error 0.058 (nu = 1),
    # 0.033 (nu = 20), ML 0.033. The truth is log Z* = log(2 pi 0.8 1.2) = 1.797.
    assert m["gaussian_nu20_logz_error"] < 0.08
    assert m["gaussian_nu20_logz_self_error"] < 0.05
    assert m["gaussian_nu20_param_error"] < 1.6 * m["gaussian_ml_param_error"] + 0.02
    assert os.path.getsize(tmp_path / "nce.png") > 10_000


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("nus", (0, 5), r"nu \(the noise/data ratio\) must be a finite number > 0"),
        ("nus", (2.5,), "config.nus must hold whole numbers"),
        ("cases", ("cauchy",), "config.cases must be a non-empty subset"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, field, value, message):
    c = _small()
    c[field] = value
    with pytest.raises(ValueError, match=message):
        experiment.train_and_evaluate(c, str(tmp_path))
