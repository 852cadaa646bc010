"""VAE networks: encoder/decoder shapes, the ladder VAE's bounds against an exact likelihood,
the causal code prior and its sampler, the assignment player, and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from gendiff import nets, vae
from gendiff.train import assignment_player, create_players_state, make_players_step
from gendiff.vae.ladder import ladder_terms, precision_weighted

KEY = jax.random.key(0)


@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1)])
@pytest.mark.parametrize("head", ["logits", "mean", "mean_log_scale"])
def test_encoders_and_decoders_have_the_documented_shapes(shape, head):
    x = jnp.zeros((3, *shape))
    for enc, dec in [
        (nets.MLPEncoder((16,), 5), nets.MLPDecoder((16,), shape, head)),
        (nets.ConvEncoder((4, 8), 5, hidden=16), nets.ConvDecoder((8, 4), shape, head, 16)),
    ]:
        model = nets.VAE(enc, dec)
        params = model.init(KEY, x)
        mu, log_var = model.apply(params, x, method="encode")
        assert mu.shape == log_var.shape == (3, 5)
        out = model.apply(params, mu, method="decode")
        outs = out if head == "mean_log_scale" else (out,)
        assert all(o.shape == x.shape for o in outs)
        if head == "mean_log_scale":
            assert float(jnp.min(out[1])) >= -7.0
    enc, dec = nets.VQEncoder((4,) * (1 + (shape[0] > 8)), 6), None
    z_e = enc.apply(enc.init(KEY, x), x)
    assert z_e.shape == (3, 4 if shape[0] == 8 else 7, 4 if shape[0] == 8 else 7, 6)
    dec = nets.VQDecoder((4,) * (1 + (shape[0] > 8)), shape, head)
    out = dec.apply(dec.init(KEY, z_e), z_e)
    assert (out[0] if head == "mean_log_scale" else out).shape == x.shape


def test_precision_weighting_is_the_normalised_product_of_the_densities():
    mu_a, lv_a, mu_b, lv_b = (jnp.array([[v]]) for v in (0.3, np.log(0.5), -1.2, np.log(2.0)))
    mu, lv = precision_weighted(mu_a, lv_a, mu_b, lv_b)
    z = np.linspace(-8, 8, 20001)
    log_prod = vae.diag_normal_log_prob(z, mu_a[0, 0], lv_a[0, 0]) + vae.diag_normal_log_prob(
        z, mu_b[0, 0], lv_b[0, 0]
    )
    w = np.exp(np.asarray(log_prod) - np.max(log_prod))
    w /= w.sum()
    mean = np.sum(w * z)
    var = np.sum(w * (z - mean) ** 2)
    np.testing.assert_allclose(float(mu[0, 0]), mean, atol=1e-5)
    np.testing.assert_allclose(float(jnp.exp(lv[0, 0])), var, rtol=1e-4)
    # 1/var = 1/0.5 + 1/2, mean = (0.3 * 2 - 1.2 * 0.5) * 0.4 = 0.
    np.testing.assert_allclose([float(mu[0, 0]), float(jnp.exp(lv[0, 0]))], [0.0, 0.4], atol=1e-6)


def test_ladder_log_weight_is_the_sum_of_its_log_densities():
    k = jax.random.split(KEY, 8)
    z2, z1 = jax.random.normal(k[0], (4, 2)), jax.random.normal(k[1], (4, 3))
    q2 = (jax.random.normal(k[2], (4, 2)), 0.3 * jax.random.normal(k[3], (4, 2)))
    q1 = (jax.random.normal(k[4], (4, 3)), 0.3 * jax.random.normal(k[5], (4, 3)))
    p1 = (jax.random.normal(k[6], (4, 3)), 0.3 * jax.random.normal(k[7], (4, 3)))
    rec = jnp.arange(4.0)
    t = ladder_terms(rec, z2, q2, z1, q1, p1)

    def lp(z, m, lv):
        return np.sum(-0.5 * (np.log(2 * np.pi) + lv + (z - m) ** 2 / np.exp(lv)), axis=-1)

    z2n, z1n = np.asarray(z2), np.asarray(z1)
    q2n, q1n, p1n = (tuple(map(np.asarray, g)) for g in (q2, q1, p1))
    expect = np.arange(4.0) + lp(z1n, *p1n) + lp(z2n, 0.0, 0.0) - lp(z1n, *q1n) - lp(z2n, *q2n)
    np.testing.assert_allclose(np.asarray(t.log_weight), expect, rtol=1e-5, atol=1e-5)
    assert np.all(np.asarray(t.kl_top) >= 0) and np.all(np.asarray(t.kl_bottom) >= 0)


def _exact_ladder_log_likelihood(net, params, x, lik):
    """log p(x) of a LadderVAE with 1-D z1 and z2 by quadrature on a grid."""
    g = np.linspace(-7, 7, 701)
    dz = g[1] - g[0]
    z2 = jnp.asarray(g[:, None], jnp.float32)
    mu1, lv1 = net.apply(params, z2, method="prior1")  # p(z1 | z2), (G, 1)
    z1 = jnp.asarray(g[:, None], jnp.float32)
    dec = net.apply(params, z1, method=lambda m, z: m.decoder(z))  # (G, D)
    shape = (x.shape[0], *dec.shape)
    log_px_z1 = np.asarray(
        jnp.sum(lik.log_prob(jnp.broadcast_to(x[:, None], shape), jnp.broadcast_to(dec, shape)), -1)
    )  # (B, G)
    log_p1 = np.asarray(vae.diag_normal_log_prob(z1[None, :, 0], mu1[:, None, 0], lv1[:, None, 0]))
    log_p2 = -0.5 * (g**2 + np.log(2 * np.pi))
    joint = log_p2[None, :, None] + log_p1[None] + log_px_z1[:, None, :]  # (B, z2, z1)
    return logsumexp(joint.reshape(x.shape[0], -1), axis=-1) + 2 * np.log(dz)


def test_ladder_vae_elbo_below_iwae_below_exact_log_likelihood():
    lik = vae.Bernoulli()
    net = nets.LadderVAE((8,), (8,), 1, 1, output_shape=(4,), head="logits")
    x = jnp.array([[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    params = net.init(KEY, x, KEY, likelihood=lik)
    exact = _exact_ladder_log_likelihood(net, params, x, lik)

    def log_weight(key):
        return net.apply(params, x, key, likelihood=lik).log_weight

    keys = jax.random.split(jax.random.key(1), 300)
    elbo = np.mean(jax.vmap(lambda k: net.apply(params, x, k, likelihood=lik).elbo)(keys), 0)
    l10 = np.mean(jax.vmap(lambda k: vae.importance_weighted_bound(k, log_weight, 10))(keys), 0)
    l5000 = np.asarray(vae.importance_weighted_bound(KEY, log_weight, 5000, chunk_size=1000))
    # Measured: exact [-2.84, -2.87, -2.79], ELBO [-3.98, -3.56, -4.20], L_10 [-3.04, -2.84,
    # -3.05], L_5000 [-2.87, -2.87, -2.80].
    assert np.all(elbo < l10 - 0.1)
    assert np.mean(l10) < np.mean(exact)
    np.testing.assert_allclose(l5000, exact, atol=0.05)


def test_code_prior_is_autoregressive():
    prior = nets.CodePrior(num_codes=7, length=6, features=16, depth=2, num_heads=2)
    codes = jax.random.randint(KEY, (2, 6), 0, 7)
    params = prior.init(KEY, codes)
    base = prior.apply(params, codes)
    for j in range(6):
        changed = codes.at[:, j].set((codes[:, j] + 3) % 7)
        out = prior.apply(params, changed)
        # Position i sees codes < i: positions <= j are unchanged, position j + 1 changes.
        np.testing.assert_allclose(out[:, : j + 1], base[:, : j + 1], atol=1e-5)
        if j + 1 < 6:
            assert float(jnp.max(jnp.abs(out[:, j + 1] - base[:, j + 1]))) > 1e-3


def test_sample_codes_follows_the_model_conditionals():
    prior = nets.CodePrior(num_codes=4, length=2, features=8, depth=1, num_heads=2)
    params = prior.init(KEY, jnp.zeros((1, 2), jnp.int32))
    params = jax.tree.map(lambda p: 3.0 * p, params)  # sharper conditionals
    codes = np.asarray(nets.sample_codes(prior, params, jax.random.key(1), 4000))
    assert codes.shape == (4000, 2) and codes.min() >= 0 and codes.max() < 4
    logits = prior.apply(params, jnp.zeros((1, 2), jnp.int32))
    p0 = np.asarray(jax.nn.softmax(logits[0, 0]))
    # The first code's frequencies within 4 standard errors of its model probabilities, and the
    # second code's given the most frequent first code.
    freq0 = np.bincount(codes[:, 0], minlength=4) / len(codes)
    assert np.all(np.abs(freq0 - p0) < 4 * np.sqrt(p0 * (1 - p0) / len(codes)) + 1e-3)
    c0 = int(np.argmax(freq0))
    sub = codes[codes[:, 0] == c0, 1]
    p1 = np.asarray(jax.nn.softmax(prior.apply(params, jnp.array([[c0, 0]]))[0, 1]))
    freq1 = np.bincount(sub, minlength=4) / len(sub)
    assert np.all(np.abs(freq1 - p1) < 4 * np.sqrt(p1 * (1 - p1) / len(sub)) + 1e-3)


def test_assignment_player_sets_the_rule_value_next_to_a_gradient_player():
    import optax

    from gendiff.train import Player

    rule = assignment_player("c", lambda p, b, k: (0.5 * p["c"] + b["x"].mean(0), {"m": p["c"][0]}))
    grad = Player("w", lambda p, b, k: (jnp.sum((p["w"] - p["c"]) ** 2), {}), optax.sgd(0.1))
    state = create_players_state(
        {"w": jnp.zeros(2), "c": jnp.array([1.0, -2.0])}, {"w": grad.tx, "c": rule.tx}
    )
    step = jax.jit(make_players_step([grad, rule], ema_decay=0.0))
    batch = {"x": jnp.array([[2.0, 4.0], [4.0, 0.0]])}
    state, metrics = step(state, batch, KEY)
    np.testing.assert_allclose(np.asarray(state.params["c"]), [3.5, 1.0], atol=1e-6)
    np.testing.assert_allclose(np.asarray(state.params["w"]), [0.2, -0.4], atol=1e-6)
    assert float(metrics["c/m"]) == 1.0


def test_bad_network_input_raises_clear_errors():
    with pytest.raises(ValueError, match="Unknown decoder head"):
        nets.MLPDecoder((4,), (3,), head="softmax").init(KEY, jnp.zeros((1, 2)))
    with pytest.raises(ValueError, match="not divisible"):
        nets.ConvDecoder((4, 4, 4), (28, 28, 1)).init(KEY, jnp.zeros((1, 2)))
    with pytest.raises(ValueError, match="images"):
        nets.ConvEncoder().init(KEY, jnp.zeros((1, 64)))
    with pytest.raises(ValueError, match="Unknown activation"):
        nets.MLPEncoder((4,), 2, "sine").init(KEY, jnp.zeros((1, 3)))
    prior = nets.CodePrior(num_codes=4, length=3, features=8, depth=1, num_heads=2)
    with pytest.raises(ValueError, match=r"shape \(batch, 3\)"):
        prior.init(KEY, jnp.zeros((1, 4), jnp.int32))
    with pytest.raises(ValueError, match="integer codes"):
        prior.init(KEY, jnp.zeros((1, 3)))
    params = prior.init(KEY, jnp.zeros((1, 3), jnp.int32))
    with pytest.raises(ValueError, match="temperature"):
        nets.sample_codes(prior, params, KEY, 2, temperature=0.0)
    z = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match="one shape"):
        precision_weighted(z, z, jnp.zeros((2, 4)), jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="latent draws must match"):
        ladder_terms(jnp.zeros(2), jnp.zeros((2, 5)), (z, z), z, (z, z), (z, z))
    with pytest.raises(ValueError, match=r"values in \[-1, 1\]"):
        vae.binarize(KEY, jnp.array([0.0, 2.0]))
    x = vae.binarize(KEY, jnp.full((10000,), 0.5))  # p = 0.75
    assert set(np.unique(np.asarray(x))) <= {0.0, 1.0} and abs(float(x.mean()) - 0.75) < 0.02
