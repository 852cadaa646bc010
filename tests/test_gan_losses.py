"""Tests for gendiff.gan: the losses at their optimal discriminators, the registry, the critic
regularisers and PacGAN packing."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.divergences import F_DIVERGENCES, f_divergence, get_f_divergence, js_divergence
from gendiff.gan import (
    GAN_LOSSES,
    clip_weights,
    fgan_discriminator_loss,
    fgan_generator_loss,
    get_gan_loss,
    gradient_penalty,
    hinge_discriminator_loss,
    hinge_generator_loss,
    interpolates,
    least_squares_discriminator_loss,
    least_squares_generator_loss,
    minimax_discriminator_loss,
    minimax_generator_loss,
    non_saturating_generator_loss,
    pack,
    r1_penalty,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)

# Two distributions on 4 points with rational probabilities, represented exactly by samples:
# point i appears 10 p_i times in the real batch and 10 q_i times in the fake batch, so batch
# means are exact expectations.
P = np.array([0.1, 0.2, 0.3, 0.4])
Q = np.array([0.4, 0.3, 0.2, 0.1])
REAL_IDX = np.repeat(np.arange(4), (10 * P).round().astype(int))
FAKE_IDX = np.repeat(np.arange(4), (10 * Q).round().astype(int))


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _on_samples(values_per_point):
    v = jnp.asarray(values_per_point)
    return v[REAL_IDX], v[FAKE_IDX]


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


# --- the optimal discriminators ----------------------------------------------------------------
def test_minimax_value_at_the_optimal_discriminator_is_2js_minus_log4(x64):
    # D* = p / (p + q), i.e. logits log(p / q) (Goodfellow et al., proposition 1 and theorem 1).
    real, fake = _on_samples(np.log(P / Q))
    loss, metrics = minimax_discriminator_loss(real, fake)
    value = -float(loss)
    expected = 2 * float(js_divergence(P, Q)) - math.log(4.0)
    assert value == pytest.approx(expected, rel=1e-12)
    direct = np.sum(P * np.log(P / (P + Q))) + np.sum(Q * np.log(Q / (P + Q)))
    assert value == pytest.approx(direct, rel=1e-12)
    assert float(metrics["d_real"]) == pytest.approx(np.sum(P * P / (P + Q)), rel=1e-12)
    # Any other discriminator does worse (the loss is larger).
    rng = np.random.default_rng(0)
    for _ in range(10):
        r, f = _on_samples(np.log(P / Q) + rng.normal(scale=0.3, size=4))
        assert float(minimax_discriminator_loss(r, f)[0]) > float(loss)
    # With P = Q the optimum is D = 1/2 and the value -log 4.
    half = minimax_discriminator_loss(jnp.zeros(5), jnp.zeros(7))[0]
    assert float(half) == pytest.approx(math.log(4.0))


def _inverse_activation(name, t, alpha=None):
    # g_f^-1 written out by hand, independently of the table's activations.
    if name in ("kl", "pearson_chi2", "jeffreys") or (name == "alpha" and alpha > 1):
        return t
    if name == "reverse_kl":  # g = -e^{-v}
        return -np.log(-t)
    if name in ("neyman_chi2", "squared_hellinger"):  # g = 1 - e^{-v}
        return -np.log1p(-t)
    if name == "js":  # g = (log 2 - log(1 + e^{-v})) / 2
        return -np.log(2 * np.exp(-2 * t) - 1)
    if name == "js_unnormalized":
        return -np.log(2 * np.exp(-t) - 1)
    if name == "gan":  # g = log sigmoid(v)
        return t - np.log1p(-np.exp(t))
    if name == "tv":  # g = tanh(v) / 2; T* = +-1/2 sits at the ends of the range
        return np.sign(t) * 20.0
    if name == "alpha":  # g = 1/(1 - alpha) - log(1 + e^{-v})
        return -np.log(np.expm1(1 / (1 - alpha) - t))
    raise AssertionError(name)


FGAN_CASES = [(n, None) for n in F_DIVERGENCES if n != "alpha"] + [
    ("alpha", a) for a in (-0.5, 0.5, 2.0)
]


@pytest.mark.parametrize("name,alpha", FGAN_CASES, ids=lambda x: str(x))
def test_fgan_critic_at_its_optimum_estimates_the_divergence_exactly(name, alpha, x64):
    params = {} if alpha is None else {"alpha": alpha}
    entry = get_f_divergence(name, **params)
    t_star = np.asarray(entry.f_prime(jnp.asarray(P / Q)))  # T* = f'(p / q)
    v_star = _inverse_activation(name, t_star, alpha)
    np.testing.assert_allclose(entry.activation(jnp.asarray(v_star)), t_star, rtol=1e-9, atol=1e-12)
    real, fake = _on_samples(v_star)
    loss, metrics = fgan_discriminator_loss(real, fake, name, **params)
    exact = float(f_divergence(P, Q, name, **params))
    assert float(metrics["divergence_estimate"]) == pytest.approx(exact, rel=1e-9, abs=1e-12)
    assert float(loss) == pytest.approx(-exact, rel=1e-9, abs=1e-12)
    # Every other critic gives a smaller lower bound.
    rng = np.random.default_rng(1)
    for _ in range(10):
        r, f = _on_samples(v_star + rng.normal(scale=0.3, size=4))
        assert (
            float(fgan_discriminator_loss(r, f, name, **params)[1]["divergence_estimate"])
            <= exact + 1e-12
        )
    # Table 6's threshold: the optimal critic calls x real exactly where p(x) > q(x).
    assert float(metrics["real_as_real"]) == pytest.approx(np.mean((P > Q)[REAL_IDX]))
    assert float(metrics["fake_as_real"]) == pytest.approx(np.mean((P > Q)[FAKE_IDX]))


def test_fgan_gan_entry_is_the_original_gan(x64):
    rng = np.random.default_rng(2)
    real, fake = jnp.asarray(rng.normal(size=6) * 3), jnp.asarray(rng.normal(size=9) * 3)
    np.testing.assert_allclose(
        fgan_discriminator_loss(real, fake, "gan")[0],
        minimax_discriminator_loss(real, fake)[0],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        fgan_generator_loss(fake, "gan")[0], minimax_generator_loss(fake)[0], rtol=1e-12
    )
    np.testing.assert_allclose(
        fgan_generator_loss(fake, "gan", form="alternative")[0],
        non_saturating_generator_loss(fake)[0],
        rtol=1e-12,
    )
    # The minimax f-GAN generator loss is -E_Q f*(g_f(V)) and the alternative -E_Q g_f(V).
    e = get_f_divergence("kl")
    np.testing.assert_allclose(
        fgan_generator_loss(fake, "kl")[0], -jnp.mean(jnp.exp(fake - 1.0)), rtol=1e-12
    )
    np.testing.assert_allclose(
        fgan_generator_loss(fake, "kl", form="alternative")[0],
        -jnp.mean(e.activation(fake)),
        rtol=1e-12,
    )


def test_saturating_generator_gradient_vanishes_where_the_non_saturating_one_does_not():
    # Early in training D rejects the samples confidently: logit -10.
    fake = jnp.full((4,), -10.0)
    g_sat = jax.grad(lambda v: minimax_generator_loss(v)[0])(fake)
    g_ns = jax.grad(lambda v: non_saturating_generator_loss(v)[0])(fake)
    np.testing.assert_allclose(g_sat, -_sigmoid(-10.0) / 4, rtol=1e-4)  # ~ -1e-5
    np.testing.assert_allclose(g_ns, -(1 - _sigmoid(-10.0)) / 4, rtol=1e-4)  # ~ -1/4
    # Both push the logit up (towards "real").
    assert bool(jnp.all(g_sat < 0) and jnp.all(g_ns < 0))


def test_least_squares_optimal_discriminator(x64):
    # V*(x) = (b p + a q) / (p + q) minimises the discriminator loss (Mao et al., proposition 1).
    for a, b in [(0.0, 1.0), (-1.0, 1.0)]:
        v_star = (b * P + a * Q) / (P + Q)

        def loss_of(v):
            real, fake = _on_samples(v)
            return least_squares_discriminator_loss(real, fake, a=a, b=b)[0]

        np.testing.assert_allclose(jax.grad(loss_of)(jnp.asarray(v_star)), 0.0, atol=1e-12)
        assert float(loss_of(jnp.asarray(v_star) + 0.1)) > float(loss_of(jnp.asarray(v_star)))


# --- formulas and metrics -------------------------------------------------------------------------
def test_losses_match_their_formulas(x64):
    rng = np.random.default_rng(3)
    r, f = rng.normal(size=(7, 1)) * 2, rng.normal(size=(5, 1)) * 2
    loss, m = minimax_discriminator_loss(r, f)
    assert float(loss) == pytest.approx(
        -np.mean(np.log(_sigmoid(r))) - np.mean(np.log(1 - _sigmoid(f))), rel=1e-12
    )
    assert float(m["d_fake"]) == pytest.approx(np.mean(_sigmoid(f)), rel=1e-12)
    assert float(minimax_generator_loss(f)[0]) == pytest.approx(
        np.mean(np.log(1 - _sigmoid(f))), rel=1e-12
    )
    assert float(non_saturating_generator_loss(f)[0]) == pytest.approx(
        -np.mean(np.log(_sigmoid(f))), rel=1e-12
    )
    loss, m = wasserstein_critic_loss(r, f)
    assert float(m["wasserstein_estimate"]) == pytest.approx(r.mean() - f.mean(), rel=1e-12)
    assert float(loss) == pytest.approx(f.mean() - r.mean(), rel=1e-12)
    assert float(wasserstein_generator_loss(f)[0]) == pytest.approx(-f.mean(), rel=1e-12)
    hinge = np.mean(np.maximum(0, 1 - r)) + np.mean(np.maximum(0, 1 + f))
    assert float(hinge_discriminator_loss(r, f)[0]) == pytest.approx(hinge, rel=1e-12)
    assert float(hinge_generator_loss(f)[0]) == pytest.approx(-f.mean(), rel=1e-12)
    ls = 0.5 * np.mean((r - 1) ** 2) + 0.5 * np.mean((f + 1) ** 2)
    assert float(least_squares_discriminator_loss(r, f, a=-1.0, b=1.0)[0]) == pytest.approx(
        ls, rel=1e-12
    )
    assert float(least_squares_generator_loss(f, c=0.0)[0]) == pytest.approx(
        0.5 * np.mean(f**2), rel=1e-12
    )
    # Logits far out stay finite (softplus form, no log(0)).
    loss, _ = minimax_discriminator_loss(jnp.array([-200.0]), jnp.array([200.0]))
    assert float(loss) == pytest.approx(400.0)


def _all_pairs():
    for name in GAN_LOSSES:
        yield name, ({"alpha": 0.5} if name == "fgan_alpha" else {})


@pytest.mark.parametrize(
    "name,params", list(_all_pairs()), ids=lambda x: x if isinstance(x, str) else ""
)
def test_registry_pairs_return_a_scalar_and_metrics_and_jit(name, params):
    pair = get_gan_loss(name, **params)
    real, fake = jnp.linspace(-1.0, 2.0, 6)[:, None], jnp.linspace(-2.0, 0.5, 4)[:, None]
    for loss, metrics in (pair.discriminator(real, fake), pair.generator(fake)):
        assert loss.shape == () and bool(jnp.isfinite(loss))
        assert float(metrics["loss"]) == float(loss)
    jitted = jax.jit(lambda r, f: (pair.discriminator(r, f)[0], pair.generator(f)[0]))(real, fake)
    np.testing.assert_allclose(
        jitted, (pair.discriminator(real, fake)[0], pair.generator(fake)[0]), rtol=1e-6
    )
    grads = jax.grad(lambda f: pair.discriminator(real, f)[0] + pair.generator(f)[0])(fake)
    assert bool(jnp.all(jnp.isfinite(grads)))
    assert pair.requires_lipschitz == (name == "wasserstein")


def test_registry_covers_every_f_divergence_and_the_classic_losses():
    expected = {"minimax", "non_saturating", "wasserstein", "hinge", "least_squares"}
    expected |= {f"fgan_{n}" for n in F_DIVERGENCES}
    assert set(GAN_LOSSES) == expected


def test_bad_names_parameters_and_shapes_give_clear_errors():
    with pytest.raises(
        ValueError, match=r"unknown GAN loss 'wgan'; expected one of \[.*'wasserstein'"
    ):
        get_gan_loss("wgan")
    with pytest.raises(ValueError, match="factory"):
        get_gan_loss("fgan_alpha")
    with pytest.raises(ValueError, match="bad parameters"):
        get_gan_loss("hinge", margin=2.0)
    with pytest.raises(ValueError, match=r"form must be one of \('minimax', 'alternative'\)"):
        get_gan_loss("fgan_kl", form="nonsaturating")
    with pytest.raises(ValueError, match="unknown f-divergence 'kll'"):
        fgan_discriminator_loss(jnp.zeros(2), jnp.zeros(2), "kll")
    with pytest.raises(
        ValueError, match=r"same shape after the batch axis, got real \(8, 1\) and fake \(8, 2\)"
    ):
        minimax_discriminator_loss(jnp.zeros((8, 1)), jnp.zeros((8, 2)))
    with pytest.raises(ValueError, match="batch axis"):
        hinge_generator_loss(jnp.asarray(1.0))


# --- regularisers -------------------------------------------------------------------------------
def test_clip_weights_clips_floating_leaves_after_an_update():
    params = {
        "dense": {
            "kernel": jnp.array([[-0.5, 0.003], [0.02, -0.01]]),
            "bias": jnp.array([0.2], jnp.bfloat16),
        },
        "step": jnp.array(7, jnp.int32),
    }
    clipped = clip_weights(params, 0.01)
    assert jax.tree.structure(clipped) == jax.tree.structure(params)
    np.testing.assert_allclose(
        clipped["dense"]["kernel"], [[-0.01, 0.003], [0.01, -0.01]], rtol=1e-6
    )
    assert clipped["dense"]["bias"].dtype == jnp.bfloat16
    assert float(clipped["dense"]["bias"][0]) == pytest.approx(0.01, rel=1e-2)
    assert int(clipped["step"]) == 7
    assert all(bool(jnp.all(jnp.abs(w) <= 0.01)) for w in jax.tree.leaves(clipped["dense"]))
    with pytest.raises(ValueError, match="c must be > 0"):
        clip_weights(params, 0.0)


def test_gradient_penalty_of_a_linear_critic_is_its_closed_form():
    key = jax.random.key(0)
    real, fake = jax.random.normal(jax.random.key(1), (16, 3, 2, 1)), jnp.zeros((16, 3, 2, 1))
    for scale in (0.5, 1.0, 3.0):
        w = scale * jnp.arange(1.0, 7.0).reshape(3, 2, 1) / jnp.linalg.norm(jnp.arange(1.0, 7.0))
        critic = lambda x: jnp.sum(x * w, axis=(1, 2, 3)) + 2.0
        gp, m = gradient_penalty(key, critic, real, fake)
        assert float(gp) == pytest.approx((scale - 1.0) ** 2, abs=1e-6)
        assert float(m["grad_norm"]) == pytest.approx(scale, rel=1e-6)
        one_sided, _ = gradient_penalty(key, critic, real, fake, one_sided=True)
        assert float(one_sided) == pytest.approx(max(0.0, scale - 1.0) ** 2, abs=1e-6)
        zero_centred, _ = gradient_penalty(key, critic, real, fake, target=0.0)
        assert float(zero_centred) == pytest.approx(scale**2, rel=1e-6)


def test_gradient_penalty_uses_random_interpolates():
    key = jax.random.key(3)
    real = jax.random.normal(jax.random.key(4), (512, 2)) + 3.0
    fake = jax.random.normal(jax.random.key(5), (512, 2))
    x_hat = interpolates(key, real, fake)
    # Each x_hat_i = eps_i real_i + (1 - eps_i) fake_i with one eps_i in [0, 1] for all features.
    eps = (x_hat - fake) / (real - fake)
    np.testing.assert_allclose(eps[:, 0], eps[:, 1], rtol=1e-3, atol=1e-4)
    assert bool(jnp.all((eps >= -1e-5) & (eps <= 1 + 1e-5)))
    assert float(jnp.mean(eps[:, 0])) == pytest.approx(0.5, abs=0.05)  # U[0, 1]: sd of mean 0.013
    assert float(jnp.std(eps[:, 0])) == pytest.approx(math.sqrt(1 / 12), abs=0.03)
    assert not np.allclose(interpolates(jax.random.key(6), real, fake), x_hat)
    # A quadratic critic f(x) = ||x||^2 / 2 has gradient x: the penalty is E(||x_hat|| - 1)^2.
    gp, _ = gradient_penalty(key, lambda x: 0.5 * jnp.sum(x**2, axis=-1), real, fake)
    expected = jnp.mean((jnp.linalg.norm(x_hat, axis=-1) - 1.0) ** 2)
    assert float(gp) == pytest.approx(float(expected), rel=1e-5)


def test_gradient_penalty_has_finite_parameter_gradients_at_a_flat_critic():
    real, fake = jnp.ones((4, 2)), jnp.zeros((4, 2))

    def gp_of(w):
        return gradient_penalty(jax.random.key(0), lambda x: x @ w, real, fake)[0]

    g = jax.grad(gp_of)(jnp.zeros(2))  # ||grad_x f|| = 0: the norm's own gradient is undefined
    assert bool(jnp.all(jnp.isfinite(g)))
    g = jax.grad(gp_of)(jnp.array([3.0, 4.0]))  # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    np.testing.assert_allclose(g, 2 * 4.0 * jnp.array([3.0, 4.0]) / 5.0, rtol=1e-5)


def test_r1_penalty_closed_forms():
    x = jax.random.normal(jax.random.key(7), (8, 3))
    w = jnp.array([1.0, -2.0, 2.0])
    r1, m = r1_penalty(lambda x: (x @ w)[:, None], x)  # (batch, 1) outputs are accepted
    assert float(r1) == pytest.approx(9.0, rel=1e-6)
    assert float(m["grad_norm"]) == pytest.approx(3.0, rel=1e-6)
    r1, _ = r1_penalty(lambda x: 0.5 * jnp.sum(x**2, axis=-1), x)
    assert float(r1) == pytest.approx(float(jnp.mean(jnp.sum(x**2, axis=-1))), rel=1e-6)


def test_penalties_bad_input():
    critic = lambda x: jnp.sum(x, axis=-1)
    with pytest.raises(ValueError, match=r"same shape \(batch, ...\), got \(4, 2\) and \(3, 2\)"):
        gradient_penalty(jax.random.key(0), critic, jnp.ones((4, 2)), jnp.ones((3, 2)))
    with pytest.raises(
        ValueError, match=r"critic_fn must return shape \(4,\) or \(4, 1\), got \(4, 2\)"
    ):
        r1_penalty(lambda x: x, jnp.ones((4, 2)))


# --- PacGAN packing ---------------------------------------------------------------------------
def test_pack_concatenates_consecutive_samples_along_channels():
    x = jax.random.normal(jax.random.key(8), (6, 4, 4, 3))
    packed = pack(x, 3)
    assert packed.shape == (2, 4, 4, 9)
    np.testing.assert_array_equal(packed[1], jnp.concatenate([x[3], x[4], x[5]], axis=-1))
    vectors = jnp.arange(12.0).reshape(6, 2)
    np.testing.assert_array_equal(
        pack(vectors, 2), jnp.concatenate([vectors[0::2], vectors[1::2]], axis=-1)
    )
    np.testing.assert_array_equal(pack(vectors, 1), vectors)
    with pytest.raises(ValueError, match="batch size 6 must be a multiple of m = 4"):
        pack(vectors, 4)
    with pytest.raises(ValueError, match="m must be a positive int"):
        pack(vectors, 0)
    with pytest.raises(ValueError, match=r"\(batch, ..., channels\)"):
        pack(jnp.arange(4.0), 2)
