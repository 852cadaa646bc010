"""RBMs: free energies, conditionals and log Z against brute-force enumeration of every (x, h),
Gaussian-binary log Z against quadrature, Gibbs sampling against the exact marginal, the CD
gradient, AIS and reverse AIS against the exact log Z, training through fit, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy.special import logsumexp

from gendiff import classic
from gendiff.data import ArrayBatches
from gendiff.train import (
    create_players_state,
    create_train_state,
    fit,
    make_players_step,
    make_train_step,
    persistent_chain_players,
)


def _rbm(M=5, N=4, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return classic.RBMParams(
        jnp.asarray(scale * rng.normal(size=(M, N)), jnp.float32),
        jnp.asarray(rng.normal(size=M), jnp.float32),
        jnp.asarray(rng.normal(size=N), jnp.float32),
    )


def _joint_table(params):
    """-E(x, h) for every binary x (rows) and h (columns), float64."""
    M, N = params.W.shape
    xs, hs = np.asarray(classic.all_states(M)), np.asarray(classic.all_states(N))
    X = np.repeat(xs, len(hs), axis=0)
    H = np.tile(hs, (len(xs), 1))
    neg_e = -np.asarray(classic.rbm_energy(params, X, H), np.float64)
    return xs, hs, neg_e.reshape(len(xs), len(hs))


def test_energy_gradients_are_the_notes_expressions():
    # CATALOG (c) 13 (F2:876-884): dE/dw_ij = -x_i h_j, dE/da_i = -x_i, dE/db_j = -h_j.
    params = _rbm()
    x, h = jnp.array([1.0, 0, 1, 1, 0]), jnp.array([0.0, 1, 1, 0])
    g = jax.grad(lambda p: classic.rbm_energy(p, x, h))(params)
    np.testing.assert_allclose(g.W, -np.outer(x, h))
    np.testing.assert_allclose(g.a, -x)
    np.testing.assert_allclose(g.b, -h)
    # and 2^M 2^N configurations (F2:766)
    assert _joint_table(params)[2].size == 2**5 * 2**4


def test_exp_minus_energy_is_the_density_and_minus_energy_is_not():
    # CATALOG 13 (F2:860): the notes set f = -E; the density is exp(-E) / Z.
    params = _rbm()
    _, _, neg_e = _joint_table(params)
    assert neg_e.min() < 0  # f = -E takes negative values: it is no unnormalised density
    p = np.exp(neg_e - logsumexp(neg_e))
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-12)
    # exp(-E)/Z has the model's conditionals: p(h_j = 1 | x) from the table equals sigmoid(...)
    hs = np.asarray(classic.all_states(4))
    p_h_given_x = p / p.sum(axis=1, keepdims=True)
    expected = np.asarray(classic.rbm_hidden_probs(params, classic.all_states(5)))
    np.testing.assert_allclose(p_h_given_x @ hs, expected, rtol=1e-5)


def test_free_energy_is_minus_log_sum_over_hidden_states():
    params = _rbm()
    xs, _, neg_e = _joint_table(params)
    np.testing.assert_allclose(
        classic.rbm_free_energy(params, xs), -logsumexp(neg_e, axis=1), rtol=1e-5
    )


def test_gaussian_free_energy_is_minus_log_sum_over_hidden_states():
    params, sigma = _rbm(M=3, N=4, scale=0.5), jnp.array([0.5, 1.0, 2.0])
    x = jax.random.normal(jax.random.key(0), (7, 3))
    hs = classic.all_states(4)
    neg_e = -classic.rbm_energy(
        params, x[:, None, :], hs[None, :, :], visible="gaussian", sigma=sigma
    )
    np.testing.assert_allclose(
        classic.rbm_free_energy(params, x, visible="gaussian", sigma=sigma),
        -logsumexp(np.asarray(neg_e, np.float64), axis=1),
        rtol=1e-5,
    )


def test_visible_conditional_against_enumeration():
    params = _rbm()
    xs, hs, neg_e = _joint_table(params)
    p = np.exp(neg_e - logsumexp(neg_e))
    p_x_given_h = p / p.sum(axis=0, keepdims=True)  # columns: h
    np.testing.assert_allclose(
        (xs.T @ p_x_given_h).T, classic.rbm_visible_mean(params, hs), rtol=1e-5
    )


def test_exact_log_partition_sums_either_layer_and_equals_brute_force():
    for M, N in [(5, 4), (4, 6)]:  # sums over hidden, then over visible states
        params = _rbm(M, N)
        _, _, neg_e = _joint_table(params)
        np.testing.assert_allclose(classic.rbm_log_partition(params), logsumexp(neg_e), rtol=1e-6)


def test_exact_log_partition_in_chunks_equals_the_sum_over_the_other_layer():
    # 16 visible, 14 hidden: log Z sums 4 chunks of 2^12 hidden states; brute force sums
    # exp(-F(x)) over all 2^16 visible states at once.
    params = _rbm(M=16, N=14, scale=0.3, seed=1)
    brute = logsumexp(
        -np.asarray(classic.rbm_free_energy(params, classic.all_states(16)), np.float64)
    )
    np.testing.assert_allclose(classic.rbm_log_partition(params), brute, rtol=1e-6)
    # the transposed RBM has the same Z and is summed over its (now smaller) visible layer
    transposed = classic.RBMParams(params.W.T, params.b, params.a)
    np.testing.assert_allclose(classic.rbm_log_partition(transposed), brute, rtol=1e-6)


def test_gaussian_log_partition_against_quadrature():
    params, sigma = _rbm(M=2, N=3, scale=0.7, seed=2), jnp.array([0.8, 1.3])
    g = np.linspace(-12, 12, 801)
    X = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    f = -np.asarray(classic.rbm_free_energy(params, X, visible="gaussian", sigma=sigma), np.float64)
    quad = logsumexp(f) + 2 * np.log(g[1] - g[0])
    np.testing.assert_allclose(
        classic.rbm_log_partition(params, visible="gaussian", sigma=sigma), quad, atol=1e-4
    )


def test_gradient_of_log_partition_is_the_negative_phase():
    # d log Z / dW = E_p[x h^T] (F2:820-850), computed from the enumerated joint.
    params = _rbm()
    xs, hs, neg_e = _joint_table(params)
    p = np.exp(neg_e - logsumexp(neg_e))
    g = jax.grad(classic.rbm_log_partition)(params)
    np.testing.assert_allclose(g.W, xs.T @ p @ hs, atol=1e-5)
    np.testing.assert_allclose(g.a, p.sum(1) @ xs, atol=1e-5)


def test_block_gibbs_reaches_the_exact_marginal():
    params = _rbm(M=4, N=3, scale=0.8)
    xs = classic.all_states(4)
    log_p = -classic.rbm_free_energy(params, xs) - classic.rbm_log_partition(params)
    x, h_probs = jax.jit(classic.rbm_gibbs, static_argnums=3)(
        jax.random.key(0), params, jnp.zeros((20_000, 4)), 30
    )
    index = np.asarray(x @ (2 ** jnp.arange(4.0))).astype(int)
    freq = np.bincount(index, minlength=16) / len(index)
    # 16 cells, 20k samples: TV noise ~ 0.01. Measured 0.006.
    assert 0.5 * np.abs(freq - np.exp(log_p)).sum() < 0.025
    assert h_probs.shape == (20_000, 3)


def test_gaussian_gibbs_matches_the_visible_moments():
    # 1 visible unit, sigma = 0.8: p(x) ∝ exp(-F(x)) on a grid gives the mean and variance.
    params, sigma = _rbm(M=1, N=2, scale=0.5, seed=3), 0.8  # modes that mix
    x, _ = classic.rbm_gibbs(
        jax.random.key(1), params, jnp.zeros((20_000, 1)), 40, visible="gaussian", sigma=sigma
    )
    g = np.linspace(-10, 10, 4001)[:, None]
    w = np.exp(
        -np.asarray(classic.rbm_free_energy(params, g, visible="gaussian", sigma=sigma), np.float64)
    )
    w /= w.sum()
    mean = float((w * g[:, 0]).sum())
    var = float((w * (g[:, 0] - mean) ** 2).sum())
    assert abs(float(x.mean()) - mean) < 0.03
    assert abs(float(x.var()) - var) < 0.05 * var


def test_contrastive_loss_gradient_is_data_minus_model_statistics():
    params = _rbm()
    x = jax.random.bernoulli(jax.random.key(0), 0.5, (8, 5)).astype(jnp.float32)
    x_neg = jax.random.bernoulli(jax.random.key(1), 0.5, (8, 5)).astype(jnp.float32)
    g = jax.grad(lambda p: classic.rbm_contrastive_loss(p, x, x_neg)[0])(params)
    ph, pn = classic.rbm_hidden_probs(params, x), classic.rbm_hidden_probs(params, x_neg)
    np.testing.assert_allclose(g.W, -(x.T @ ph - x_neg.T @ pn) / 8, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g.b, -(ph.mean(0) - pn.mean(0)), rtol=1e-5, atol=1e-6)


def test_ais_and_reverse_ais_sandwich_the_exact_log_z_of_a_16_hidden_rbm():
    # 64 visible (the digits' size), 16 hidden, weights of scale 0.3: log Z ~ 70.
    params = _rbm(M=64, N=16, scale=0.3, seed=4)
    exact = float(classic.rbm_log_partition(params))
    betas = classic.ais_betas(1000)
    key = jax.random.key(0)
    forward = classic.rbm_ais(key, params, num_chains=64, betas=betas)
    x_model = classic.rbm_sample_exact(jax.random.key(1), params, 64)
    reverse = classic.rbm_reverse_ais(jax.random.key(2), params, x_model, betas=betas)
    # Measured: exact 70.120, forward 70.070, reverse 70.116 (3-sigma half-widths 0.16).
    assert abs(float(forward.log_z) - exact) < 0.1
    assert abs(float(reverse.log_z) - exact) < 0.1
    assert float(forward.log_z) - 0.02 < exact < float(reverse.log_z) + 0.02


def test_exact_samples_have_the_exact_marginal():
    params = _rbm(M=4, N=3, scale=0.8)
    xs = classic.all_states(4)
    p = np.exp(-classic.rbm_free_energy(params, xs) - classic.rbm_log_partition(params))
    x = classic.rbm_sample_exact(jax.random.key(0), params, 20_000)
    freq = np.bincount(np.asarray(x @ (2 ** jnp.arange(4.0))).astype(int), minlength=16) / 20_000
    assert 0.5 * np.abs(freq - p).sum() < 0.025


def _binary_digits():
    from gendiff import data

    images = data.load("digits", "train").images
    return (images.reshape(len(images), -1) > 0).astype(np.float32)


def test_cd1_and_pcd_through_fit_beat_the_base_rate_model(tmp_path):
    x = _binary_digits()  # (1438, 64)
    params = classic.rbm_init(jax.random.key(0), 64, 8, visible_bias=classic.base_rate_bias(x))
    # The independent model (W = 0) of the base rates: log Z is exact for it.
    base_ll = float(classic.rbm_log_likelihood(params, x, classic.rbm_log_partition(params)))
    batches = ArrayBatches({"x": x}, batch_size=64, seed=0)
    tx = optax.adam(0.01)
    kw = dict(num_steps=300, log_every=100, progress=False)
    cd_state, _ = fit(
        create_train_state(params, tx),
        make_train_step(classic.cd_loss(1), tx, ema_decay=0.0),
        batches,
        jax.random.key(1),
        workdir=str(tmp_path / "cd"),
        **kw,
    )
    players = persistent_chain_players(classic.pcd_transition(1), classic.pcd_loss(), tx)
    state = create_players_state(
        {"chains": jnp.asarray(x[:64]), "model": params}, {p.name: p.tx for p in players}
    )
    pcd_state, last = fit(
        state,
        make_players_step(players, ema_decay=0.0),
        batches,
        jax.random.key(1),
        workdir=str(tmp_path / "pcd"),
        **kw,
    )
    chains = pcd_state.params["chains"]
    assert set(np.unique(np.asarray(chains))) <= {0.0, 1.0}  # written in place, still binary
    assert not np.array_equal(chains, x[:64])
    ll = {
        name: float(classic.rbm_log_likelihood(p, x, classic.rbm_log_partition(p)))
        for name, p in (("cd", cd_state.params), ("pcd", pcd_state.params["model"]))
    }
    # Measured (8 hidden, 300 steps): base rates -24.37 nats; CD-1 -21.01; PCD-1 -21.27.
    assert ll["cd"] > base_ll + 2.5
    assert ll["pcd"] > base_ll + 2.5
    assert "model/loss" in last and "chains/loss" in last


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda p: classic.rbm_free_energy(p, jnp.ones((2, 3))),
            r"x must have shape \(\.\.\., 5\)",
        ),
        (lambda p: classic.rbm_energy(p, jnp.ones(5), jnp.ones(3)), r"h must have shape"),
        (lambda p: classic.rbm_free_energy(p, jnp.ones(5), visible="poisson"), "Unknown visible"),
        (lambda p: classic.rbm_gibbs(jax.random.key(0), p, jnp.ones((1, 5)), 0), "num_steps"),
        (lambda p: classic.rbm_log_partition(_rbm(30, 25)), "rbm_ais"),
        (lambda p: classic.rbm_log_partition(_rbm(3, 25), visible="gaussian"), "num_hidden <= 20"),
        (
            lambda p: classic.rbm_ais(jax.random.key(0), p, betas=jnp.array([0.0, 0.7, 0.5, 1.0])),
            "increase",
        ),
        (lambda p: classic.rbm_ais(jax.random.key(0), p, base_bias=jnp.zeros(3)), "base_bias"),
        (lambda p: classic.cd_loss(0), "positive integer"),
        (lambda p: classic.rbm_free_energy(p._replace(a=jnp.zeros(4)), jnp.ones(5)), "RBMParams"),
        (
            lambda p: classic.rbm_free_energy(
                p, jnp.ones(5), visible="gaussian", sigma=jnp.ones(3)
            ),
            "sigma",
        ),
        (lambda p: classic.rbm_init(jax.random.key(0), 0, 3), "num_visible"),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call(_rbm())
