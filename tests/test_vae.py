"""VAE math: Gaussian KL, decoder likelihoods, ELBO, IWAE and InfoVAE against closed forms.

The central check is probabilistic PCA written as a VAE, z ~ N(0, I), x | z ~ N(W z + b, s^2 I),
whose marginal log N(x; b, W W^T + s^2 I) and exact posterior are known in closed form.
"""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff import vae

# ---------------------------------------------------------------- probabilistic PCA as a VAE

D, M, S2 = 6, 3, 0.3
_rng = np.random.default_rng(0)
_Q, _ = np.linalg.qr(_rng.normal(size=(D, M)))
W = _Q * np.array([2.0, 1.2, 0.6])  # orthogonal columns: W^T W diagonal, so the posterior is too
B = _rng.normal(size=D)
LIK = vae.Gaussian(variance=S2)


def _ppca_data(n, seed=1):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, M))
    return z @ W.T + B + np.sqrt(S2) * rng.normal(size=(n, D))


def _exact_log_likelihood(x):
    """log N(x; b, W W^T + s^2 I) in float64."""
    cov = W @ W.T + S2 * np.eye(D)
    diff = x - B
    maha = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
    return -0.5 * (D * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1] + maha)


def _exact_posterior(x):
    """q*(z | x) = N(M^-1 W^T (x - b), s^2 M^-1) with M = W^T W + s^2 I (diagonal here)."""
    m_diag = np.sum(W**2, axis=0) + S2
    return (x - B) @ W / m_diag, np.broadcast_to(S2 / m_diag, (x.shape[0], M))


def _encoder(x_np, std_scale=1.0, mean_shift=0.0):
    """An encoder returning the exact posterior, optionally widened and shifted (in posterior stds)."""
    mu, var = _exact_posterior(x_np)
    mu = mu + mean_shift * np.sqrt(var)
    var = var * std_scale**2
    mu32, log_var32 = jnp.asarray(mu, jnp.float32), jnp.asarray(np.log(var), jnp.float32)
    return lambda x: (mu32, log_var32), mu, var


def _decode(z):
    return z @ jnp.asarray(W.T, jnp.float32) + jnp.asarray(B, jnp.float32)


def _gaussian_kl_np(mu_q, var_q, mu_p, var_p):
    return 0.5 * np.sum(np.log(var_p / var_q) + (var_q + (mu_q - mu_p) ** 2) / var_p - 1, axis=-1)


# ---------------------------------------------------------------- Gaussian KL


def test_kl_catalog_worked_example():
    # CATALOG (c) 5: k = 2, mu = (1, 0), sigma^2 = 2 -> 1/2 (k (sigma^2 - 1 - log sigma^2) + |mu|^2).
    mu = jnp.array([[1.0, 0.0]])
    log_var = jnp.log(jnp.array([[2.0, 2.0]]))
    isotropic = 0.5 * (2 * (2.0 - 1.0 - np.log(2.0)) + 1.0)
    assert isotropic == pytest.approx(0.806853, abs=1e-6)
    assert float(vae.kl_to_standard_normal(mu, log_var)[0]) == pytest.approx(0.806853, abs=1e-6)


def test_analytic_kl_matches_monte_carlo_within_its_error():
    key = jax.random.key(0)
    mu = jax.random.normal(jax.random.key(1), (4, 3))
    log_var = 0.8 * jax.random.normal(jax.random.key(2), (4, 3))
    analytic = np.asarray(vae.kl_to_standard_normal(mu, log_var))
    np.testing.assert_allclose(
        analytic, _gaussian_kl_np(np.asarray(mu), np.exp(np.asarray(log_var)), 0.0, 1.0), rtol=1e-5
    )
    num = 20000

    @jax.jit
    def run(key):
        one = lambda j: jnp.sum(
            vae.kl_sample_per_dim(
                vae.reparameterize(jax.random.fold_in(key, j), mu, log_var), mu, log_var
            ),
            axis=-1,
        )
        return jax.vmap(one)(jnp.arange(num)), vae.kl_monte_carlo(key, mu, log_var, num)

    draws, kl_mc = run(key)
    draws = np.asarray(draws, np.float64)
    mc, stderr = draws.mean(0), draws.std(0) / np.sqrt(num)
    assert np.all(np.abs(mc - analytic) < 4 * stderr), (mc, analytic, stderr)
    # kl_monte_carlo draws sample l with fold_in(key, l): the same numbers.
    np.testing.assert_allclose(kl_mc, mc, rtol=1e-4)


