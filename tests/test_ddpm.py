"""DDPM: posterior, loss, ancestral sampler and variational bound against closed forms."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff import ddpm
from gendiff.distributions import normal_kl
from gendiff.paths import DiscreteVPPath, VPPath
from gendiff.utils import right_broadcast

T = 1000
PATH = DiscreteVPPath.from_schedule("linear", T)
BETAS = np.asarray(PATH.betas, np.float64)
ALPHA_BAR = np.cumprod(1 - BETAS)


def _ho_tables(i):
    """Ho et al.'s tables at integer step i (1-based), in float64."""
    beta, alpha_bar = BETAS[i - 1], ALPHA_BAR[i - 1]
    alpha_bar_prev = np.where(i > 1, ALPHA_BAR[np.maximum(i - 2, 0)], 1.0)
    return beta, alpha_bar, alpha_bar_prev


def _gaussian_optimal_eps(path, data_std):
    """E[eps | x_t] when x_0 ~ N(0, data_std^2 I): sigma x_t / (alpha^2 s^2 + sigma^2)."""

    def model_fn(x, t):
        a, s = right_broadcast(path.alpha(t), x), right_broadcast(path.sigma(t), x)
        return s * x / (a**2 * data_std**2 + s**2)

    return model_fn


def test_posterior_x0_form_equals_eps_form_and_ho_tables():
    i = np.array([1, 2, 10, 500, 999, 1000])
    s, t = jnp.asarray((i - 1) / T, jnp.float32), jnp.asarray(i / T, jnp.float32)
    k1, k2 = jax.random.split(jax.random.key(0))
    x0 = jax.random.uniform(k1, (6, 4), minval=-1, maxval=1)
    eps = jax.random.normal(k2, (6, 4))
    x_t = PATH.marginal(x0, t, eps)
    mean, var = ddpm.posterior(PATH, x0, x_t, s, t)

    beta, alpha_bar, alpha_bar_prev = _ho_tables(i)
    x0_64, x_t64, eps64 = (np.asarray(a, np.float64) for a in (x0, x_t, eps))
    # Ho et al. eq. 7 (x_0 form) and eq. 11 (eps form), computed from the beta table.
    mean_x0_form = (np.sqrt(alpha_bar_prev) * beta / (1 - alpha_bar))[:, None] * x0_64 + (
        np.sqrt(1 - beta) * (1 - alpha_bar_prev) / (1 - alpha_bar)
    )[:, None] * x_t64
    mean_eps_form = (x_t64 - (beta / np.sqrt(1 - alpha_bar))[:, None] * eps64) / np.sqrt(1 - beta)[
        :, None
    ]
    np.testing.assert_allclose(mean_x0_form, mean_eps_form, atol=1e-10)
    np.testing.assert_allclose(mean, mean_x0_form, atol=3e-5)
    beta_tilde = (1 - alpha_bar_prev) / (1 - alpha_bar) * beta
    np.testing.assert_allclose(var, beta_tilde, rtol=2e-4, atol=1e-12)
    np.testing.assert_allclose(ddpm.transition_variance(PATH, s, t), beta, rtol=2e-4)


def test_posterior_precision_identity():
    # alpha_t / beta_t + 1 / (1 - alpha_bar_{t-1}) = 1 / beta-tilde_t  (F3:344), t >= 2.
    i = np.arange(2, T + 1)
    var = ddpm.posterior_variance(PATH, jnp.asarray((i - 1) / T), jnp.asarray(i / T))
    beta, _, alpha_bar_prev = _ho_tables(i)
    np.testing.assert_allclose(
        1 / np.asarray(var, np.float64), (1 - beta) / beta + 1 / (1 - alpha_bar_prev), rtol=3e-4
    )


def test_sampler_step_with_true_eps_gives_posterior_mean():
    i = jnp.array([2, 50, 700, 1000])
    s, t = (i - 1) / T, i / T
    k1, k2, k3 = jax.random.split(jax.random.key(1), 3)
    x0 = jax.random.uniform(k1, (4, 3), minval=-1, maxval=1)
    eps = jax.random.normal(k2, (4, 3))
    x_t = PATH.marginal(x0, t, eps)
    oracle = lambda x, tt: eps
    for prediction, clip in [("eps", False), ("eps", True)]:
        x_s = ddpm.ancestral_step(
            k3, oracle, PATH, x_t, s, t, prediction=prediction, clip_x0=clip, add_noise=False
        )
        np.testing.assert_allclose(x_s, ddpm.posterior_mean(PATH, x0, x_t, s, t), atol=2e-5)
    # With noise, the step's spread is sigma_t^2 = beta-tilde_t ('small') or beta_t ('large').
    x_big = jnp.repeat(x_t[3:4], 40_000, axis=0)
    s_big, t_big = jnp.full(40_000, s[3]), jnp.full(40_000, t[3])
    for variance in ("small", "large"):
        samples = ddpm.ancestral_step(
            k3,
            lambda x, tt: jnp.broadcast_to(eps[3], x.shape),
            PATH,
            x_big,
            s_big,
            t_big,
            variance=variance,
            clip_x0=False,
        )
        expected = ddpm.reverse_variance(PATH, s[3:4], t[3:4], variance)[0]
        np.testing.assert_allclose(samples.var(axis=0), expected, rtol=0.03)


