"""PCA and probabilistic PCA against scikit-learn's PCA, the PCA residual of F3:170, the PPCA
maximum and log-density against closed forms and scipy, and EM-PPCA with and without missing
entries against the closed-form subspace.

Comparisons with scikit-learn and scipy run in float64 (``jax.enable_x64``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.decomposition import PCA

from gendiff import classic
from gendiff.classic.pca import _row_stats


def _data(n=300, d=6, m=2, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(d, m)) * np.array([3.0, 2.0])[:m]
    return rng.normal(size=(n, m)) @ W.T + 0.5 * rng.normal(size=(n, d)) + rng.normal(size=d)


def _sin_max_angle(A, B):
    """sin of the largest principal angle between the column spans of A and B."""
    Qa, _ = np.linalg.qr(np.asarray(A, np.float64))
    Qb, _ = np.linalg.qr(np.asarray(B, np.float64))
    return np.linalg.norm(Qb - Qa @ (Qa.T @ Qb), 2)


def test_pca_equals_sklearn():
    x = _data()
    sk = PCA(3).fit(x)
    with jax.enable_x64(True):
        res = classic.pca(jnp.asarray(x), 3)
        signs = np.sign(np.sum(np.asarray(res.components) * sk.components_, 1))
        diffs = {
            "components": np.abs(np.asarray(res.components) * signs[:, None] - sk.components_).max(),
            "explained_variance": np.abs(res.explained_variance - sk.explained_variance_).max(),
            "ratio": np.abs(res.explained_variance_ratio - sk.explained_variance_ratio_).max(),
            "singular_values": np.abs(res.singular_values - sk.singular_values_).max(),
            "mean": np.abs(res.mean - sk.mean_).max(),
        }
        print({k: f"{v:.1e}" for k, v in diffs.items()})
        assert max(diffs.values()) < 1e-10


@pytest.mark.parametrize("center", [True, False])
def test_pca_residual_is_the_sum_of_dropped_eigenvalues(center):
    # CATALOG (c) 11, F3:170: min sum_i ||x_i - U U^T x_i||^2 = sum_{i > m} lambda_i(S).
    x = _data(n=50, d=5)
    with jax.enable_x64(True):
        res = classic.pca(jnp.asarray(x), 2, center=center)
        xc = x - x.mean(0) if center else x
        S = xc.T @ xc
        lam = np.sort(np.linalg.eigvalsh(S))[::-1]
        U = np.asarray(res.components).T
        recon = np.sum((xc - xc @ U @ U.T) ** 2)
        np.testing.assert_allclose(res.residual, lam[2:].sum(), rtol=1e-10)
        np.testing.assert_allclose(recon, lam[2:].sum(), rtol=1e-10)
        # F3:170 as printed, Tr(S + U^T S U), is not the error.
        assert abs(np.trace(S) + np.trace(U.T @ S @ U) - recon) > 1.0
        # Any other orthonormal U does worse.
        Q, _ = np.linalg.qr(U + 0.1 * np.random.default_rng(0).normal(size=U.shape))
        assert np.sum((xc - xc @ Q @ Q.T) ** 2) > recon


def test_ppca_score_samples_equals_sklearn():
    x = _data(seed=1)
    sk = PCA(2).fit(x)
    with jax.enable_x64(True):
        p = classic.ppca(jnp.asarray(x), 2, ddof=1)
        np.testing.assert_allclose(p.noise_variance, sk.noise_variance_, rtol=1e-12)
        ours = np.asarray(classic.ppca_log_prob(jnp.asarray(x), p))
        diff = np.abs(ours - sk.score_samples(x)).max()
        print(f"score_samples max abs diff {diff:.1e}")
        assert diff < 1e-10
        np.testing.assert_allclose(np.asarray(p.W) @ np.asarray(p.W).T,
                                   sk.get_covariance() - sk.noise_variance_ * np.eye(6), atol=1e-10)


def test_ppca_closed_form_is_the_maximum_likelihood():
    x = _data(n=200, seed=2)
    with jax.enable_x64(True):
        xj = jnp.asarray(x)
        p = classic.ppca(xj, 2)

        def total(mu, W, log_s2):
            return jnp.sum(classic.ppca_log_prob(xj, classic.PPCAParams(mu, W, jnp.exp(log_s2))))

        grads = jax.jit(jax.grad(total, argnums=(0, 1, 2)))(p.mean, p.W, jnp.log(p.noise_variance))
        for g in grads:
            assert np.abs(np.asarray(g)).max() < 1e-8
        # The maximum: -n/2 (d log 2 pi + log det C + tr(C^{-1} S_ml)).
        C = np.asarray(p.W) @ np.asarray(p.W).T + float(p.noise_variance) * np.eye(6)
        S = np.cov(x.T, bias=True)
        closed = -len(x) / 2 * (6 * np.log(2 * np.pi) + np.linalg.slogdet(C)[1]
                                + np.trace(np.linalg.solve(C, S)))
        np.testing.assert_allclose(total(p.mean, p.W, jnp.log(p.noise_variance)), closed, rtol=1e-12)


def test_ppca_log_prob_with_a_mask_is_the_marginal_of_the_observed_entries():
    x = _data(n=20, seed=3)
    mask = np.random.default_rng(0).uniform(size=x.shape) > 0.3
    with jax.enable_x64(True):
        p = classic.ppca(jnp.asarray(x), 2)
        C = np.asarray(p.W) @ np.asarray(p.W).T + float(p.noise_variance) * np.eye(6)
        ours = classic.ppca_log_prob(jnp.asarray(np.where(mask, x, np.nan)), p, mask=mask)
        for i in range(len(x)):
            o = mask[i]
            ref = multivariate_normal(np.asarray(p.mean)[o], C[np.ix_(o, o)]).logpdf(x[i, o])
            np.testing.assert_allclose(ours[i], ref, rtol=1e-10)
        # The posterior of z for a fully observed row: mean M^{-1} W^T (x - mu), cov s2 M^{-1}.
        _, zbar, Sig = jax.jit(_row_stats)(jnp.asarray(x[0]), jnp.ones(6, bool), p)
        W, s2 = np.asarray(p.W), float(p.noise_variance)
        M = W.T @ W + s2 * np.eye(2)
        np.testing.assert_allclose(zbar, np.linalg.solve(M, W.T @ (x[0] - np.asarray(p.mean))))
        np.testing.assert_allclose(Sig, s2 * np.linalg.inv(M), atol=1e-15)


def test_ppca_em_reaches_the_closed_form_subspace():
    x = _data(seed=4)
    with jax.enable_x64(True):
        xj = jnp.asarray(x)
        closed = classic.ppca(xj, 2)
        # The subspace converges in tens of iterations; the scale of W and sigma^2 only at a rate
        # of about 1 - 2 sigma^2 / lambda_m per iteration (here 1 - 2 * 0.24 / 11), hence 2000.
        res = classic.ppca_em(jax.random.key(0), xj, 2, num_iters=2000)
        sin = _sin_max_angle(res.params.W, closed.W)
        print(f"EM-PPCA: largest principal angle {np.arcsin(sin):.1e} rad after "
              f"{int(res.num_iters)} iterations")
        assert np.arcsin(sin) < 1e-4
        np.testing.assert_allclose(res.params.noise_variance, closed.noise_variance, rtol=1e-6)
        np.testing.assert_allclose(res.params.mean, closed.mean, atol=1e-8)
        np.testing.assert_allclose(res.params.W @ res.params.W.T, closed.W @ closed.W.T, rtol=1e-4,
                                   atol=1e-6)
        trace = np.asarray(res.log_likelihoods)
        assert np.all(np.diff(trace) > -1e-10)
        ml = float(jnp.mean(classic.ppca_log_prob(xj, closed)))
        assert abs(trace[-1] - ml) < 1e-8


def test_ppca_em_with_20_percent_missing_stays_near_the_full_data_subspace():
    # Stated distance: with n = 300, d = 6 and 20% of the entries missing at random, the largest
    # principal angle to the closed-form subspace of the complete data is below 0.05 rad.
    x = _data(seed=4)
    mask = np.random.default_rng(1).uniform(size=x.shape) > 0.2
    with jax.enable_x64(True):
        closed = classic.ppca(jnp.asarray(x), 2)
        res = classic.ppca_em(jax.random.key(0), jnp.asarray(np.where(mask, x, np.nan)), 2,
                              mask=mask, num_iters=2000)
        angle = float(np.arcsin(_sin_max_angle(res.params.W, closed.W)))
        print(f"20% missing: largest principal angle {angle:.3e} rad; sigma^2 "
              f"{float(res.params.noise_variance):.4f} vs {float(closed.noise_variance):.4f}")
        assert angle < 0.05
        trace = np.asarray(res.log_likelihoods)
        assert np.all(np.diff(trace) > -1e-10)  # EM never lowers the observed-data likelihood
        # Its fixed point is a stationary point of the observed-data log-likelihood.
        xm, mk = jnp.asarray(np.where(mask, x, 0.0)), jnp.asarray(mask)

        def obs(mu, W, log_s2):
            pp = classic.PPCAParams(mu, W, jnp.exp(log_s2))
            return jnp.mean(classic.ppca_log_prob(xm, pp, mask=mk))

        p = res.params
        for g in jax.jit(jax.grad(obs, argnums=(0, 1, 2)))(p.mean, p.W, jnp.log(p.noise_variance)):
            assert np.abs(np.asarray(g)).max() < 1e-5


def test_pca_bad_input():
    x = _data(n=10, d=4)
    with pytest.raises(ValueError, match="larger than the number of samples"):
        classic.pca(x[:3], 4)
    with pytest.raises(ValueError, match="larger than the number of features"):
        classic.pca(x, 5)
    with pytest.raises(ValueError, match="must be < d"):
        classic.ppca(x, 4)
    with pytest.raises(ValueError, match="NaN"):
        classic.pca(np.where(np.eye(10, 4) > 0, np.nan, x), 2)
    with pytest.raises(ValueError, match="mask must have the shape"):
        classic.ppca_em(jax.random.key(0), x, 2, mask=np.ones((10, 3), bool))
    with pytest.raises(ValueError, match="NaN"):  # NaN in an observed entry
        classic.ppca_em(jax.random.key(0), np.where(np.eye(10, 4) > 0, np.nan, x), 2)
    with pytest.raises(ValueError, match="at least one observed"):
        classic.ppca_em(jax.random.key(0), x, 2, mask=np.arange(4)[None].repeat(10, 0) > 0)