def test_active_units_counts_varying_means():
    mu = jnp.stack([jnp.array([0.0, 1.0, 0.05, 3.0]), jnp.array([0.0, -1.0, -0.05, 3.0])])
    assert int(vae.active_units(mu)) == 1  # variances 0, 1, 0.0025, 0
    assert int(vae.active_units(mu, threshold=1e-3)) == 2


# ---------------------------------------------------------------- decoder likelihoods


def test_gaussian_and_bernoulli_log_probs_match_numpy():
    rng = np.random.default_rng(3)
    x, mean, log_var = rng.normal(size=(3, 5, 4))
    want = -0.5 * (np.log(2 * np.pi) + log_var + (x - mean) ** 2 / np.exp(log_var))
    got = vae.Gaussian().log_prob(jnp.asarray(x), (jnp.asarray(mean), jnp.asarray(log_var)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    fixed = vae.Gaussian(variance=0.5).log_prob(jnp.asarray(x), jnp.asarray(mean))
    want_fixed = -0.5 * (np.log(2 * np.pi * 0.5) + (x - mean) ** 2 / 0.5)
    np.testing.assert_allclose(fixed, want_fixed, rtol=1e-5, atol=1e-5)

    bits = (rng.uniform(size=(5, 4)) < 0.5).astype(np.float64)
    logits = 3 * rng.normal(size=(5, 4))
    p = 1 / (1 + np.exp(-logits))
    want_b = bits * np.log(p) + (1 - bits) * np.log(1 - p)
    got_b = vae.Bernoulli().log_prob(jnp.asarray(bits), jnp.asarray(logits))
    np.testing.assert_allclose(got_b, want_b, rtol=1e-5, atol=1e-6)
    # Confident logits stay finite: log sigmoid(-60) = -60 (to float precision).
    far = vae.Bernoulli().log_prob(jnp.array([0.0, 1.0]), jnp.array([60.0, -60.0]))
    np.testing.assert_allclose(far, [-60.0, -60.0], rtol=1e-6)


@pytest.mark.parametrize("family", [vae.DiscretizedLogistic, vae.DiscretizedGaussian])
def test_discretized_likelihoods_normalise_over_the_grid(family):
    levels = 17
    grid = jnp.linspace(-1.0, 1.0, levels)
    lik = family(num_levels=levels)
    for mean, log_scale in [(0.1, -2.0), (-0.97, -4.0), (3.0, -3.0), (0.0, 1.0), (-8.0, -1.0)]:
        lp = lik.log_prob(grid, (jnp.full(levels, mean), jnp.full(levels, log_scale)))
        assert np.all(np.isfinite(lp))
        assert float(jax.nn.logsumexp(lp)) == pytest.approx(0.0, abs=2e-5), (mean, log_scale)


def test_discretized_logistic_matches_cdf_differences():
    levels, delta = 9, 1.0 / 8
    x = np.linspace(-1, 1, levels)
    mean, scale = 0.2, 0.3
    cdf = lambda v: 1 / (1 + np.exp(-(v - mean) / scale))
    want = np.log(
        np.where(
            x < -0.999,
            cdf(x + delta),
            np.where(x > 0.999, 1 - cdf(x - delta), cdf(x + delta) - cdf(x - delta)),
        )
    )
    got = vae.DiscretizedLogistic(levels).log_prob(
        jnp.asarray(x, jnp.float32), (jnp.full(levels, mean), jnp.full(levels, np.log(scale)))
    )
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- ELBO and IWAE on PPCA


def _recon_per_draw_np(x, z):
    """log N(x; W z + b, s^2 I) for draws z of shape (S, batch, M), in float64."""
    resid = x[None] - (np.asarray(z, np.float64) @ W.T + B)
    return -0.5 * (D * np.log(2 * np.pi * S2) + np.sum(resid**2, -1) / S2)


def test_exact_posterior_makes_elbo_and_every_iwae_bound_exact():
    x_np = _ppca_data(32)
    exact = _exact_log_likelihood(x_np)
    encode_fn, _, _ = _encoder(x_np)
    x = jnp.asarray(x_np, jnp.float32)

    @jax.jit
    def run(key):
        mc = vae.elbo(key, encode_fn, _decode, x, likelihood=LIK, analytic_kl=False)
        bounds = [
            vae.iwae_bound(key, encode_fn, _decode, x, k, likelihood=LIK)
            for k in (1, 10, 100, 1000)
        ]
        mu, log_var = encode_fn(x)
        analytic = vae.elbo_from_posterior(
            key, _decode, x, mu, log_var, likelihood=LIK, num_samples=4000
        )
        return mc, bounds, analytic

    mc, bounds, (terms, z) = run(jax.random.key(0))
    # With q = p(z | x) every importance weight equals p(x): no Monte Carlo error at all.
    np.testing.assert_allclose(mc.elbo, exact, atol=2e-5)
    for k, bound in zip((1, 10, 100, 1000), bounds):
        np.testing.assert_allclose(bound, exact, atol=2e-5, err_msg=f"k={k}")
    # Closed-form KL + Monte Carlo reconstruction: unbiased, equal within its error.
    recon = _recon_per_draw_np(x_np, z)
    np.testing.assert_allclose(terms.reconstruction, recon.mean(0), rtol=1e-5)
    stderr = recon.std(0) / np.sqrt(recon.shape[0])
    assert np.all(np.abs(np.asarray(terms.elbo) - exact) < 4 * stderr + 1e-5)
    np.testing.assert_allclose(terms.distortion, -terms.reconstruction)
    np.testing.assert_allclose(terms.rate, terms.kl)
    np.testing.assert_allclose(terms.elbo, terms.reconstruction - terms.kl, atol=1e-5)


def test_elbo_gap_is_kl_to_the_true_posterior():
    # ELBO = log p(x) - KL(q || p(z | x)); the expected reconstruction has a closed form too:
    # E_q log N(x; W z + b, s^2 I) = log N(x; W mu + b, s^2 I) - tr(W^T W diag var) / (2 s^2).
    x_np = _ppca_data(16)
    exact = _exact_log_likelihood(x_np)
    encode_fn, mu, var = _encoder(x_np, std_scale=1.5, mean_shift=0.7)
    post_mu, post_var = _exact_posterior(x_np)
    expected_gap = _gaussian_kl_np(mu, var, post_mu, post_var)
    resid = x_np - (mu @ W.T + B)
    recon = -0.5 * (D * np.log(2 * np.pi * S2) + np.sum(resid**2, 1) / S2) - np.sum(
        np.sum(W**2, 0) * var, 1
    ) / (2 * S2)
    kl = _gaussian_kl_np(mu, var, 0.0, 1.0)
    np.testing.assert_allclose(recon - kl, exact - expected_gap, atol=1e-9)  # the identity itself
    assert np.all(expected_gap > 0.5)  # so the check below is not trivially satisfied

    x = jnp.asarray(x_np, jnp.float32)
    run = jax.jit(
        lambda key: vae.elbo_from_posterior(
            key, _decode, x, *encode_fn(x), likelihood=LIK, num_samples=8000
        )
    )
    terms, z = run(jax.random.key(4))
    draws = _recon_per_draw_np(x_np, z)
    stderr = draws.std(0) / np.sqrt(draws.shape[0])
    np.testing.assert_allclose(terms.kl, kl, rtol=1e-5)
    assert np.all(np.abs(np.asarray(terms.reconstruction) - recon) < 4 * stderr)
    assert np.all(np.abs(np.asarray(terms.elbo) - (exact - expected_gap)) < 4 * stderr + 1e-5)


def test_iwae_bound_rises_with_k_towards_log_likelihood():
    x_np = _ppca_data(2048)
    exact = _exact_log_likelihood(x_np)
    encode_fn, mu, var = _encoder(x_np, std_scale=4.0)
    x = jnp.asarray(x_np, jnp.float32)
    post_mu, post_var = _exact_posterior(x_np)

    @jax.jit
    def bounds(key):
        elbo = vae.elbo(key, encode_fn, _decode, x, likelihood=LIK, analytic_kl=False).elbo
        return elbo, [
            vae.iwae_bound(key, encode_fn, _decode, x, k, likelihood=LIK, chunk_size=100)
            for k in (1, 10, 100, 1000)
        ]

    elbo, l_k = bounds(jax.random.key(0))
    # Per-example gaps L_k - log p(x).
    l1, l10, l100, l1000 = (np.asarray(b, np.float64) - exact for b in l_k)
    np.testing.assert_allclose(l_k[0], elbo, rtol=1e-6)  # L_1 is the ELBO, draw for draw
    means = [b.mean() for b in (l1, l10, l100, l1000)]
    # k = 1 is the ELBO: its expected gap is KL(q || p(z | x)) (= 18.34 nats here).
    gap1 = _gaussian_kl_np(mu, var, post_mu, post_var)
    assert means[0] == pytest.approx(-gap1.mean(), abs=4 * (l1 + gap1).std() / np.sqrt(len(l1)))
    # Draw j is shared by every k, so consecutive differences are paired: 4 standard errors each.
    for lo, hi in [(l1, l10), (l10, l100), (l100, l1000)]:
        d = hi - lo
        assert d.mean() > 4 * d.std() / np.sqrt(len(d)), (means, d.mean(), d.std())
    assert -0.05 < means[3] < 0.005, means


def test_chunked_k5000_equals_unchunked_and_gradients_agree():
    x_np = _ppca_data(8)
    encode_fn, _, _ = _encoder(x_np, std_scale=2.0, mean_shift=1.0)
    x = jnp.asarray(x_np, jnp.float32)
    key = jax.random.key(7)
    estimate = jax.jit(
        lambda key, chunk: vae.log_likelihood(
            key, encode_fn, _decode, x, 5000, likelihood=LIK, chunk_size=chunk
        ),
        static_argnums=1,
    )
    whole, chunked = estimate(key, None), estimate(key, 384)  # 384 does not divide 5000
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=2e-5)
    assert np.all(np.abs(np.asarray(whole) - _exact_log_likelihood(x_np)) < 0.1)

    def objective(w, chunk):
        decode = lambda z: z @ w.T + jnp.asarray(B, jnp.float32)
        return jnp.mean(
            vae.iwae_bound(key, encode_fn, decode, x, 50, likelihood=LIK, chunk_size=chunk)
        )

    w = jnp.asarray(W, jnp.float32)
    grad = jax.jit(jax.grad(objective), static_argnums=1)
    g_whole, g_chunked = grad(w, None), grad(w, 16)
    assert np.all(np.isfinite(g_chunked))
    np.testing.assert_allclose(g_chunked, g_whole, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- losses: beta, free bits, warm-up


def _fixed_model(mu, log_var, out_dim=3):
    encode_fn = lambda x: (mu, log_var)
    decode_fn = lambda z: jnp.zeros((z.shape[0], out_dim))  # Bernoulli logits 0: p = 1/2
    return encode_fn, decode_fn


def test_vae_loss_beta_and_free_bits():
    mu = jnp.array([[0.2, 2.0], [-0.2, 2.0]])
    log_var = jnp.zeros((2, 2))
    encode_fn, decode_fn = _fixed_model(mu, log_var)
    x = jnp.ones((2, 3))
    key = jax.random.key(0)
    distortion = 3 * np.log(2.0)
    kl_dims = np.array([0.02, 2.0])  # mu^2 / 2 per dimension, the same for both examples
    loss, m = jax.jit(
        lambda key: vae.vae_loss(key, encode_fn, decode_fn, x, likelihood=vae.Bernoulli(), beta=0.5)
    )(key)
    assert float(m["distortion"]) == pytest.approx(distortion, rel=1e-6)
    assert float(m["rate"]) == pytest.approx(kl_dims.sum(), rel=1e-6)
    assert float(loss) == pytest.approx(distortion + 0.5 * kl_dims.sum(), rel=1e-6)
    assert float(m["elbo"]) == pytest.approx(-distortion - kl_dims.sum(), rel=1e-6)

    def fb_loss(mu):
        enc, dec = _fixed_model(mu, log_var)
        return vae.vae_loss(key, enc, dec, x, likelihood=vae.Bernoulli(), free_bits=0.5)

    (loss_fb, m_fb), grad = jax.jit(jax.value_and_grad(fb_loss, has_aux=True))(mu)
    assert float(loss_fb) == pytest.approx(distortion + 0.5 + 2.0, rel=1e-6)
    assert float(m_fb["rate"]) == pytest.approx(kl_dims.sum(), rel=1e-6)  # reported KL unchanged
    np.testing.assert_allclose(grad[:, 0], 0.0)  # below the free bits: no pull to the prior
    np.testing.assert_allclose(grad[:, 1], mu[:, 1] / 2, rtol=1e-6)  # d/dmu mean_batch(mu^2/2)


def test_kl_warmup_schedule_and_traced_beta():
    assert [float(vae.kl_warmup(s, 10, beta=2.0)) for s in (0, 5, 10, 20)] == [0.0, 1.0, 2.0, 2.0]
    assert float(vae.kl_warmup(3, 0)) == 1.0
    mu = jnp.ones((2, 2))
    encode_fn, decode_fn = _fixed_model(mu, jnp.zeros((2, 2)))

    @jax.jit
    def loss_at(step):
        beta = vae.kl_warmup(step, 100)
        return vae.vae_loss(
            jax.random.key(0),
            encode_fn,
            decode_fn,
            jnp.ones((2, 3)),
            likelihood=vae.Bernoulli(),
            beta=beta,
        )[0]

    assert float(loss_at(50)) == pytest.approx(3 * np.log(2.0) + 0.5 * 1.0, rel=1e-6)


# ---------------------------------------------------------------- InfoVAE


def _mmd_unbiased_np(x, y, s):
    k = lambda a, b: np.exp(-np.sum((a[:, None] - b[None]) ** 2, -1) / (2 * s**2))
    n, m = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    return (
        (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * k(x, y).mean()
    )


def test_mmd_to_prior_matches_direct_computation():
    key = jax.random.key(3)
    z = jax.random.normal(jax.random.key(4), (128, 2, 2)) * 0.5 + 1.0
    prior = np.asarray(jax.random.normal(key, (128, 4)), np.float64)
    want = _mmd_unbiased_np(np.asarray(z, np.float64).reshape(128, 4), prior, 1.5)
    assert float(vae.mmd_to_prior(key, z, bandwidths=[1.5])) == pytest.approx(want, rel=1e-4)
    assert want > 0.1
    same = vae.mmd_to_prior(key, jax.random.normal(jax.random.key(5), (512, 4)), bandwidths=[1.5])
    assert abs(float(same)) < 0.01


def test_infovae_loss_combines_its_terms():
    x = jax.random.uniform(jax.random.key(0), (64, 3)) < 0.5
    x = x.astype(jnp.float32)
    mu = jax.random.normal(jax.random.key(1), (64, 2)) + 1.5
    log_var = jnp.full((64, 2), -1.0)
    encode_fn, decode_fn = _fixed_model(mu, log_var)
    key = jax.random.key(2)
    kwargs = dict(likelihood=vae.Bernoulli(), bandwidths=[1.0])
    key_q, key_p = jax.random.split(key)

    @jax.jit
    def run(key):
        info = vae.infovae_loss(key, encode_fn, decode_fn, x, alpha=0.5, lam=10.0, **kwargs)
        as_vae = vae.infovae_loss(key, encode_fn, decode_fn, x, alpha=0.0, lam=1.0, **kwargs)[0]
        ref = vae.vae_loss(key_q, encode_fn, decode_fn, x, likelihood=vae.Bernoulli())[0]
        z0 = mu + jnp.exp(0.5 * log_var) * jax.random.normal(jax.random.fold_in(key_q, 0), mu.shape)
        return info, as_vae, ref, vae.mmd_to_prior(key_p, z0, bandwidths=[1.0])

    (loss, m), loss_vae, ref, mmd = run(key)
    assert float(loss) == pytest.approx(
        float(m["distortion"] + 0.5 * m["kl"] + 9.5 * m["mmd"]), rel=1e-6
    )
    assert float(m["mmd"]) == pytest.approx(float(mmd), rel=1e-5)  # same draw z as the ELBO
    assert float(m["mmd"]) > 0.05
    assert float(loss_vae) == pytest.approx(float(ref), rel=1e-6)  # alpha = 0, lambda = 1: VAE


# ---------------------------------------------------------------- bad input


def test_bernoulli_rejects_or_warns_on_non_binary_data():
    encode_fn, decode_fn = _fixed_model(jnp.zeros((2, 2)), jnp.zeros((2, 2)))
    key = jax.random.key(0)
    with pytest.warns(UserWarning, match="non-binary"):
        vae.elbo(key, encode_fn, decode_fn, jnp.full((2, 3), 0.5), likelihood=vae.Bernoulli())
    with pytest.raises(ValueError, match=r"\{0, 1\}"):
        vae.iwae_bound(
            key, encode_fn, decode_fn, jnp.full((2, 3), 2.0), 5, likelihood=vae.Bernoulli()
        )
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        vae.DiscretizedLogistic(17).check_data(jnp.array([0.0, 1.5]))
    with pytest.warns(UserWarning, match="off the grid"):
        vae.DiscretizedGaussian(17).check_data(jnp.array([0.0, 0.01]))


def test_bad_sample_counts_and_shapes_raise_clear_errors():
    encode_fn, decode_fn = _fixed_model(jnp.zeros((2, 2)), jnp.zeros((2, 2)))
    x, key, lik = jnp.ones((2, 3)), jax.random.key(0), vae.Bernoulli()
    for k in (0, -3, 2.5):
        with pytest.raises(ValueError, match="integer >= 1"):
            vae.iwae_bound(key, encode_fn, decode_fn, x, k, likelihood=lik)
    with pytest.raises(ValueError, match="integer >= 1"):
        vae.log_likelihood(key, encode_fn, decode_fn, x, 0, likelihood=lik)
    with pytest.raises(ValueError, match="chunk_size"):
        vae.iwae_bound(key, encode_fn, decode_fn, x, 10, likelihood=lik, chunk_size=0)
    with pytest.raises(ValueError, match="num_samples"):
        vae.elbo(key, encode_fn, decode_fn, x, likelihood=lik, num_samples=0)
    bad_enc, _ = _fixed_model(jnp.zeros((2, 2)), jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"same shape .*mu \(2, 2\) and log_var \(2, 3\)"):
        vae.elbo(key, bad_enc, decode_fn, x, likelihood=lik)
    wrong_batch, _ = _fixed_model(jnp.zeros((5, 2)), jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match="batch size"):
        vae.iwae_bound(key, wrong_batch, decode_fn, x, 3, likelihood=lik)
    with pytest.raises(ValueError, match=r"shape of the data \(2, 3\)"):
        vae.elbo(key, encode_fn, lambda z: jnp.zeros((2, 4)), x, likelihood=lik)
    with pytest.raises(ValueError, match="pair"):
        vae.elbo(key, encode_fn, lambda z: jnp.zeros((2, 3)), x, likelihood=vae.Gaussian())
    with pytest.raises(ValueError, match="same shape"):
        vae.kl_to_standard_normal(jnp.zeros((2, 2)), jnp.zeros((2, 1)))
    with pytest.raises(ValueError, match="positive"):
        vae.Gaussian(variance=0.0)
    with pytest.raises(ValueError, match="num_levels"):
        vae.DiscretizedLogistic(1)
    with pytest.raises(ValueError, match="free_bits"):
        vae.vae_loss(key, encode_fn, decode_fn, x, likelihood=lik, free_bits=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        vae.infovae_loss(key, encode_fn, decode_fn, x, likelihood=lik, alpha=2.0, lam=1.0)
    with pytest.raises(ValueError, match="warmup_steps"):
        vae.kl_warmup(0, -1)


def test_math_layer_imports_no_flax_optax_or_matplotlib():
    code = (
        "import sys, gendiff.vae; "
        "print(sorted(m for m in ('flax', 'optax', 'matplotlib', 'orbax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
