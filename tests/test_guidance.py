"""Guidance and the diffusion classifier against a 2-class Gaussian mixture with closed forms.

Data: x_0 | y=k ~ N(mu_k, s^2 I) in 2-D with class weights pi. On a VP path
x_t | y=k ~ N(alpha mu_k, v I) with v = alpha^2 s^2 + sigma^2, so the exact conditional eps is
eps_k(x, t) = sigma (x - alpha mu_k) / v, the unconditional eps is sum_k p_t(k | x) eps_k, and
the noisy posterior is p_t(k | x) = softmax_k(log pi_k + log N(x; alpha mu_k, v I)).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff import guidance, nets
from gendiff.ddpm import denoising_loss
from gendiff.parameterization import PREDICTIONS, convert
from gendiff.paths import DiscreteVPPath, VPPath

PATH = VPPath()
MEANS = jnp.array([[-1.0, 0.5], [1.0, -0.5]])
STD = 0.6
WEIGHTS = jnp.array([0.3, 0.7])
NULL = 2  # the null label of this 2-class problem


def _variance(t):
    return PATH.alpha(t) ** 2 * STD**2 + PATH.sigma(t) ** 2  # (batch,)


def _component_log_probs(x, t):
    """log N(x; alpha_t mu_k, v_t I) for k = 0, 1: shape (batch, 2)."""
    v = _variance(t)[:, None]
    sq = jnp.sum((x[:, None, :] - PATH.alpha(t)[:, None, None] * MEANS) ** 2, axis=-1)
    return -0.5 * sq / v - jnp.log(2 * jnp.pi * v)


def _log_posterior(x, t, weights=WEIGHTS):
    return jax.nn.log_softmax(jnp.log(weights) + _component_log_probs(x, t))


def _eps_given_class(x, t, k):
    """Exact eps of class k (an int or a (batch,) array): sigma (x - alpha mu_k) / v."""
    mean = PATH.alpha(t)[:, None] * MEANS[k]
    return PATH.sigma(t)[:, None] * (x - mean) / _variance(t)[:, None]


def _eps_unconditional(x, t):
    posterior = jnp.exp(_log_posterior(x, t))  # (batch, 2)
    return sum(posterior[:, k : k + 1] * _eps_given_class(x, t, k) for k in range(2))


def _cfg_model(x, t, y):
    """The ideal label-dropout network: class y, or the unconditional eps for y = NULL."""
    conditional = _eps_given_class(x, t, jnp.minimum(y, 1))
    return jnp.where((y == NULL)[:, None], _eps_unconditional(x, t), conditional)


def _classifier_log_prob(x, t, y):
    return jnp.take_along_axis(_log_posterior(x, t), y[:, None], axis=1)[:, 0]


def _points(n=64, seed=0):
    kx, kt, ky = jax.random.split(jax.random.key(seed), 3)
    x = 1.5 * jax.random.normal(kx, (n, 2))
    t = jax.random.uniform(kt, (n,), minval=0.02, maxval=0.98)
    y = jax.random.bernoulli(ky, 0.5, (n,)).astype(jnp.int32)
    return x, t, y


def _sample_mixture(key, n, weights=WEIGHTS):
    ky, kx = jax.random.split(key)
    y = jax.random.categorical(ky, jnp.log(weights), shape=(n,))
    return MEANS[y] + STD * jax.random.normal(kx, (n, 2)), y


# ----------------------------------------------------------------------------- classifier-free


def test_cfg_with_zero_scale_is_the_conditional_model_and_makes_one_call_of_twice_the_batch():
    x, t, y = _points()
    batches = []

    def model(x, t, y):
        batches.append(x.shape[0])
        return _cfg_model(x, t, y)

    out = guidance.classifier_free_guidance(model, 0.0, NULL)(x, t, y=y)
    np.testing.assert_allclose(out, _eps_given_class(x, t, y), rtol=1e-6, atol=1e-6)
    assert batches == [2 * len(x)]


@pytest.mark.parametrize("w", [0.5, 3.0])
def test_cfg_equals_the_mixture_of_the_exact_conditional_and_unconditional_eps(w):
    x, t, y = _points()
    guided = jax.jit(guidance.classifier_free_guidance(_cfg_model, w, NULL))
    expected = (1 + w) * _eps_given_class(x, t, y) - w * _eps_unconditional(x, t)
    np.testing.assert_allclose(guided(x, t, y=y), expected, rtol=1e-5, atol=1e-5)
    # The null label guides towards nothing: the unconditional model for every w.
    null = jnp.full_like(y, NULL)
    np.testing.assert_allclose(guided(x, t, y=null), _eps_unconditional(x, t), atol=1e-5)


@pytest.mark.parametrize("prediction", [p for p in PREDICTIONS if p != "eps"])
def test_cfg_is_the_same_guidance_for_every_prediction_type(prediction):
    x, t, y = _points()
    w = 2.0
    as_prediction = lambda x, t, y: convert(PATH, _cfg_model(x, t, y), x, t, "eps", prediction)
    guided = guidance.classifier_free_guidance(as_prediction, w, NULL)(x, t, y=y)
    reference = guidance.classifier_free_guidance(_cfg_model, w, NULL)(x, t, y=y)
    np.testing.assert_allclose(
        convert(PATH, guided, x, t, prediction, "eps"), reference, rtol=1e-4, atol=1e-4
    )


def test_cfg_passes_other_conditioning_for_both_halves():
    x, t, y = _points(n=8)
    shift = jnp.arange(8.0)
    model = lambda x, t, y, shift: _cfg_model(x, t, y) + shift[:, None]
    out = guidance.classifier_free_guidance(model, 1.5, NULL)(x, t, y=y, shift=shift)
    expected = guidance.classifier_free_guidance(_cfg_model, 1.5, NULL)(x, t, y=y)
    np.testing.assert_allclose(out, expected + shift[:, None], rtol=1e-5, atol=1e-5)


def test_drop_labels_replaces_a_fraction_p_and_keeps_the_rest():
    labels = jnp.arange(200_000, dtype=jnp.int32) % 10
    dropped = guidance.drop_labels(jax.random.key(1), labels, 0.1, null_label=10)
    is_null = np.asarray(dropped == 10)
    assert abs(is_null.mean() - 0.1) < 0.004  # 6 standard deviations
    np.testing.assert_array_equal(np.asarray(dropped)[~is_null], np.asarray(labels)[~is_null])
    assert dropped.dtype == labels.dtype
    np.testing.assert_array_equal(guidance.drop_labels(jax.random.key(1), labels, 0.0, 10), labels)
    # Traced p under jit gives the same draw.
    jitted = jax.jit(guidance.drop_labels, static_argnums=3)(jax.random.key(1), labels, 0.1, 10)
    np.testing.assert_array_equal(jitted, dropped)


def test_label_dropout_loss_drops_labels_at_rate_p_and_is_the_ddpm_loss():
    path = DiscreteVPPath.from_schedule("linear", 50)
    x0 = jax.random.normal(jax.random.key(0), (4000, 2))
    labels = jnp.arange(4000, dtype=jnp.int32) % 10
    seen = []

    def model_fn(x, t, y):
        seen.append(y)
        return jnp.zeros_like(x) + y[:, None] / 10.0

    kwargs = dict(prediction="eps", null_label=10)
    loss, _ = guidance.label_dropout_denoising_loss(
        jax.random.key(1), model_fn, x0, labels, path, label_dropout=0.25, **kwargs
    )
    assert abs(float(jnp.mean(seen[-1] == 10)) - 0.25) < 0.04
    # Same key, p = 0: exactly DDPM's loss of the conditional model on the true labels.
    kept, _ = guidance.label_dropout_denoising_loss(
        jax.random.key(1), model_fn, x0, labels, path, label_dropout=0.0, **kwargs
    )
    key_loss = jax.random.split(jax.random.key(1))[1]
    reference, _ = denoising_loss(
        key_loss, lambda x, t: model_fn(x, t, labels), x0, path, prediction="eps"
    )
    np.testing.assert_allclose(kept, reference, rtol=1e-6)
    assert not np.isclose(loss, kept)


# ----------------------------------------------------------------------------- classifier guidance


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_classifier_guidance_at_scale_one_turns_the_unconditional_into_the_conditional_eps(
    prediction,
):
    x, t, y = _points()
    model = lambda x, t: convert(PATH, _eps_unconditional(x, t), x, t, "eps", prediction)
    guided = guidance.classifier_guidance(model, _classifier_log_prob, PATH, 1.0, prediction)
    out = jax.jit(guided)(x, t, y=y)
    eps = convert(PATH, out, x, t, prediction, "eps")
    np.testing.assert_allclose(eps, _eps_given_class(x, t, y), rtol=2e-4, atol=2e-4)


def test_classifier_guidance_at_scale_one_plus_w_equals_classifier_free_guidance_at_w():
    # Exact models: eps_u - (1 + w) sigma grad log p(y|x) = (1 + w) eps_y - w eps_u.
    x, t, y = _points()
    for w in (0.0, 1.0, 4.0):
        classifier = guidance.classifier_guidance(
            _eps_unconditional, _classifier_log_prob, PATH, 1.0 + w
        )(x, t, y=y)
        free = guidance.classifier_free_guidance(_cfg_model, w, NULL)(x, t, y=y)
        np.testing.assert_allclose(classifier, free, rtol=1e-4, atol=1e-4)


def test_classifier_guidance_of_a_conditional_model_passes_the_labels():
    x, t, y = _points()
    model = lambda x, t, y: _cfg_model(x, t, y)
    unguided = guidance.classifier_guidance(
        model, _classifier_log_prob, PATH, 0.0, conditional_model=True
    )
    np.testing.assert_allclose(unguided(x, t, y=y), _eps_given_class(x, t, y), atol=1e-6)


def test_noisy_classifier_loss_is_lowest_at_the_exact_noisy_posterior():
    x0, labels = _sample_mixture(jax.random.key(2), 8192)
    key = jax.random.key(3)  # the same (t, x_t) for every candidate
    loss = lambda logits_fn: float(
        guidance.noisy_classifier_loss(key, logits_fn, x0, labels, PATH)[0]
    )
    exact = loss(_log_posterior)
    assert exact < loss(lambda x, t: 2.0 * _log_posterior(x, t))
    assert exact < loss(lambda x, t: 0.5 * _log_posterior(x, t))
    assert exact < loss(lambda x, t: _log_posterior(x, t, weights=jnp.array([0.5, 0.5])))
    # A classifier that ignores t (the clean-data posterior) is worse on noisy inputs.
    assert exact < loss(lambda x, t: _log_posterior(x, jnp.zeros_like(t))) - 0.05
    # A constant prior-only classifier scores exactly the entropy of the labels' empirical mix.
    _, metrics = guidance.noisy_classifier_loss(
        key, lambda x, t: jnp.zeros((len(x), 2)), x0, labels, PATH
    )
    np.testing.assert_allclose(metrics["loss"], np.log(2.0), rtol=1e-6)
    assert 0.0 <= float(metrics["accuracy"]) <= 1.0


# ----------------------------------------------------------------------------- diffusion classifier


def test_diffusion_classifier_on_the_exact_eps_makes_the_bayes_decisions():
    equal = jnp.array([0.5, 0.5])  # the diffusion classifier assumes a uniform class prior
    x0, _ = _sample_mixture(jax.random.key(4), 400, equal)
    bayes = np.argmax(_component_log_probs(x0, jnp.zeros(len(x0))), axis=1)
    model = lambda x, t, y: _eps_given_class(x, t, y)
    logits = jax.jit(
        functools.partial(guidance.diffusion_classifier_logits, num_samples=256),
        static_argnums=(1, 2, 4),
    )(jax.random.key(5), model, PATH, x0, 2)
    assert logits.shape == (400, 2)
    agreement = np.mean(np.argmax(logits, axis=1) == bayes)
    assert agreement >= 0.95, agreement
    # Li et al.'s denoising error is ~ sum over dims of E||eps||^2 = 2 at a wrong class, less at
    # the right one; here it must at least be of that order.
    assert np.all(-2 * np.asarray(logits) > 0) and np.all(-2 * np.asarray(logits) < 20)


def test_diffusion_classifier_shares_the_draws_across_classes_and_predictions():
    x0, _ = _sample_mixture(jax.random.key(6), 16)
    key = jax.random.key(7)
    # A model that ignores the label: identical scores only if all classes see the same draws.
    blind = lambda x, t, y: _eps_unconditional(x, t)
    logits = guidance.diffusion_classifier_logits(key, blind, PATH, x0, 2, num_samples=8)
    np.testing.assert_array_equal(logits[:, 0], logits[:, 1])
    # The same model written as an x0-predictor gives the same logits.
    eps_model = lambda x, t, y: _eps_given_class(x, t, y)
    x0_model = lambda x, t, y: convert(PATH, eps_model(x, t, y), x, t, "eps", "x0")
    a = guidance.diffusion_classifier_logits(key, eps_model, PATH, x0, 2, num_samples=8)
    b = guidance.diffusion_classifier_logits(
        key, x0_model, PATH, x0, 2, num_samples=8, prediction="x0"
    )
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)


# ----------------------------------------------------------------------------- the network


def test_noisy_image_classifier_shapes_and_time_conditioning():
    net = nets.NoisyImageClassifier(num_classes=3, channels=(8, 16), feature_dim=32, time_dim=16)
    x = jax.random.normal(jax.random.key(0), (2, 8, 8, 1))
    params = net.init(jax.random.key(1), x, jnp.zeros(2))
    early, late = net.apply(params, x, jnp.full(2, 0.1)), net.apply(params, x, jnp.full(2, 0.9))
    assert early.shape == (2, 3)
    assert not np.allclose(early, late)  # the logits depend on t
    with pytest.raises(ValueError, match=r"t must have shape \(batch,\) = \(2,\)"):
        net.apply(params, x, jnp.zeros(3))


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("scale", [-0.5, float("nan"), float("inf")])
def test_bad_guidance_scales_are_rejected(scale):
    with pytest.raises(ValueError, match="guidance_scale must be a finite scalar >= 0"):
        guidance.classifier_free_guidance(_cfg_model, scale, NULL)
    with pytest.raises(ValueError, match="guidance_scale must be a finite scalar >= 0"):
        guidance.classifier_guidance(_eps_unconditional, _classifier_log_prob, PATH, scale)


def test_bad_inputs_are_rejected_with_the_expected_values():
    x, t, y = _points(n=4)
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\)"):
        guidance.drop_labels(jax.random.key(0), y, 1.0, NULL)
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\)"):
        guidance.drop_labels(jax.random.key(0), y, -0.1, NULL)
    with pytest.raises(ValueError, match=r"labels y must lie in \[0, 2\] \(2 = null label\)"):
        guidance.drop_labels(jax.random.key(0), jnp.array([0, 3]), 0.1, NULL)
    cfg = guidance.classifier_free_guidance(_cfg_model, 1.0, NULL)
    with pytest.raises(ValueError, match=r"labels y must lie in \[0, 2\]"):
        cfg(x, t, y=jnp.array([0, 1, 2, 5]))
    with pytest.raises(ValueError, match=r"labels y must have shape \(batch,\) = \(4,\)"):
        cfg(x, t, y=jnp.array([0, 1]))
    with pytest.raises(ValueError, match=r"t must have a leading batch axis of size 4"):
        cfg(x, t[:3], y=y)
    with pytest.raises(ValueError, match=r"labels y must lie in \[0, 1\], got values in \[0, 2\]"):
        guidance.noisy_classifier_loss(jax.random.key(0), _log_posterior, x, y.at[0].set(2), PATH)
    bad_log_prob = lambda x, t, y: _log_posterior(x, t)  # (batch, 2), not (batch,)
    with pytest.raises(ValueError, match=r"log_prob_fn must return shape \(batch,\) = \(4,\)"):
        guidance.classifier_guidance(_eps_unconditional, bad_log_prob, PATH, 1.0)(x, t, y=y)
    with pytest.raises(ValueError, match="Unknown prediction type 'noise'"):
        guidance.classifier_guidance(_eps_unconditional, _classifier_log_prob, PATH, 1.0, "noise")
    with pytest.raises(ValueError, match="num_samples must be a positive Python int"):
        guidance.diffusion_classifier_logits(
            jax.random.key(0), _cfg_model, PATH, x, 2, num_samples=0
        )
