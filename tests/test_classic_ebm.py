"""Energy-based models: the score of an energy, the contrastive gradient, the grid KL against
the closed-form Gaussian KL, Langevin transitions (training through fit: test_experiment_ebm.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff import classic


def _quadratic(params, x):
    """E(x) = |x - mu|^2 / 2 + c: p = N(mu, I) whatever the constant c."""
    return 0.5 * jnp.sum(jnp.square(x - params["mu"]), -1) + params["c"]


def test_score_needs_no_normaliser():
    # CATALOG (c) 16 (F4:146-150): grad log p~ = grad log p; the constant c (log Z) drops out.
    x = jax.random.normal(jax.random.key(0), (5, 2))
    for c in (0.0, 7.0):
        s = classic.ebm_score(_quadratic, {"mu": jnp.array([1.0, -1.0]), "c": c})(x)
        np.testing.assert_allclose(s, -(x - jnp.array([1.0, -1.0])), rtol=1e-6)
    a = classic.grid_log_probs(_quadratic, {"mu": jnp.zeros(2), "c": 0.0}, (-4.0, 4.0), 16)
    b = classic.grid_log_probs(_quadratic, {"mu": jnp.zeros(2), "c": 7.0}, (-4.0, 4.0), 16)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_grid_kl_against_the_gaussian_closed_form():
    # KL(N(0, I) || N(mu, I)) = |mu|^2 / 2 = 0.5 for |mu| = 1 (CATALOG (c) 5, equal variances).
    x = jax.random.normal(jax.random.key(0), (40_000, 2))
    kl, inside = classic.grid_kl(
        x, _quadratic, {"mu": jnp.array([0.6, 0.8]), "c": 0.0}, (-6.0, 6.0), 48
    )
    same, _ = classic.grid_kl(x, _quadratic, {"mu": jnp.zeros(2), "c": 0.0}, (-6.0, 6.0), 48)
    # Histogram noise adds about (occupied cells) / (2 N) ~ 0.006. Measured 0.506 and 0.006.
    assert abs(float(kl) - 0.5) < 0.03
    assert float(same) < 0.02
    assert float(inside) == 1.0


def test_histogram_probs_counts_points_in_their_cells():
    p, inside = classic.histogram_probs(
        jnp.array([[-0.5, 0.5], [0.5, 0.5], [0.6, 0.9], [3.0, 0.0]]), (-1.0, 1.0), 2
    )
    np.testing.assert_allclose(p, [0.0, 1 / 3, 0.0, 2 / 3])  # cells (0,0), (0,1), (1,0), (1,1)
    assert float(inside) == 0.75
    np.testing.assert_allclose(classic.grid_points((-1.0, 1.0), 2)[1], [-0.5, 0.5])


def test_contrastive_gradient_is_data_minus_model_energy_gradients():
    params = {"mu": jnp.array([0.3, -0.2]), "c": 0.0}
    x, x_neg = jnp.ones((4, 2)), -jnp.ones((6, 2))
    g = jax.grad(lambda p: classic.ebm_contrastive_loss(_quadratic, p, x, x_neg)[0])(params)
    # dE/dmu = -(x - mu): mean over data minus mean over model samples
    expected = -(x - params["mu"]).mean(0) + (x_neg - params["mu"]).mean(0)
    np.testing.assert_allclose(g["mu"], expected, rtol=1e-6)


def test_langevin_transition_samples_the_energy_and_restarts_from_noise():
    params = {"mu": jnp.array([2.0, 0.0]), "c": 0.0}
    step = classic.langevin_transition(
        _quadratic, step_size=0.05, num_steps=300, reinit_prob=1.0, bounds=(-1.0, 1.0)
    )
    x = step(
        params, jnp.full((4000, 2), 100.0), jax.random.key(0)
    )  # restarted: far start forgotten
    np.testing.assert_allclose(x.mean(0), [2.0, 0.0], atol=0.08)
    # unadjusted Langevin at step a: variance 1 / (1 - a / 2) = 1.026
    np.testing.assert_allclose(x.var(0), [1.026, 1.026], atol=0.08)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: classic.langevin_transition(_quadratic, step_size=0.0, num_steps=1), "step_size"),
        (lambda: classic.langevin_transition(_quadratic, step_size=0.1, num_steps=0), "num_steps"),
        (
            lambda: classic.langevin_transition(
                _quadratic, step_size=0.1, num_steps=1, reinit_prob=2.0
            ),
            "reinit_prob",
        ),
        (
            lambda: classic.langevin_transition(
                _quadratic, step_size=0.1, num_steps=1, bounds=(1.0, 0.0)
            ),
            "bounds",
        ),
        (lambda: classic.histogram_probs(jnp.ones((3, 3)), (-1.0, 1.0), 4), r"\(num_points, 2\)"),
        (lambda: classic.grid_points((-1.0, 1.0), 0), "num_cells"),
        (
            lambda: classic.ebm_contrastive_loss(
                _quadratic, {"mu": 0.0, "c": 0.0}, jnp.ones((1, 2)), jnp.ones((1, 2)), alpha=-1.0
            ),
            "alpha",
        ),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
