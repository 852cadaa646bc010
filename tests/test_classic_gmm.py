"""Gaussian mixtures and EM against scikit-learn, sample weights, the gradient M-step, restarts by
vmap, degenerate clusters, bad input, and the bad-local-maximum values of F3:229 and F3:247.

Comparisons with scikit-learn run in float64 (``jax.enable_x64``) at 1e-5 or tighter."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from gendiff import classic
from gendiff.classic import em as em_lib
from gendiff.classic import gmm as gmm_lib

TYPES = classic.COVARIANCE_TYPES


def _data(n=240, d=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [3.0, 1.0, -1.0], [-2.0, 4.0, 1.0]])[:, :d]
    z = rng.integers(0, 3, n)
    x = centres[z] + rng.normal(size=(n, d)) @ np.diag([1.0, 0.7, 1.3][:d])
    return x


def _initial(x, k, covariance_type, seed=1):
    rng = np.random.default_rng(seed)
    d = x.shape[1]
    weights = np.full(k, 1.0 / k)
    means = x[rng.choice(len(x), k, replace=False)] + 0.1
    prec = {
        "full": np.stack([np.eye(d) * (0.5 + 0.2 * j) + 0.1 for j in range(k)]),
        "tied": np.eye(d) * 0.8 + 0.1,
        "diag": np.stack([np.full(d, 0.5 + 0.2 * j) for j in range(k)]),
        "spherical": 0.5 + 0.2 * np.arange(k),
    }[covariance_type]
    return weights, means, prec


def _sklearn(x, init, covariance_type, iters, reg_covar=1e-6):
    w, m, p = init
    gm = GaussianMixture(
        len(w), covariance_type=covariance_type, tol=0.0, max_iter=iters, reg_covar=reg_covar,
        weights_init=w, means_init=m, precisions_init=p, init_params="random", random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(x)
    return gm


@pytest.mark.parametrize("covariance_type", TYPES)
def test_gmm_em_ends_where_sklearn_ends(covariance_type):
    x = _data()
    init = _initial(x, 3, covariance_type)
    gm = _sklearn(x, init, covariance_type, iters=12)
    with jax.enable_x64(True):
        res = classic.gmm_em(
            jax.random.key(0), jnp.asarray(x), 3, covariance_type=covariance_type, init=init,
            num_iters=12, tol=0.0,
        )
        p = res.params
        assert p.means.dtype == jnp.float64
        prec = classic.gmm_precisions(p, covariance_type)
        diffs = {
            "weights": np.abs(np.asarray(p.weights) - gm.weights_).max(),
            "means": np.abs(np.asarray(p.means) - gm.means_).max(),
            "covariances": np.abs(np.asarray(p.covariances) - gm.covariances_).max(),
            "precisions": np.abs(np.asarray(prec) - gm.precisions_).max(),
            "lower_bound": abs(float(res.lower_bound) - gm.lower_bound_),
            "lower_bounds": np.abs(np.asarray(res.lower_bounds) - np.array(gm.lower_bounds_)).max(),
        }
        print(covariance_type, {k: f"{v:.1e}" for k, v in diffs.items()})
        assert int(res.num_iters) == gm.n_iter_ == 12
        for name, diff in diffs.items():
            assert diff < 1e-8, (name, diff)
        # The fitted log-density equals scikit-learn's score_samples.
        np.testing.assert_allclose(
            classic.gmm_log_prob(jnp.asarray(x), p, covariance_type), gm.score_samples(x),
            rtol=0, atol=1e-8,
        )


def test_gmm_em_stops_at_tol_like_sklearn():
    x = _data(seed=3)
    init = _initial(x, 3, "diag")
    gm = GaussianMixture(3, covariance_type="diag", tol=1e-4, max_iter=200, weights_init=init[0],
                         means_init=init[1], precisions_init=init[2], init_params="random").fit(x)
    with jax.enable_x64(True):
        res = classic.gmm_em(jax.random.key(0), jnp.asarray(x), 3, covariance_type="diag",
                             init=init, num_iters=200, tol=1e-4)
        assert bool(res.converged) and int(res.num_iters) == gm.n_iter_
        np.testing.assert_allclose(res.params.means, gm.means_, atol=1e-8)


def test_sample_weight_equals_repeated_rows():
    x = _data(n=60, seed=4)
    counts = np.random.default_rng(0).integers(0, 4, len(x))
    init = _initial(x, 3, "full")
    with jax.enable_x64(True):
        kw = dict(covariance_type="full", init=init, num_iters=8, tol=0.0)
        a = classic.gmm_em(jax.random.key(0), jnp.asarray(x), 3, sample_weight=counts, **kw)
        b = classic.gmm_em(jax.random.key(0), jnp.asarray(np.repeat(x, counts, 0)), 3, **kw)
        for u, v in zip(a.params, b.params):
            np.testing.assert_allclose(u, v, atol=1e-10)
        np.testing.assert_allclose(a.lower_bounds, b.lower_bounds, atol=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_gradient_m_step_follows_the_log_likelihood_gradient(covariance_type):
    # F3:59: with Q the posterior, the gradient of sum_z Q log(p_z N) is the gradient of
    # log p(x | theta); one gradient M-step is one step of gradient ascent on the likelihood.
    x = _data(n=80, seed=5)
    init = _initial(x, 3, covariance_type)
    eta = 0.05
    with jax.enable_x64(True):
        xj = jnp.asarray(x)
        init_arrays = em_lib._check_initial(init, xj, 3, covariance_type)
        p0 = em_lib._initial_params(None, xj, jnp.ones(len(x)), 3, covariance_type, init_arrays,
                                    1e-6)
        u0 = em_lib._to_unconstrained(p0, covariance_type)

        def mean_log_lik(u):
            p = em_lib._from_unconstrained(u, covariance_type)
            return jnp.mean(classic.gmm_log_prob(xj, p, covariance_type))

        g = jax.grad(mean_log_lik)(u0)
        expected = em_lib._from_unconstrained(
            jax.tree.map(lambda a, b: a + eta * b, u0, g), covariance_type
        )
        res = classic.gmm_em(jax.random.key(0), xj, 3, covariance_type=covariance_type,
                             init=init, num_iters=1, tol=0.0, m_step="gradient",
                             learning_rate=eta)
        for a, b in zip(res.params, expected):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)
        # Generalised EM with a small step climbs at every iteration.
        grad = classic.gmm_em(jax.random.key(0), xj, 3, covariance_type=covariance_type,
                              init=init, num_iters=30, tol=0.0, m_step="gradient",
                              learning_rate=eta, num_gradient_steps=3)
        assert np.all(np.diff(np.asarray(grad.lower_bounds)) > -1e-12)
        assert float(grad.lower_bounds[-1]) > float(grad.lower_bounds[0]) + 0.1


def test_restarts_by_vmap_equal_single_runs_and_jit():
    x = jnp.asarray(_data(n=150, seed=6), jnp.float32)
    keys = jax.random.split(jax.random.key(7), 3)
    fit = lambda k: classic.gmm_em(k, x, 3, covariance_type="diag", num_iters=15)
    batched = jax.jit(jax.vmap(fit))(keys)
    assert batched.params.means.shape == (3, 3, 3)
    assert batched.params.means.dtype == jnp.float32
    for i in range(3):
        single = fit(keys[i])
        np.testing.assert_allclose(batched.params.means[i], single.params.means, atol=1e-4)
        np.testing.assert_allclose(batched.lower_bound[i], single.lower_bound, atol=1e-4)
    # Every restart on separated clusters reaches a high, finite lower bound.
    assert np.all(np.isfinite(np.asarray(batched.lower_bounds)))


@pytest.mark.parametrize("covariance_type", TYPES)
def test_duplicated_points_never_give_nan(covariance_type):
    # A component that collapses on ten copies of one point keeps covariance reg_covar I.
    rng = np.random.default_rng(8)
    x = np.concatenate([np.tile([[5.0, 5.0]], (10, 1)), rng.normal(size=(40, 2))]).astype(np.float32)
    prec = _initial(x[:, [0, 1, 1]], 3, covariance_type)[2]
    if covariance_type == "full":
        prec = prec[:, :2, :2]
    elif covariance_type == "tied":
        prec = prec[:2, :2]
    elif covariance_type == "diag":
        prec = prec[:, :2]
    init = (np.array([0.2, 0.4, 0.4]), np.array([[5.0, 5.0], [0.5, 0.0], [-0.5, 0.0]]), prec)
    res = classic.gmm_em(jax.random.key(0), jnp.asarray(x), 3, covariance_type=covariance_type,
                         init=init, num_iters=20, tol=0.0, reg_covar=1e-3)
    for leaf in jax.tree.leaves(res):
        assert np.all(np.isfinite(np.asarray(leaf))), covariance_type
    if covariance_type in ("diag", "spherical", "full"):
        cov0 = np.asarray(res.params.covariances[0])
        np.testing.assert_allclose(cov0 if covariance_type != "full" else np.diag(cov0), 1e-3,
                                   rtol=1e-2)
    # A component that gets no points at all (all data identical) stays finite too.
    same = jnp.ones((20, 2), jnp.float32)
    res = classic.gmm_em(jax.random.key(0), same, 4, covariance_type=covariance_type, num_iters=5)
    for leaf in jax.tree.leaves(res):
        assert np.all(np.isfinite(np.asarray(leaf))), covariance_type


def test_sample_and_log_prob_agree():
    # Samples of a known mixture: the mean log-density is the negative entropy estimate, and the
    # empirical moments match.
    params = jax.jit(gmm_lib.gaussian_statistics, static_argnums=(2, 3))(
        jnp.asarray(_data(n=90, seed=9), jnp.float32),
        jax.nn.one_hot(jnp.arange(90) % 3, 3), 1e-6, "full",
    )
    x, z = jax.jit(classic.gmm_sample, static_argnums=(2, 3))(jax.random.key(0), params, 20000,
                                                               "full")
    np.testing.assert_allclose(np.bincount(np.asarray(z)) / 20000, params.weights, atol=0.015)
    for j in range(3):
        xj = np.asarray(x)[np.asarray(z) == j]
        np.testing.assert_allclose(xj.mean(0), params.means[j], atol=0.07)
        np.testing.assert_allclose(np.cov(xj.T), params.covariances[j], atol=0.12)
    # log p matches scipy's density of the same mixture.
    from scipy.stats import multivariate_normal

    ref = np.log(sum(
        float(params.weights[j]) * multivariate_normal(params.means[j], params.covariances[j]).pdf(
            np.asarray(x[:50], np.float64))
        for j in range(3)
    ))
    np.testing.assert_allclose(classic.gmm_log_prob(x[:50], params, "full"), ref, atol=1e-4)


def test_bad_input_is_rejected():
    x = jnp.asarray(_data(n=20))
    with pytest.raises(ValueError, match="larger than the number of samples"):
        classic.gmm_em(jax.random.key(0), x, 21)
    with pytest.raises(ValueError, match="reg_covar must be > 0"):
        classic.gmm_em(jax.random.key(0), x, 2, reg_covar=0.0)
    with pytest.raises(ValueError, match="NaN"):
        classic.gmm_em(jax.random.key(0), x.at[3, 1].set(jnp.nan), 2)
    with pytest.raises(ValueError, match="covariance_type"):
        classic.gmm_em(jax.random.key(0), x, 2, covariance_type="banded")
    with pytest.raises(ValueError, match="initial precisions must have shape"):
        classic.gmm_em(jax.random.key(0), x, 2, covariance_type="diag",
                       init=(np.ones(2) / 2, np.zeros((2, 3)), np.ones((2, 3, 3))))
    with pytest.raises(ValueError, match="sample_weight"):
        classic.gmm_em(jax.random.key(0), x, 2, sample_weight=-np.ones(20))


# --- F3:190-249, Jin et al. 2016: the population log-likelihood of a 1-D, 3-component mixture


def _population_log_lik(mu, R, gamma, order=120):
    """L(mu) = 1/3 sum_{c in (-R, R, gamma R)} E_{V ~ N(c, 1)} log(1/3 sum_j N(V; mu_j, 1)),
    by Gauss-Hermite quadrature (exact for this smooth integrand to ~1e-12)."""
    t, wq = np.polynomial.hermite.hermgauss(order)
    params = classic.GMMParams(
        jnp.full(3, 1 / 3), jnp.asarray(mu, jnp.float64)[:, None], jnp.ones(3), jnp.ones(3)
    )
    total = 0.0
    for c in (-R, R, gamma * R):
        v = jnp.asarray(c + math.sqrt(2) * t)[:, None]
        total += float(jnp.sum(wq * classic.gmm_log_prob(v, params, "spherical"))) / math.sqrt(math.pi)
    return total / 3


def test_bad_local_maximum_values_of_jin_et_al():
    with jax.enable_x64(True):
        # F3:229: L(0, gamma R, gamma R) -> -(2R^2 + 3 - 2 ln 2)/6 - ln(3 sqrt(2 pi)) as gamma grows.
        const = math.log(3 * math.sqrt(2 * math.pi))
        for R in (1.0, 2.0, 3.0):
            bad = _population_log_lik([0.0, 40 * R, 40 * R], R, 40.0)
            assert abs(bad - (-(2 * R**2 + 3 - 2 * math.log(2)) / 6 - const)) < 1e-9
        assert abs(_population_log_lik([0.0, 40.0, 40.0], 1.0, 40.0) - (-2.619835)) < 5e-7
        # F3:247: L(mu*) = L(-R, R, gamma R) -> -1/2 - ln(3 sqrt(2 pi)) as R grows.
        good = _population_log_lik([-30.0, 30.0, 90.0], 30.0, 3.0)
        assert abs(good - (-2.517551)) < 5e-7
        # The gap grows like R^2 / 3.
        for R in (10.0, 20.0):
            gap = _population_log_lik([-R, R, 5 * R], R, 5.0) - _population_log_lik(
                [0.0, 5 * R, 5 * R], R, 5.0)
            assert abs(gap - (R**2 - math.log(2)) / 3) < 1e-9
        # Example 3.1: on the borders of D the likelihood is below L(mu~) (R = 1, gamma = 40).
        R, g = 1.0, 40.0
        bad = _population_log_lik([0.0, g * R, g * R], R, g)
        for border in ([g * R / 3, g * R, g * R], [0.0, 2 * g * R / 3, g * R],
                       [0.0, g * R, 2 * g * R / 3]):
            assert _population_log_lik(border, R, g) < bad


def test_fixed_weights_and_covariances_leave_em_on_the_means_alone():
    # Jin et al.'s model: uniform weights, unit variances; one EM step moves each mean to the
    # responsibility-weighted mean of the data, responsibilities ∝ exp(-(x - mu_j)^2 / 2).
    x = np.array([[-2.0], [-1.0], [0.5], [3.0], [4.0]])
    mu0 = np.array([[-1.0], [0.0], [3.0]])
    init = (np.ones(3) / 3, mu0, np.ones(3))
    res = classic.gmm_em(jax.random.key(0), x, 3, covariance_type="spherical", init=init,
                         num_iters=1, tol=0.0, fixed=("weights", "covariances"))
    logits = -0.5 * (x - mu0.T) ** 2
    r = np.exp(logits - logits.max(1, keepdims=True))
    r /= r.sum(1, keepdims=True)
    np.testing.assert_allclose(res.params.means[:, 0], (r * x).sum(0) / r.sum(0), rtol=1e-5)
    np.testing.assert_allclose(res.params.weights, np.ones(3) / 3, rtol=1e-6)
    np.testing.assert_allclose(res.params.covariances, np.ones(3), rtol=1e-6)
    with pytest.raises(ValueError, match="Unknown fixed parameter 'means'"):
        classic.gmm_em(jax.random.key(0), x, 3, init=init, covariance_type="spherical",
                       fixed=("means",))
