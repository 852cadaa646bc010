"""VICReg's variance and covariance terms (gendiff.ssl.variance_covariance)."""

import jax
import jax.numpy as jnp
import numpy as np
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
