"""Tests for what the self-supervised experiments build on: state set by assignment inside
``fit`` (gendiff.train.assign), the closed-form normalisers of the NCE models, the separable
MI critic, and the linear probe run from a frozen encoder."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gendiff import nets, ssl
from gendiff.data import GeneratedBatches
from gendiff.eval.probe import encode_features, linear_probe, probe_encoder
from gendiff.train import (
    assign_by_gradient,
    assignment_tx,
    create_train_state,
    fit,
    make_train_step,
)


def test_assignment_sets_the_state_inside_fit_while_the_rest_trains(tmp_path):
    """A running mean of the batch kept as a parameter: after each step it equals the mean of
    the batches so far, exactly as computed outside; the trained leaf moves by Adam."""
    batches = GeneratedBatches(lambda s: {"x": np.full((4,), float(s + 1), np.float32)}, 4)

    def loss_fn(params, batch, key):
        del key
        n = params["state"]["count"] + 1.0
        mean = params["state"]["mean"] + (jnp.mean(batch["x"]) - params["state"]["mean"]) / n
        new = {"count": n, "mean": mean}
        loss = jnp.sum((params["w"] - 1.0) ** 2) + assign_by_gradient(params["state"], new)
        return loss, {}

    params = {"w": jnp.zeros(2), "state": {"count": jnp.zeros(()), "mean": jnp.zeros(())}}
    labels = {"w": "train", "state": {"count": "assign", "mean": "assign"}}
    tx = assignment_tx(optax.adam(0.1), labels)
    state, _ = fit(
        create_train_state(params, tx),
        make_train_step(loss_fn, tx, 0.0),
        batches,
        jax.random.key(0),
        num_steps=5,
        workdir=tmp_path,
        progress=False,
    )
    assert float(state.params["state"]["count"]) == 5.0
    np.testing.assert_allclose(state.params["state"]["mean"], np.mean([1, 2, 3, 4, 5]), rtol=1e-6)
    assert np.all(np.asarray(state.params["w"]) > 0.3)  # five Adam steps of 0.1 towards 1
    with pytest.raises(ValueError, match="one tree structure"):
        assign_by_gradient({"a": jnp.zeros(2)}, {"a": jnp.zeros(3)})


def _grid_log_integral(log_phi, lo, hi, num=801):
    g = np.linspace(lo, hi, num)
    xx, yy = np.meshgrid(g, g, indexing="ij")
    pts = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], axis=1), jnp.float32)
    vals = np.exp(np.asarray(log_phi(pts), np.float64))
    cell = (g[1] - g[0]) ** 2
    return math.log(vals.sum() * cell)


def test_nce_model_normalisers_match_quadrature():
    gauss = {"mean": jnp.array([0.5, -1.0]), "log_scale": jnp.log(jnp.array([0.7, 1.3]))}
    quad = _grid_log_integral(lambda x: ssl.gaussian_log_phi(gauss, x), -9.0, 9.0)
    np.testing.assert_allclose(float(ssl.gaussian_log_normalizer(gauss)), quad, atol=1e-4)
    mix = {
        "means": jnp.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]]),
        "log_scales": jnp.log(jnp.array([0.6, 0.8, 0.5])),
        "logits": jnp.array([0.3, -0.2, 1.0]),
    }
    quad = _grid_log_integral(lambda x: ssl.mixture_log_phi(mix, x), -8.0, 8.0)
    np.testing.assert_allclose(float(ssl.mixture_log_normalizer(mix)), quad, atol=1e-4)
    # Samples of phi / Z: the mean of many draws is the mean of phi / Z by quadrature.
    x = ssl.mixture_sample(jax.random.key(0), mix, 40_000)
    w = jax.nn.softmax(mix["logits"] + 2 * mix["log_scales"])  # the weights of phi / Z in 2-D
    np.testing.assert_allclose(jnp.mean(x, axis=0), w @ mix["means"], atol=0.03)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 2\)"):
        ssl.mixture_log_phi(mix, jnp.zeros((3, 3)))


def test_separable_critic_is_a_product_of_embeddings():
    x = jax.random.normal(jax.random.key(0), (6, 3))
    y = jax.random.normal(jax.random.key(1), (6, 3))
    for marginal in (False, True):
        critic = nets.SeparableCritic(hidden=8, depth=1, embed_dim=4, marginal_terms=marginal)
        params = critic.init(jax.random.key(2), x, y)
        s = critic.apply(params, x, y)
        assert s.shape == (6, 6)
        # Row i of the scores depends on x_i only: swapping two x swaps two rows.
        s_swapped = critic.apply(params, x[jnp.array([1, 0, 2, 3, 4, 5])], y)
        np.testing.assert_allclose(s_swapped[0], s[1], rtol=1e-6)
        # Separable: G H^T has rank <= embed_dim = 4, and a(x) + b(y) adds at most 2.
        assert np.linalg.matrix_rank(np.asarray(s), tol=1e-4) <= 4 + 2 * marginal


def test_probe_encoder_is_the_probe_on_the_encoders_features():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    images = rng.normal(size=(300, 4, 4, 1)).astype(np.float32) + y[:, None, None, None]
    w = rng.normal(size=(16, 5)).astype(np.float32)
    encode = lambda im: jnp.tanh(im.reshape(im.shape[0], -1) @ w)
    res, f_train, f_test = probe_encoder(
        encode, images[:200], y[:200], images[200:], y[200:], batch_size=64
    )
    direct = linear_probe(
        np.tanh(images[:200].reshape(200, -1) @ w),
        y[:200],
        np.tanh(images[200:].reshape(100, -1) @ w),
        y[200:],
    )
    assert res.test_accuracy == direct.test_accuracy and res.l2 == direct.l2
    np.testing.assert_allclose(f_train, np.tanh(images[:200].reshape(200, -1) @ w), atol=1e-5)
    assert f_test.shape == (100, 5)
    # The padded last batch is dropped: 7 rows in batches of 3.
    assert encode_features(
        lambda im: im[:, :1], np.arange(7.0)[:, None], batch_size=3
    ).ravel().tolist() == list(range(7))