def test_denoising_loss_of_the_optimal_denoiser_is_the_bayes_error():
    # x_0 ~ N(0, s^2 I): the MMSE of eps given x_t is a^2 s^2 / (a^2 s^2 + sigma^2), averaged over t.
    data_std = 0.5
    x0 = data_std * jax.random.normal(jax.random.key(3), (20_000, 2))
    loss, metrics = ddpm.denoising_loss(
        jax.random.key(4), _gaussian_optimal_eps(PATH, data_std), x0, PATH
    )
    t = jnp.arange(1, T + 1) / T
    a2s2 = PATH.alpha(t) ** 2 * data_std**2
    bayes = float(jnp.mean(a2s2 / (a2s2 + PATH.sigma(t) ** 2)))
    assert float(loss) == pytest.approx(bayes, rel=0.03)
    assert float(metrics["loss"]) == float(loss)
    # A zero model predicts nothing: its eps-loss is E||eps||^2 / D = 1.
    zero_loss, _ = ddpm.denoising_loss(jax.random.key(4), lambda x, t: jnp.zeros_like(x), x0, PATH)
    assert float(zero_loss) == pytest.approx(1.0, rel=0.03)


@pytest.mark.parametrize("prediction", ["x0", "v"])
def test_denoising_loss_targets(prediction):
    # A model that outputs its exact target (known here because it sees x0 and eps via closure).
    key = jax.random.key(5)
    x0 = jax.random.normal(jax.random.key(6), (64, 3))
    key_t, key_eps = jax.random.split(key)
    t = PATH.sample_t(key_t, 64)
    _, eps = PATH.sample_marginal(key_eps, x0, t)
    a, s = right_broadcast(PATH.alpha(t), x0), right_broadcast(PATH.sigma(t), x0)
    target = x0 if prediction == "x0" else a * eps - s * x0
    loss, _ = ddpm.denoising_loss(key, lambda x, tt: target, x0, PATH, prediction=prediction)
    assert float(loss) < 1e-10


def test_ancestral_sampler_recovers_gaussian_data():
    data_mean, data_std = 0.3, 0.5

    def model_fn(x, t):  # exact eps-prediction for x_0 ~ N(m, s^2).
        a, s = right_broadcast(PATH.alpha(t), x), right_broadcast(PATH.sigma(t), x)
        return s * (x - a * data_mean) / (a**2 * data_std**2 + s**2)

    samples = jax.jit(
        functools.partial(
            ddpm.ancestral_sample, model_fn=model_fn, path=PATH, shape=(4000, 2), clip_x0=False
        )
    )(jax.random.key(7))
    assert abs(float(samples.mean()) - data_mean) < 0.02
    assert abs(float(samples.std()) - data_std) < 0.02


def test_ancestral_sampler_jit_equals_no_jit_and_is_deterministic():
    path = DiscreteVPPath.from_schedule("cosine", 50)
    model_fn = _gaussian_optimal_eps(path, 0.7)
    sample = functools.partial(
        ddpm.ancestral_sample, model_fn=model_fn, path=path, shape=(8, 4, 4, 1)
    )
    eager = sample(jax.random.key(8))
    jitted = jax.jit(sample)(jax.random.key(8))
    np.testing.assert_allclose(eager, jitted, atol=1e-5)
    np.testing.assert_array_equal(jax.jit(sample)(jax.random.key(8)), jitted)
    assert not np.allclose(jax.jit(sample)(jax.random.key(9)), jitted)


def test_ancestral_sampler_on_a_continuous_path_needs_num_steps():
    model_fn = _gaussian_optimal_eps(VPPath(), 0.5)
    with pytest.raises(ValueError, match="num_steps"):
        ddpm.ancestral_sample(jax.random.key(0), model_fn, VPPath(), (4, 2))
    x = ddpm.ancestral_sample(
        jax.random.key(0), model_fn, VPPath(), (2000, 2), num_steps=200, clip_x0=False
    )
    assert abs(float(x.std()) - 0.5) < 0.03


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="small"):
        ddpm.ancestral_sample(jax.random.key(0), lambda x, t: x, PATH, (2, 2), variance="medium")
    with pytest.raises(ValueError, match="eps"):
        ddpm.denoising_loss(
            jax.random.key(0), lambda x, t: x, jnp.ones((2, 2)), PATH, prediction="noise"
        )
    with pytest.raises(TypeError, match="DiscreteVPPath"):
        ddpm.variational_bound(
            jax.random.key(0), lambda x, t: x, VPPath(), jnp.ones((2, 2)), num_levels=256
        )


