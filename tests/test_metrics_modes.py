"""The PacGAN protocol: the ring and grid mixtures and mode coverage on hand-made samples."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.data import PACGAN_MIXTURES, pacgan_mixture, sample_gaussian_mixture
from gendiff.metrics import assign_modes, mode_coverage


def test_ring_and_grid_match_the_protocol():
    means, stds, weights = map(np.asarray, pacgan_mixture("ring"))
    assert means.shape == (8, 2) and np.all(stds == np.float32(0.01))
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 1.0, rtol=1e-6)
    angles = np.sort(np.mod(np.arctan2(means[:, 1], means[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(angles, 2 * np.pi * np.arange(8) / 8, atol=1e-6)
    np.testing.assert_allclose(weights, 1 / 8)

    means, stds, weights = map(np.asarray, pacgan_mixture("grid"))
    assert means.shape == (25, 2) and np.all(stds == np.float32(0.05))
    expected = {(float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert {tuple(m) for m in means.tolist()} == expected
    np.testing.assert_allclose(weights, 1 / 25)
    with pytest.raises(ValueError, match="unknown PacGAN mixture 'rings'"):
        pacgan_mixture("rings")
    assert PACGAN_MIXTURES == ("ring", "grid")


@pytest.mark.parametrize("name", PACGAN_MIXTURES)
def test_true_samples_score_as_the_protocol_predicts(name):
    means, stds, weights = pacgan_mixture(name)
    x = sample_gaussian_mixture(jax.random.key(0), means, stds, weights, 2500)
    m = mode_coverage(x, means, stds)
    # Within 3 stds in 2-D: P(chi^2_2 <= 9) = 1 - exp(-9 / 2) = 0.98889 (binomial sd 0.002).
    assert abs(float(m["high_quality"]) - (1 - math.exp(-4.5))) < 0.01
    assert int(m["modes_captured"]) == len(means)
    # Multinomial noise only: E KL ~ (K - 1) / (2 n) = 0.0014 (ring), 0.0048 (grid).
    assert float(m["reverse_kl"]) < 3 * (len(means) - 1) / (2 * 2500)
    assert int(jnp.sum(m["counts"])) == round(float(m["high_quality"]) * 2500)


def test_hand_made_samples():
    means, stds, _ = pacgan_mixture("ring")
    means = np.asarray(means)
    # 3 samples exactly on mode 0, 1 on mode 2, 1 at 2.9 stds off mode 5 (high quality),
    # 1 at 3.1 stds off mode 5 (not), 2 at (0.3, 0) (assigned to mode 0, 0.7 from it).
    off = np.array([0.029, 0.0]) @ np.array([[0.0, 1.0], [-1.0, 0.0]])  # tangential, 2.9 std
    x = np.stack(
        [means[0]] * 3
        + [means[2], means[5] + off, means[5] + off * 3.1 / 2.9]
        + [np.array([0.3, 0.0])] * 2
    ).astype(np.float32)
    index, dist = assign_modes(x, means)
    assert index.tolist() == [0, 0, 0, 2, 5, 5, 0, 0]
    np.testing.assert_allclose(dist[:4], 0.0, atol=1e-6)
    np.testing.assert_allclose(dist[6:], 0.7, rtol=1e-6)
    m = mode_coverage(x, means, stds)
    assert m["counts"].tolist() == [3, 0, 1, 0, 0, 1, 0, 0]
    assert int(m["modes_captured"]) == 3
    assert float(m["high_quality"]) == 5 / 8
    # Q = (3, 1, 1) / 5 on three modes, P uniform on 8: sum q log(8 q)
    q = np.array([0.6, 0.2, 0.2])
    np.testing.assert_allclose(m["reverse_kl"], np.sum(q * np.log(8 * q)), rtol=1e-6)
    # a mode needs min_count high-quality samples to count
    assert int(mode_coverage(x, means, stds, min_count=2)["modes_captured"]) == 1


def test_collapse_and_uniform_extremes():
    means, stds, _ = pacgan_mixture("grid")
    one_mode = jnp.tile(means[7], (100, 1))
    m = mode_coverage(one_mode, means, stds)
    assert int(m["modes_captured"]) == 1 and float(m["high_quality"]) == 1.0
    np.testing.assert_allclose(m["reverse_kl"], math.log(25), rtol=1e-6)  # all mass on one of 25
    every_mode = jnp.repeat(means, 4, axis=0)
    m = mode_coverage(every_mode, means, stds)
    assert int(m["modes_captured"]) == 25 and float(m["reverse_kl"]) == pytest.approx(0, abs=1e-6)
    # no sample is high quality: nothing captured, KL undefined -> inf
    m = mode_coverage(means[:3] + 1.0, means, stds)
    assert int(m["modes_captured"]) == 0 and float(m["high_quality"]) == 0.0
    assert math.isinf(float(m["reverse_kl"]))


def test_non_uniform_weights_and_jit():
    means = jnp.array([[0.0, 0.0], [10.0, 0.0]])
    x = jnp.array([[0.0, 0.0], [10.0, 0.0], [10.0, 0.0], [10.0, 0.0]])
    weights = jnp.array([0.25, 0.75])
    m = jax.jit(lambda x: mode_coverage(x, means, 1.0, weights))(x)
    np.testing.assert_allclose(m["reverse_kl"], 0.0, atol=1e-6)  # Q = P exactly
    m = mode_coverage(x, means, 1.0)  # against uniform: KL((1/4, 3/4) || (1/2, 1/2))
    expected = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    np.testing.assert_allclose(m["reverse_kl"], expected, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"samples": np.zeros(4)}, r"samples must have shape \(num_samples, dim\)"),
        ({"samples": np.zeros((4, 3))}, "same dimension"),
        ({"samples": np.full((4, 2), np.nan)}, "samples contains NaN"),
        ({"stds": np.ones(3)}, r"stds must have shape a scalar or \(2,\)"),
        ({"stds": 0.0}, "stds must be > 0"),
        ({"weights": np.array([0.5, 0.6])}, "weights must be >= 0 and sum to 1"),
        ({"num_std": 0.0}, "num_std must be > 0"),
        ({"min_count": 0}, "min_count must be a positive integer"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, message):
    args = {"samples": np.zeros((4, 2)), "means": np.eye(2), "stds": 0.1, **kwargs}
    with pytest.raises(ValueError, match=message):
        mode_coverage(**args)


def test_label_coverage_closed_forms_and_errors():
    from gendiff.metrics import label_coverage

    # Counts (3, 1, 0, 0): coverage 2/4, entropy -(3/4 log 3/4 + 1/4 log 1/4) = 0.562335.
    m = label_coverage(np.array([0, 0, 1, 0]), num_classes=4)
    assert float(m["label_coverage"]) == 0.5 and m["counts"].tolist() == [3, 1, 0, 0]
    np.testing.assert_allclose(float(m["label_entropy"]), 0.5623351446, rtol=1e-6)
    even = jax.jit(label_coverage, static_argnums=1)(jnp.arange(100) % 10, 10)
    np.testing.assert_allclose(float(even["label_entropy"]), np.log(10), rtol=1e-6)
    assert float(even["label_coverage"]) == 1.0
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        label_coverage(np.array([0, 4]), 4)
    with pytest.raises(ValueError, match="integer array"):
        label_coverage(np.array([0.5]), 4)
