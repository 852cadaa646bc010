"""VICReg's variance and covariance terms (gendiff.ssl.variance_covariance)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gendiff import ssl


def test_variance_loss_is_the_mean_hinge_on_the_unbiased_std():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 3)) * np.array([0.3, 0.9, 2.0])
    std = np.sqrt(z.var(axis=0, ddof=1) + 1e-4)
    expected = np.mean(np.maximum(0.0, 1.0 - std))
    assert float(ssl.variance_loss(jnp.asarray(z))) == pytest.approx(expected, rel=1e-5)
    # gamma moves the hinge: at gamma = 3 every dimension is below it.
    expected3 = np.mean(3.0 - std)
    assert float(ssl.variance_loss(jnp.asarray(z), gamma=3.0)) == pytest.approx(expected3, rel=1e-5)


def test_covariance_loss_is_the_off_diagonal_of_numpys_covariance():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(40, 5)) @ rng.normal(size=(5, 5))
    cov = np.cov(z, rowvar=False)
    expected = (np.sum(cov**2) - np.sum(np.diag(cov) ** 2)) / 5
    assert float(ssl.covariance_loss(jnp.asarray(z))) == pytest.approx(expected, rel=1e-4)
    # Scaling one dimension scales its covariances only: a diagonal covariance stays at 0.
    # Columns orthogonal to each other and to the constant vector: centred and uncorrelated.
    q = np.linalg.qr(np.concatenate([np.ones((40, 1)), rng.normal(size=(40, 5))], axis=1))[0]
    w = q[:, 1:] * np.sqrt(39)
    assert float(ssl.covariance_loss(jnp.asarray(w * np.array([1, 2, 3, 4, 5])))) < 1e-3


def test_minimising_both_terms_turns_a_collapsed_cloud_into_a_full_rank_one():
    # Gradient descent on the regulariser alone, from embeddings that lie near one line
    # (effective rank ~ 1), spreads them over every dimension (effective rank ~ E).
    e = 8
    key_a, key_b = jax.random.split(jax.random.key(0))
    line = jax.random.normal(key_a, (256, 1)) * jnp.ones((1, e))
    z = line + 0.01 * jax.random.normal(key_b, (256, e))
    before = float(ssl.effective_rank(z))

    def loss_fn(z):
        return ssl.variance_covariance_loss(z, variance_weight=25.0, covariance_weight=1.0)[0]

    step = jax.jit(lambda z: z - 0.03 * jax.grad(loss_fn)(z) * z.shape[0])
    for _ in range(300):
        z = step(z)
    after = float(ssl.effective_rank(z))
    assert before < 1.1
    assert after > 0.9 * e, (before, after)
    _, terms = ssl.variance_covariance_loss(z)
    assert float(terms["variance_loss"]) < 0.05 and float(terms["covariance_loss"]) < 0.05


def test_identical_embeddings_have_finite_gradients():
    g = jax.grad(lambda z: ssl.variance_covariance_loss(z)[0])(jnp.ones((6, 4)))
    assert bool(jnp.all(jnp.isfinite(g)))


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match=r"shape \(batch, dim\)"):
        ssl.variance_loss(jnp.zeros(5))
    with pytest.raises(ValueError, match="at least 2 embeddings"):
        ssl.covariance_loss(jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match="gamma must be a finite number > 0"):
        ssl.variance_loss(jnp.zeros((4, 3)), gamma=0.0)
    with pytest.raises(ValueError, match="covariance_weight must be >= 0"):
        ssl.variance_covariance_loss(jnp.zeros((4, 3)), covariance_weight=-1.0)


def test_scale_free_terms_are_the_plain_terms_of_the_rescaled_embeddings():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(64, 6)) @ rng.normal(size=(6, 6)) * 0.05
    r = np.sqrt(np.mean(z.var(axis=0, ddof=1)))
    loss, terms = ssl.variance_covariance_loss(
        jnp.asarray(z), variance_weight=2.0, covariance_weight=3.0, scale_free=True
    )
    assert float(terms["variance_loss"]) == pytest.approx(
        float(ssl.variance_loss(jnp.asarray(z / r))), rel=1e-5
    )
    assert float(terms["covariance_loss"]) == pytest.approx(
        float(ssl.covariance_loss(jnp.asarray(z / r))), rel=1e-4
    )
    assert float(loss) == pytest.approx(
        2 * float(terms["variance_loss"]) + 3 * float(terms["covariance_loss"]), rel=1e-6
    )
    # The same at any scale; the plain terms change with it.
    for scale in (1e-3, 1e3):
        scaled = ssl.variance_covariance_loss(jnp.asarray(scale * z), scale_free=True)[0]
        assert float(scaled) == pytest.approx(
            float(ssl.variance_covariance_loss(jnp.asarray(z), scale_free=True)[0]), rel=1e-3
        )
    plain = [float(ssl.variance_covariance_loss(jnp.asarray(s * z))[0]) for s in (1.0, 10.0)]
    assert plain[0] != pytest.approx(plain[1], rel=0.1)


def test_scale_free_terms_vanish_only_for_a_multiple_of_the_identity():
    # Centred, uncorrelated columns with equal variances: both terms are 0 at any scale.
    rng = np.random.default_rng(3)
    q = np.linalg.qr(np.concatenate([np.ones((40, 1)), rng.normal(size=(40, 4))], axis=1))[0]
    w = q[:, 1:] * np.sqrt(39)
    for scale in (0.01, 1.0, 50.0):
        loss, _ = ssl.variance_covariance_loss(jnp.asarray(scale * w), scale_free=True)
        assert float(loss) < 1e-3, scale
    # Uncorrelated but unequal variances: the variance term is positive at every scale, so the
    # loss prefers a flat spectrum (a higher effective rank) even when the cloud is tiny.
    unequal = w * np.array([1.0, 1.0, 1.0, 3.0])
    for scale in (0.01, 50.0):
        _, terms = ssl.variance_covariance_loss(jnp.asarray(scale * unequal), scale_free=True)
        assert float(terms["variance_loss"]) > 0.05 and float(terms["covariance_loss"]) < 1e-3


def test_against_a_competing_loss_only_the_scale_free_terms_raise_the_rank_of_a_tiny_cloud():
    # Embeddings pulled towards a rank-1 cloud of scale 0.05 (a stand-in for a predictive
    # loss) plus the covariance term with one weight: at that scale the plain term, which
    # falls with the fourth power of the scale, loses to the pull; the scale-free term wins.
    e = 8
    key_a, key_b = jax.random.split(jax.random.key(1))
    target = 0.05 * (
        jax.random.normal(key_a, (256, 1)) * jnp.ones((1, e))
        + 0.05 * jax.random.normal(key_b, (256, e))
    )

    def descend(scale_free):
        def loss_fn(z):
            pull = jnp.mean(jnp.sum((z - target) ** 2, axis=-1))
            reg = ssl.variance_covariance_loss(
                z, variance_weight=0.0, covariance_weight=0.1, scale_free=scale_free
            )[0]
            return pull + reg

        tx = optax.adam(1e-3)
        step = jax.jit(lambda z, s: _adam_step(tx, loss_fn, z, s))
        z, opt = target, tx.init(target)
        for _ in range(500):
            z, opt = step(z, opt)
        return float(ssl.effective_rank(z))

    before = float(ssl.effective_rank(target))
    free, plain = descend(True), descend(False)
    assert before < 1.1
    assert free > 0.5 * e and plain < 2.0, (before, free, plain)


def _adam_step(tx, loss_fn, z, opt):
    updates, opt = tx.update(jax.grad(loss_fn)(z), opt)
    return optax.apply_updates(z, updates), opt


def test_scale_free_terms_have_finite_gradients_at_identical_embeddings():
    g = jax.grad(lambda z: ssl.variance_covariance_loss(z, scale_free=True)[0])(jnp.ones((6, 4)))
    assert bool(jnp.all(jnp.isfinite(g)))
