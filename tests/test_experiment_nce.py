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


def test_nce_recovers_the_normaliser_and_approaches_maximum_likelihood(tmp_path):
    m = experiment.train_and_evaluate(_small(), str(tmp_path))
    # Measured: log Z error 0.05 (nu = 1) and 0.03 (nu = 20); ML 0.02; parameter error
    # 0.09 (nu = 1), 0.06 (nu = 20), ML 0.05. The truth log Z is log(2 pi 0.8 1.2).
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
