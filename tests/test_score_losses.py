"""Score-matching losses against closed forms on Gaussian data.

For x ~ N(mu, Sigma) and the linear model s(x) = -P (x - m):
  J_ESM = 1/2 [tr((Sigma^-1 - P) Sigma (Sigma^-1 - P)^T) + ||P (m - mu)||^2]
  J_ISM = 1/2 [tr(P Sigma P^T) + ||P (mu - m)||^2] - tr P = J_ESM - 1/2 tr(Sigma^-1),
the last because 1/2 E||grad log p||^2 = 1/2 E[(x - mu)^T Sigma^-2 (x - mu)] = 1/2 tr(Sigma^-1).
Monte Carlo estimates are compared with these within 4 standard errors.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import GAUSS_D as D
from conftest import GAUSS_M as M
from conftest import GAUSS_MU as MU
from conftest import GAUSS_P as P
from conftest import GAUSS_SIGMA as SIGMA
from conftest import GAUSS_SIGMA_INV as SIGMA_INV
from conftest import assert_within_standard_errors as _assert_close
from conftest import gaussian_monte_carlo as _monte_carlo
from conftest import linear_score as _linear_score

from gendiff import score
from gendiff.paths import VPPath

J_ESM = 0.5 * (np.trace((SIGMA_INV - P) @ SIGMA @ (SIGMA_INV - P).T) + np.sum((P @ (M - MU)) ** 2))
J_ISM = 0.5 * (np.trace(P @ SIGMA @ P.T) + np.sum((P @ (MU - M)) ** 2)) - np.trace(P)


def test_closed_forms_differ_by_half_trace_of_precision():
    np.testing.assert_allclose(J_ESM - J_ISM, 0.5 * np.trace(SIGMA_INV), rtol=1e-12)


def test_explicit_score_matching_matches_closed_form():
    model, truth = _linear_score(P, M), _linear_score(SIGMA_INV, MU)
    estimate = _monte_carlo(lambda k, x: score.explicit_score_matching(k, model, x, truth)[0])
    _assert_close(estimate, J_ESM)
    # At the true score the loss is exactly zero.
    x = jnp.ones((4, D))
    assert float(score.explicit_score_matching(None, truth, x, truth)[0]) == 0.0


LOSSES = {
    "ism_exact": lambda k, f, x: score.implicit_score_matching(k, f, x),
    "ism_hutchinson_rademacher": lambda k, f, x: score.implicit_score_matching(
        k, f, x, trace="hutchinson", num_probes=2
    ),
    "ism_hutchinson_gaussian": lambda k, f, x: score.implicit_score_matching(
        k, f, x, trace="hutchinson", probe="gaussian"
    ),
    "ssm_gaussian": lambda k, f, x: score.sliced_score_matching(k, f, x),
    "ssm_sphere": lambda k, f, x: score.sliced_score_matching(k, f, x, probe="sphere"),
    "ssm_rademacher": lambda k, f, x: score.sliced_score_matching(
        k, f, x, probe="rademacher", num_probes=3
    ),
    "ssm_vr": lambda k, f, x: score.sliced_score_matching(k, f, x, variance_reduced=True),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_implicit_and_sliced_equal_explicit_minus_constant(name):
    model = _linear_score(P, M)
    estimate = _monte_carlo(lambda k, x: LOSSES[name](k, model, x)[0])
    assert estimate[1] < 0.02
    _assert_close(estimate, J_ESM - 0.5 * np.trace(SIGMA_INV))


def test_explicit_minus_implicit_on_same_samples_is_half_trace_of_precision():
    model, truth = _linear_score(P, M), _linear_score(SIGMA_INV, MU)

    def difference(key, x):
        esm = score.explicit_score_matching(key, model, x, truth)[0]
        return esm - score.implicit_score_matching(key, model, x)[0]

    _assert_close(_monte_carlo(difference), 0.5 * np.trace(SIGMA_INV))


def test_variance_reduced_sliced_equals_hutchinson_implicit_for_the_same_probes():
    score_fn, x, key = _mlp_score(jax.random.key(0)), jnp.ones((5, D)), jax.random.key(1)
    for probe in ("gaussian", "rademacher"):
        ssm_vr = score.sliced_score_matching(
            key, score_fn, x, num_probes=3, probe=probe, variance_reduced=True
        )[0]
        ism = score.implicit_score_matching(
            key, score_fn, x, trace="hutchinson", num_probes=3, probe=probe
        )[0]
        np.testing.assert_allclose(ssm_vr, ism, rtol=1e-6)


def _mlp_score(key, dim=D, hidden=16):
    k1, k2, k3 = jax.random.split(key, 3)
    w1 = jax.random.normal(k1, (dim, hidden)) / np.sqrt(dim)
    b1 = jax.random.normal(k2, (hidden,))
    w2 = jax.random.normal(k3, (hidden, dim)) / np.sqrt(hidden)
    return lambda x: jnp.tanh(x @ w1 + b1) @ w2 - 0.5 * x


def test_exact_divergence_equals_trace_of_per_example_jacobian():
    score_fn = _mlp_score(jax.random.key(1))
    x = jax.random.normal(jax.random.key(2), (7, D))
    s, div = score.exact_divergence(score_fn, x)
    jac = jax.vmap(jax.jacfwd(lambda xi: score_fn(xi[None])[0]))(x)
    np.testing.assert_allclose(div, jnp.trace(jac, axis1=1, axis2=2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s, score_fn(x), rtol=1e-6)


@pytest.mark.parametrize("probe", ["rademacher", "gaussian", "sphere"])
def test_hutchinson_implicit_equals_exact_implicit_in_expectation(probe):
    score_fn = _mlp_score(jax.random.key(3))
    x = jax.random.normal(jax.random.key(4), (16, D))
    exact = score.implicit_score_matching(None, score_fn, x)[0]

    def hutchinson(key):
        return score.implicit_score_matching(key, score_fn, x, trace="hutchinson", probe=probe)[0]

    values = np.asarray(jax.vmap(hutchinson)(jax.random.split(jax.random.key(5), 4000)))
    se = values.std(ddof=1) / np.sqrt(values.size)
    assert se > 0  # the estimate is random ...
    assert abs(values.mean() - float(exact)) < 4 * se  # ... and unbiased


def test_sphere_probes_lie_on_sphere_of_radius_sqrt_dim_and_have_identity_second_moment():
    v = score.sample_probes(jax.random.key(0), (200_000, 5), "sphere")
    np.testing.assert_allclose(jnp.linalg.norm(v, axis=-1), np.sqrt(5), rtol=1e-5)
    np.testing.assert_allclose(v.T @ v / v.shape[0], np.eye(5), atol=0.02)


def test_losses_flatten_image_shaped_data():
    x = jax.random.normal(jax.random.key(0), (8, 2, 2, 1))
    loss, metrics = score.implicit_score_matching(None, lambda x: -2.0 * x, x)
    # 1/2 ||-2x||^2 + tr(-2 I_4) per example.
    np.testing.assert_allclose(loss, jnp.mean(2.0 * jnp.sum(x**2, axis=(1, 2, 3))) - 8.0, rtol=1e-5)
    np.testing.assert_allclose(metrics["trace_term"], -8.0, rtol=1e-6)


def test_bad_inputs_raise():
    key, x = jax.random.key(0), jnp.ones((4, D))
    f = lambda x: -x
    with pytest.raises(ValueError, match="sigma must be positive"):
        score.denoising_score_matching(key, f, x, 0.0)
    with pytest.raises(ValueError, match="strictly decreasing"):
        score.ncsn_loss(key, lambda x, s: -x, x, jnp.array([0.1, 1.0]))
    with pytest.raises(ValueError, match="sigmas must be positive"):
        score.ncsn_loss(key, lambda x, s: -x, x, jnp.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="Unknown probe type 'uniform'"):
        score.sliced_score_matching(key, f, x, probe="uniform")
    with pytest.raises(ValueError, match="Unknown probe type"):
        score.implicit_score_matching(key, f, x, trace="hutchinson", probe="normal")
    with pytest.raises(ValueError, match="Unknown trace"):
        score.implicit_score_matching(key, f, x, trace="approx")
    with pytest.raises(ValueError, match="num_probes"):
        score.sliced_score_matching(key, f, x, num_probes=0)
    with pytest.raises(ValueError, match="Unknown weighting"):
        score.score_sde_loss(key, lambda x, t: -x, x, VPPath(), weighting="uniform")
    with pytest.raises(ValueError, match="must return the shape of x"):
        score.implicit_score_matching(key, lambda x: x[:, :2], x)
    with pytest.raises(ValueError, match="must return the shape of x"):
        score.explicit_score_matching(key, f, x, lambda x: x.sum(-1))
    with pytest.raises(ValueError, match="must return the shape of x"):
        score.denoising_score_matching(key, lambda x: x[:, 0], x, 0.1)
    with pytest.raises(ValueError, match=r"\(batch, dim"):
        score.sliced_score_matching(key, f, jnp.ones(4))
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        score.geometric_sigmas(0.1, 1.0, 5)
    with pytest.raises(ValueError, match="num_levels"):
        score.geometric_sigmas(1.0, 0.1, 1)


def test_geometric_sigmas_have_constant_ratio_and_endpoints():
    sigmas = np.asarray(score.geometric_sigmas(50.0, 0.01, 10), np.float64)
    np.testing.assert_allclose(sigmas[[0, -1]], [50.0, 0.01], rtol=1e-6)
    np.testing.assert_allclose(sigmas[1:] / sigmas[:-1], (0.01 / 50.0) ** (1 / 9), rtol=1e-5)


def test_losses_are_jittable_and_differentiable():
    x = jax.random.normal(jax.random.key(0), (32, D))

    def loss(p, key):
        f = lambda x: -x @ p.T
        return (
            score.sliced_score_matching(key, f, x)[0] + score.implicit_score_matching(key, f, x)[0]
        )

    grad = jax.jit(jax.grad(loss))(jnp.eye(D), jax.random.key(1))
    assert grad.shape == (D, D) and bool(jnp.all(jnp.isfinite(grad)))


def test_noise_levels_may_be_traced_under_jit():
    x, key = jax.random.normal(jax.random.key(0), (32, D)), jax.random.key(1)
    sigmas = score.geometric_sigmas(1.0, 0.1, 4)
    loss = lambda key, sigmas: score.ncsn_loss(key, lambda x, s: -x, x, sigmas)[0]
    np.testing.assert_allclose(jax.jit(loss)(key, sigmas), loss(key, sigmas), rtol=1e-6)
