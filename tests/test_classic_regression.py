"""OLS, ridge and lasso against the normal equations and scikit-learn's LinearRegression, Ridge and
Lasso (float64, ``jax.enable_x64``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import Lasso, LinearRegression, Ridge

from gendiff import classic


def _data(n=60, p=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + rng.normal(size=p)
    w = np.array([1.5, -2.0, 0.0, 0.0, 0.7, 0.0, 0.0, 3.0])[:p]
    return X, X @ w + 0.4 + 0.3 * rng.normal(size=n)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ols_and_ridge_equal_closed_forms_and_sklearn(fit_intercept):
    X, y = _data()
    with jax.enable_x64(True):
        o = classic.ols(X, y, fit_intercept=fit_intercept)
        sk = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
        np.testing.assert_allclose(o.coef, sk.coef_, atol=1e-10)
        np.testing.assert_allclose(o.intercept, sk.intercept_, atol=1e-10)
        if not fit_intercept:  # F2: theta = (X^T X)^{-1} X^T y
            np.testing.assert_allclose(o.coef, np.linalg.solve(X.T @ X, X.T @ y), atol=1e-10)
        for alpha in (0.1, 10.0):
            r = classic.ridge(X, y, alpha, fit_intercept=fit_intercept)
            sk = Ridge(alpha, fit_intercept=fit_intercept, solver="svd").fit(X, y)
            diff = max(np.abs(np.asarray(r.coef) - sk.coef_).max(), abs(float(r.intercept) - sk.intercept_))
            print(f"ridge alpha={alpha} intercept={fit_intercept}: {diff:.1e}")
            assert diff < 1e-10
            Xc = X - X.mean(0) if fit_intercept else X
            yc = y - y.mean() if fit_intercept else y
            np.testing.assert_allclose(r.coef, np.linalg.solve(Xc.T @ Xc + alpha * np.eye(8), Xc.T @ yc),
                                       atol=1e-10)
        # Several targets at once.
        Y = np.stack([y, -2 * y], 1)
        r2 = classic.ridge(X, Y, 1.0, fit_intercept=fit_intercept)
        assert r2.coef.shape == (8, 2)
        np.testing.assert_allclose(r2.coef[:, 1], -2 * np.asarray(r2.coef[:, 0]), rtol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lasso_equals_sklearn(fit_intercept):
    X, y = _data(seed=1)
    with jax.enable_x64(True):
        for alpha in (0.01, 0.3):
            ours = classic.lasso(X, y, alpha, fit_intercept=fit_intercept, tol=1e-14)
            sk = Lasso(alpha, fit_intercept=fit_intercept, tol=1e-14, max_iter=100_000).fit(X, y)
            diff = max(np.abs(np.asarray(ours.coef) - sk.coef_).max(),
                       abs(float(ours.intercept) - sk.intercept_))
            print(f"lasso alpha={alpha} intercept={fit_intercept}: {diff:.1e}")
            assert diff < 1e-8
            # KKT: |X_j^T r| / n <= alpha, with equality (and the sign of w_j) where w_j != 0.
            Xc = X - X.mean(0) if fit_intercept else X
            r = y - X @ np.asarray(ours.coef) - float(ours.intercept)
            g = Xc.T @ r / len(y)
            w = np.asarray(ours.coef)
            assert np.all(np.abs(g) <= alpha + 1e-9)
            np.testing.assert_allclose(g[w != 0], alpha * np.sign(w[w != 0]), atol=1e-9)
            assert np.any(w == 0)
            yc = y - y.mean() if fit_intercept else y
            assert float(classic.lasso_duality_gap(jnp.asarray(Xc), jnp.asarray(yc), ours.coef,
                                                   alpha)) < 1e-12


def test_lasso_float32_and_jit():
    X, y = _data(seed=2)
    fit = jax.jit(lambda X, y: classic.lasso(X, y, 0.1, tol=1e-6))
    ours = fit(jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32))
    assert ours.coef.dtype == jnp.float32
    sk = Lasso(0.1, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.coef, sk.coef_, atol=1e-4)  # float32 and tol 1e-6


def test_regression_bad_input():
    X, y = _data()
    for fn in (classic.ridge, classic.lasso):
        with pytest.raises(ValueError, match="alpha must be > 0"):
            fn(X, y, 0.0)
        with pytest.raises(ValueError, match="alpha must be > 0"):
            fn(X, y, -1.0)
        with pytest.raises(ValueError, match="NaN"):
            fn(np.where(np.eye(60, 8) > 0, np.nan, X), y, 1.0)
    with pytest.raises(ValueError, match="y must have shape"):
        classic.ols(X, y[:-1])
