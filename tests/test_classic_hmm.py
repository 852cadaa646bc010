"""HMMs: forward-backward and Viterbi against brute-force enumeration of all paths, Baum-Welch
(monotone, parameter recovery on synthetic sequences, GMM emissions with M = 1 and with two equal
components agree), Viterbi accuracy, bad input."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from gendiff import classic


def _random_hmm(K=3, T=5, seed=0):
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(K))
    A = rng.dirichlet(np.ones(K), size=K)
    log_e = rng.normal(size=(T, K))
    return np.log(pi), np.log(A), log_e


def _brute_force(log_pi, log_A, log_e):
    T, K = log_e.shape
    paths = np.array(list(itertools.product(range(K), repeat=T)))
    lp = log_pi[paths[:, 0]] + log_e[0, paths[:, 0]]
    for t in range(1, T):
        lp = lp + log_A[paths[:, t - 1], paths[:, t]] + log_e[t, paths[:, t]]
    return paths, lp


def test_forward_backward_and_viterbi_equal_brute_force():
    with jax.enable_x64(True):
        for seed in range(3):
            log_pi, log_A, log_e = _random_hmm(seed=seed)
            paths, lp = _brute_force(log_pi, log_A, log_e)
            log_lik = logsumexp(lp)
            post_w = np.exp(lp - log_lik)
            gamma = np.stack([np.bincount(paths[:, t], post_w, 3) for t in range(5)])
            xi = np.zeros((3, 3))
            for t in range(4):
                np.add.at(xi, (paths[:, t], paths[:, t + 1]), post_w)
            post = jax.jit(classic.hmm_forward_backward)(log_pi, log_A, log_e)
            np.testing.assert_allclose(post.log_likelihood, log_lik, rtol=1e-12)
            np.testing.assert_allclose(post.posteriors, gamma, atol=1e-12)
            np.testing.assert_allclose(post.transition_counts, xi, atol=1e-12)
            states, best = jax.jit(classic.hmm_viterbi)(log_pi, log_A, log_e)
            np.testing.assert_array_equal(states, paths[np.argmax(lp)])
            np.testing.assert_allclose(best, lp.max(), rtol=1e-12)


def test_forward_backward_does_not_underflow_on_long_sequences():
    log_pi, log_A, _ = _random_hmm()
    log_e = np.random.default_rng(1).normal(size=(5000, 3)) - 50.0
    fb = jax.jit(classic.hmm_forward_backward)
    post = fb(jnp.asarray(log_pi, jnp.float32), jnp.asarray(log_A, jnp.float32),
              jnp.asarray(log_e, jnp.float32))
    with jax.enable_x64(True):
        ref = fb(log_pi, log_A, log_e)
        np.testing.assert_allclose(post.log_likelihood, ref.log_likelihood, rtol=1e-6)
        np.testing.assert_allclose(post.posteriors, ref.posteriors, atol=1e-4)
        np.testing.assert_allclose(post.transition_counts, ref.transition_counts, rtol=1e-4)
    # One step: no transitions.
    one = fb(log_pi, log_A, log_e[:1])
    assert one.transition_counts.shape == (3, 3) and float(one.transition_counts.sum()) == 0.0


def _sample_hmm(key, params, B, T):
    """Ancestral sampling of B sequences (Gaussian emissions, M = 1)."""
    k0, k1, k2 = jax.random.split(key, 3)
    z0 = jax.random.categorical(k0, jnp.log(params.initial), shape=(B,))

    def step(z, k):
        z = jax.random.categorical(k, jnp.log(params.transition)[z])
        return z, z

    _, rest = jax.lax.scan(step, z0, jax.random.split(k1, T - 1))
    z = jnp.concatenate([z0[None], rest]).T  # (B, T)
    C = jnp.linalg.cholesky(params.covariances[:, 0])
    eps = jax.random.normal(k2, z.shape + (params.means.shape[-1],))
    x = params.means[z, 0] + jnp.einsum("btde,bte->btd", C[z], eps)
    return x, z


TRUE = classic.HMMParams(
    jnp.array([0.6, 0.3, 0.1]),
    jnp.array([[0.90, 0.05, 0.05], [0.10, 0.85, 0.05], [0.05, 0.15, 0.80]]),
    jnp.ones((3, 1)),
    jnp.array([[[0.0, 0.0]], [[3.0, 0.0]], [[0.0, 3.0]]]),
    jnp.array([[[[1.0, 0.3], [0.3, 0.5]]], [[[0.6, 0.0], [0.0, 0.6]]], [[[0.4, -0.1], [-0.1, 0.8]]]]),
)


def test_baum_welch_recovers_parameters_and_viterbi_decodes():
    with jax.enable_x64(True):
        x, z = _sample_hmm(jax.random.key(0), TRUE, 20, 100)
        res = classic.baum_welch(jax.random.key(1), x, 3, num_iters=100, tol=1e-8)
        trace = np.asarray(res.log_likelihoods)
        assert np.all(np.diff(trace) > -1e-9)  # EM never lowers the likelihood
        # Match states by their means.
        est = np.asarray(res.params.means[:, 0])
        perm = [int(np.argmin(((est - m) ** 2).sum(1))) for m in np.asarray(TRUE.means[:, 0])]
        assert sorted(perm) == [0, 1, 2]
        A = np.asarray(res.params.transition)[np.ix_(perm, perm)]
        err_A = np.abs(A - np.asarray(TRUE.transition)).max()
        err_mu = np.abs(est[perm] - np.asarray(TRUE.means[:, 0])).max()
        err_cov = np.abs(np.asarray(res.params.covariances[perm, 0]) - np.asarray(TRUE.covariances[:, 0])).max()
        # Viterbi with the fitted model.
        log_e = jax.vmap(lambda s: classic.hmm_emission_log_prob(s, res.params))(x)
        states, _ = jax.vmap(classic.hmm_viterbi, in_axes=(None, None, 0))(
            jnp.log(res.params.initial), jnp.log(res.params.transition), log_e)
        acc = np.mean(np.asarray(perm)[np.asarray(z)] == np.asarray(states))
        print(f"Baum-Welch: |A err| {err_A:.3f}, |mu err| {err_mu:.3f}, |Sigma err| {err_cov:.3f}, "
              f"Viterbi accuracy {acc:.3f}, {int(res.num_iters)} iterations")
        assert err_A < 0.05 and err_mu < 0.1 and err_cov < 0.15
        assert acc > 0.97
        # The fitted model explains the data at least as well as the true one.
        assert float(res.log_likelihood) >= float(jnp.mean(classic.hmm_log_prob(x, TRUE))) - 1e-6


def test_gmm_emissions_with_two_equal_components_follow_the_gaussian_hmm():
    with jax.enable_x64(True):
        x, _ = _sample_hmm(jax.random.key(2), TRUE, 4, 60)
        init1 = classic.HMMParams(
            jnp.full(3, 1 / 3), jnp.full((3, 3), 1 / 3) * 0.5 + 0.5 * jnp.eye(3), jnp.ones((3, 1)),
            TRUE.means + 0.5, jnp.broadcast_to(jnp.eye(2), (3, 1, 2, 2)),
        )
        init2 = init1._replace(
            weights=jnp.full((3, 2), 0.5), means=jnp.repeat(init1.means, 2, 1),
            covariances=jnp.repeat(init1.covariances, 2, 1),
        )
        a = classic.baum_welch(None, x, 3, init=init1, num_iters=15, tol=0.0)
        b = classic.baum_welch(None, x, 3, num_mixture_components=2, init=init2, num_iters=15, tol=0.0)
        np.testing.assert_allclose(a.log_likelihoods, b.log_likelihoods, rtol=1e-10)
        np.testing.assert_allclose(b.params.means[:, 0], a.params.means[:, 0], atol=1e-8)
        np.testing.assert_allclose(b.params.means[:, 1], a.params.means[:, 0], atol=1e-8)
        np.testing.assert_allclose(b.params.transition, a.params.transition, atol=1e-10)
        assert np.all(np.diff(np.asarray(b.log_likelihoods)) > -1e-9)


def test_baum_welch_restarts_by_vmap_and_bad_input():
    x, _ = _sample_hmm(jax.random.key(4), TRUE, 2, 40)
    keys = jax.random.split(jax.random.key(5), 2)
    res = jax.vmap(lambda k: classic.baum_welch(k, x, 3, num_iters=5))(keys)
    assert res.params.means.shape == (2, 3, 1, 2) and res.params.means.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(res.log_likelihoods)))
    with pytest.raises(ValueError, match="NaN"):
        classic.baum_welch(keys[0], x.at[0, 3, 1].set(jnp.nan), 3)
    with pytest.raises(ValueError, match="larger than the number of samples"):
        classic.baum_welch(keys[0], x[:1, :2], 3)
    with pytest.raises(ValueError, match="reg_covar must be > 0"):
        classic.baum_welch(keys[0], x, 3, reg_covar=-1.0)
    with pytest.raises(ValueError, match="init.means must have shape"):
        classic.baum_welch(keys[0], x, 3, init=TRUE._replace(means=TRUE.means[:2]))


def test_hmm_sample_has_the_model_statistics():
    # Transition frequencies and per-state emission means of a long sample.
    params = TRUE._replace(
        weights=jnp.array([[0.5, 0.5], [1.0, 0.0], [0.2, 0.8]]),
        means=jnp.stack([TRUE.means[:, 0], TRUE.means[:, 0] + 2.0], 1),
        covariances=jnp.repeat(TRUE.covariances, 2, 1),
    )
    x, z = classic.hmm_sample(jax.random.key(0), params, 50, 400)
    assert x.shape == (50, 400, 2) and z.shape == (50, 400)
    z = np.asarray(z)
    counts = np.zeros((3, 3))
    np.add.at(counts, (z[:, :-1].ravel(), z[:, 1:].ravel()), 1)
    np.testing.assert_allclose(counts / counts.sum(1, keepdims=True), TRUE.transition, atol=0.02)
    expected = np.einsum("km,kmd->kd", np.asarray(params.weights), np.asarray(params.means))
    for k in range(3):
        np.testing.assert_allclose(np.asarray(x)[z == k].mean(0), expected[k], atol=0.1)
    with pytest.raises(ValueError, match="length must be a positive integer"):
        classic.hmm_sample(jax.random.key(0), params, 2, 0)