def test_variational_bound_of_an_oracle_on_a_point_mass():
    # Data = a single point c on the grid and a model predicting x_0 = c exactly: with the 'small'
    # variance every L_{t-1} vanishes, L_T and L_0 have closed forms.
    path = DiscreteVPPath.from_schedule("linear", 100)
    levels = 17
    c = jnp.array([[-1.0, 0.0, 0.5, 1.0]])
    oracle = lambda x, t: jnp.broadcast_to(c, x.shape)
    bound = ddpm.variational_bound(
        jax.random.key(0), oracle, path, c, num_levels=levels, prediction="x0"
    )
    assert float(bound["diffusion"][0]) == pytest.approx(0.0, abs=1e-3)

    alpha_bar_T = float(np.prod(1 - np.asarray(path.betas, np.float64)))
    prior = normal_kl(np.sqrt(alpha_bar_T) * c, np.log(1 - alpha_bar_T), 0.0, 0.0).sum()
    assert float(bound["prior"][0]) == pytest.approx(float(prior), rel=1e-3)

    from scipy.stats import norm

    b = np.asarray(path.betas, np.float64)
    scale = np.sqrt((1 - (1 - b[0])) / (1 - (1 - b[0]) * (1 - b[1])) * b[1])  # sqrt(beta-tilde_2)
    half_bin = 1 / (levels - 1)
    interior = norm.cdf(half_bin / scale) - norm.cdf(-half_bin / scale)
    edge = norm.cdf(half_bin / scale)  # the end bins extend to infinity
    decoder = -(2 * np.log(edge) + 2 * np.log(interior))
    assert float(bound["decoder"][0]) == pytest.approx(decoder, rel=1e-4, abs=1e-6)
    total = float(prior) + decoder + float(bound["diffusion"][0])
    assert float(bound["bpd"][0]) == pytest.approx(total / (4 * np.log(2)), rel=1e-3)


def test_variational_bound_penalises_a_wrong_model():
    path = DiscreteVPPath.from_schedule("linear", 100)
    c = jnp.full((1, 4), 0.5)
    good = ddpm.variational_bound(
        jax.random.key(0),
        lambda x, t: jnp.broadcast_to(c, x.shape),
        path,
        c,
        num_levels=17,
        prediction="x0",
    )
    bad = ddpm.variational_bound(
        jax.random.key(0),
        lambda x, t: -jnp.broadcast_to(c, x.shape),
        path,
        c,
        num_levels=17,
        prediction="x0",
    )
    assert float(bad["diffusion"][0]) > 10.0 and float(bad["bpd"][0]) > float(good["bpd"][0]) + 1.0


@pytest.mark.parametrize("path", [VPPath(), DiscreteVPPath.from_schedule("cosine", 100)])
@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_min_snr_loss_is_capped_snr_times_x0_error(path, prediction):
    """Hang et al.'s objective, computed a second way: recover x0_hat from the model's output
    with gendiff.parameterization.to_x0_eps and weight its squared error by min(SNR, gamma)."""
    from gendiff.parameterization import to_x0_eps

    gamma, key = 5.0, jax.random.key(3)
    x0 = jax.random.normal(jax.random.key(0), (512, 3))

    def model_fn(x, t):  # a wrong model: its error differs per prediction and per time
        return 0.3 * x + jnp.sin(3 * t)[:, None]

    loss, _ = ddpm.denoising_loss(
        key, model_fn, x0, path, prediction=prediction, weighting="min_snr", snr_gamma=gamma
    )
    # The same draws of t and eps as inside the loss.
    key_t, key_eps = jax.random.split(key)
    t = path.sample_t(key_t, x0.shape[0])
    x_t, _ = path.sample_marginal(key_eps, x0, t)
    x0_hat, _ = to_x0_eps(path, model_fn(x_t, t), x_t, t, prediction)
    snr = jnp.exp(path.log_snr(t))
    expected = jnp.mean(jnp.minimum(snr, gamma) * jnp.mean((x0_hat - x0) ** 2, axis=-1))
    np.testing.assert_allclose(float(loss), float(expected), rtol=2e-4)
    # Uniform weighting is a different number here (the test can tell them apart).
    uniform, _ = ddpm.denoising_loss(key, model_fn, x0, path, prediction=prediction)
    assert abs(float(uniform) - float(expected)) > 0.05 * float(expected)


def test_min_snr_bad_options():
    x0 = jnp.zeros((4, 2))
    with pytest.raises(ValueError, match="Unknown weighting 'snr'"):
        ddpm.denoising_loss(jax.random.key(0), lambda x, t: x, x0, VPPath(), weighting="snr")
    with pytest.raises(ValueError, match="predictions 'eps', 'x0' and 'v'"):
        ddpm.min_snr_weight(VPPath(), jnp.ones(2) * 0.5, "score", 5.0)
    with pytest.raises(ValueError, match="snr_gamma must be > 0"):
        ddpm.min_snr_weight(VPPath(), jnp.ones(2) * 0.5, "eps", 0.0)
