"""experiments/gmm_density.py: the mixture baseline's bits/dim, samples and input errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from experiments import gmm_density as experiment
from experiments.configs import gmm_density as configs
from gendiff import classic, sde


def test_bits_per_dim_is_the_dequantisation_bound_of_scipys_density():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=(6, 3)) / 2.0 - 1.0  # 5 levels in [-1, 1]: delta = 1/4
    cov = np.array([[0.5, 0.1, 0.0], [0.1, 0.4, 0.05], [0.0, 0.05, 0.3]])
    covs = jnp.asarray(cov)[None]
    chol = classic.gmm.precisions_cholesky_from_covariances(covs, "full")
    params = classic.GMMParams(jnp.ones(1), jnp.zeros((1, 3)), covs, chol)
    key = jax.random.key(3)
    got = experiment.test_bits_per_dim(key, params, x, 5, "full")
    y = np.asarray(sde.dequantize(key, jnp.asarray(x), 5))  # the same u
    log_p = stats.multivariate_normal(np.zeros(3), cov).logpdf(y)
    want = np.mean(-log_p - 3 * math.log(2 * 0.25)) / (3 * math.log(2))
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.slow  # an end-to-end run: .ci/run runs it after the default suite
def test_tiny_run_beats_the_uniform_model_and_noise(tmp_path):
    c = configs.get_config("cpu")
    c.num_components, c.num_iters, c.num_restarts, c.num_copies = (2, 4), 20, 1, 1
    c.eval.num_samples = c.eval.sample_batch = 300
    result = experiment.train_and_evaluate(c, str(tmp_path))
    # Measured: K = 4 chosen (validation 2.908 vs 2.912 bits/dim at K = 2), test 2.763
    # bits/dim, fd_digits 21.3 against noise 112.7 (floor 4.0).
    assert result["num_components"] in (2, 4)
    assert result["test_bpd"] < math.log2(17) - 1.0  # the uniform model: log2 17 = 4.09
    assert result["fd_digits_floor"] < result["fd_digits"] < 0.3 * result["fd_digits_noise"]
    assert result["label_coverage"] == 1.0
    assert (tmp_path / "samples.npy").exists() and (tmp_path / "samples.png").exists()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("num_components", (0,), "must list positive integers"),
        ("val_fraction", 1.0, "val_fraction must lie in"),
        ("dataset", "toy2d/two_moons", "must hold images on levels"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, field, value, message):
    c = configs.get_config("cpu")
    with c.ignore_type():
        c[field] = value
    with pytest.raises(ValueError, match=message):
        experiment.train_and_evaluate(c, str(tmp_path))
