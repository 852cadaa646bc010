"""experiments/gmm.py on a tiny config, and its config errors."""

import json

import pytest

from experiments import gmm as experiment
from experiments.configs import gmm as configs


def test_bad_maxima_have_the_notes_likelihood_and_the_expected_frequency(tmp_path):
    c = configs.get_config("cpu")
    c.separations, c.num_points, c.num_inits, c.num_iters = (1.0, 4.0), 600, 64, 200
    metrics = experiment.train_and_evaluate(c, str(tmp_path))
    near, far = metrics["table"]
    # Measured (64 inits from data points): bad fractions 0.20 and 0.22; a run ends at
    # mu~ = (0, gamma R, gamma R) when two of its three starting points come from the far
    # cluster, probability 7/27 = 0.26 (binomial sd 0.055). Bad runs average -2.608 at R = 1
    # (F3:229 limit -2.619835) and -7.716 at R = 4 (limit -7.620); EM from the true centres
    # reaches -2.258 and -2.534 (R -> infinity: -2.517551).
    for row in (near, far):
        assert abs(row["fraction_bad"] - 7 / 27) < 0.15
        assert row["fraction_mu_tilde"] == row["fraction_bad"]
        assert abs(row["log_lik_bad_mean"] - row["bad_maximum_limit"]) < 0.15
    assert far["log_lik_global"] > far["log_lik_bad_mean"] + 4  # the gap grows like R^2 / 3
    assert metrics["worked_values"] == {
        "bad_maximum_limit_R1": -2.619835,
        "global_maximum_limit": -2.517551,
    }
    assert (tmp_path / "bad_fraction.png").exists()
    with open(tmp_path / "metrics.json") as f:
        assert json.load(f)["table"][1]["R"] == 4.0


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("init", "kmeans", "Unknown config.init 'kmeans'"),
        ("num_points", 2, "num_points must be >= 3"),
        ("separations", (1.0, -1.0), "separations must be positive"),
        ("gamma", 0.5, "gamma must be > 1"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, field, value, message):
    config = configs.get_config("cpu")
    config[field] = value
    with pytest.raises(ValueError, match=message):
        experiment.train_and_evaluate(config, str(tmp_path))
