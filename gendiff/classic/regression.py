"""Linear regression: ordinary least squares, ridge and lasso (F2:121-193), with scikit-learn's
objective conventions.

    OLS:    min_w ||y - X w - b||^2                                  (theta = (X^T X)^{-1} X^T y)
    ridge:  min_w ||y - X w - b||^2 + alpha ||w||_2^2                 (scikit-learn's Ridge)
    lasso:  min_w 1/(2n) ||y - X w - b||^2 + alpha ||w||_1            (scikit-learn's Lasso)

F2 scales the squared error by 1/n and the penalty by lambda: its ridge lambda is alpha / n here,
its lasso lambda is 2 alpha. With ``fit_intercept`` the columns of X and y are centred, the
penalised problem is solved on them, and b = mean(y) - mean(X) w (the intercept is not penalised).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gendiff.classic import _checks


class LinearFit(NamedTuple):
    """Coefficients w, shape (p,) or (p, t), and intercept b, shape () or (t,).

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import ols
      >>> X = jnp.array([[0.0], [1.0], [2.0]])
      >>> fit = ols(X, jnp.stack([2 * X[:, 0] + 1, -X[:, 0]], 1))  # t = 2 targets
      >>> fit.coef.shape, fit.intercept.shape
      ((1, 2), (2,))
      >>> (X @ fit.coef + fit.intercept).round(4).tolist()
      [[1.0, 0.0], [3.0, -1.0], [5.0, -2.0]]
    """

    coef: jax.Array
    intercept: jax.Array


def _prepare(X, y, fit_intercept, y_ndim=(1, 2)):
    X = _checks.as_float_array("X", X, 2)
    y = _checks.as_float_array("y", y).astype(X.dtype)
    if y.ndim not in y_ndim or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have shape ({X.shape[0]},) matching X's rows, got {y.shape}.")
    _checks.check_finite("X", X)
    _checks.check_finite("y", y)
    if fit_intercept:
        x_mean, y_mean = jnp.mean(X, 0), jnp.mean(y, 0)
    else:
        x_mean, y_mean = jnp.zeros(X.shape[1], X.dtype), jnp.zeros(y.shape[1:], X.dtype)
    return X - x_mean, y - y_mean, x_mean, y_mean


def _finish(coef, x_mean, y_mean):
    return LinearFit(coef, y_mean - x_mean @ coef)


def ols(X: jax.Array, y: jax.Array, *, fit_intercept: bool = True) -> LinearFit:
    """Ordinary least squares, the minimum-norm solution when X^T X is singular.

    Args:
      X: (n, p) design matrix.
      y: (n,) or (n, t) targets.
      fit_intercept: fit an unpenalised intercept.

    Returns:
      :class:`LinearFit`.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import ols
      >>> X = jnp.array([[0.0], [1.0], [2.0]])
      >>> fit = ols(X, 2 * X[:, 0] + 1)
      >>> round(float(fit.coef[0]), 5), round(float(fit.intercept), 5)
      (2.0, 1.0)
    """
    Xc, yc, x_mean, y_mean = _prepare(X, y, fit_intercept)
    return _finish(jnp.linalg.lstsq(Xc, yc)[0], x_mean, y_mean)


def ridge(X: jax.Array, y: jax.Array, alpha: float, *, fit_intercept: bool = True) -> LinearFit:
    """Ridge regression: w = (X^T X + alpha I)^{-1} X^T y, computed from the SVD of X.

    Args:
      X: (n, p) design matrix.
      y: (n,) or (n, t) targets.
      alpha: > 0, the weight of ||w||^2 against the (unscaled) sum of squared errors.
      fit_intercept: fit an unpenalised intercept.

    Returns:
      :class:`LinearFit`, equal to scikit-learn's ``Ridge(alpha).fit(X, y)``.

    References:
      Hoerl & Kennard, "Ridge regression", Technometrics 1970.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import ridge
      >>> X = jnp.array([[1.0], [-1.0]])
      >>> float(ridge(X, jnp.array([1.0, -1.0]), 2.0, fit_intercept=False).coef[0])  # 2 / (2 + 2)
      0.5
    """
    _checks.check_positive("alpha", alpha)
    Xc, yc, x_mean, y_mean = _prepare(X, y, fit_intercept)
    U, s, Vt = jnp.linalg.svd(Xc, full_matrices=False)
    shrink = s / (s**2 + alpha)
    coef = Vt.T @ (shrink[:, None] * (U.T @ yc.reshape(yc.shape[0], -1)))
    return _finish(coef.reshape((Xc.shape[1],) + yc.shape[1:]), x_mean, y_mean)


def lasso(
    X: jax.Array,
    y: jax.Array,
    alpha: float,
    *,
    fit_intercept: bool = True,
    num_iters: int = 10_000,
    tol: float = 1e-10,
) -> LinearFit:
    """Lasso by cyclic coordinate descent, stopped by the duality gap.

    Minimises 1/(2n) ||y - X w||^2 + alpha ||w||_1. A sweep updates every coordinate in turn,
    w_j <- S(X_j^T r_j / n, alpha) / (||X_j||^2 / n) with r_j the residual without feature j and
    S(u, a) = sign(u) max(|u| - a, 0). After each sweep the duality gap G (Friedman et al. 2010;
    the dual point is the residual scaled into the feasible set ||X^T nu||_inf <= n alpha) bounds
    the distance to the optimal objective; iteration stops once G <= tol * ||y||^2 / (2n) (a
    fraction of the objective at w = 0) or after ``num_iters`` sweeps. Jittable, one while_loop.

    Args:
      X: (n, p) design matrix.
      y: (n,) targets.
      alpha: > 0, the l1 weight.
      fit_intercept: fit an unpenalised intercept.
      num_iters: maximum number of sweeps.
      tol: relative duality-gap tolerance.

    Returns:
      :class:`LinearFit`, equal to scikit-learn's ``Lasso(alpha).fit(X, y)`` at matching tolerance.

    References:
      Tibshirani, "Regression shrinkage and selection via the lasso", JRSS B 1996; Friedman,
      Hastie & Tibshirani, "Regularization paths for generalized linear models via coordinate
      descent", J. Stat. Softw. 2010.

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import lasso
      >>> X = jnp.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
      >>> y = jnp.array([2.0, -2.0, 0.1, -0.1])
      >>> [round(float(c), 4) for c in lasso(X, y, 0.1).coef]  # w_j = S(X_j^T y / n, a) n / ||X_j||^2
      [1.8, 0.0]
    """
    _checks.check_positive("alpha", alpha)
    _checks.check_iters("num_iters", num_iters)
    Xc, yc, x_mean, y_mean = _prepare(X, y, fit_intercept, y_ndim=(1,))
    coef = _lasso_cd(
        Xc, yc, jnp.asarray(alpha, Xc.dtype), jnp.asarray(tol, Xc.dtype), num_iters=num_iters
    )
    return _finish(coef, x_mean, y_mean)


def lasso_duality_gap(X: jax.Array, y: jax.Array, w: jax.Array, alpha) -> jax.Array:
    """Duality gap of 1/(2n) ||y - X w||^2 + alpha ||w||_1 at w (>= 0, 0 at the optimum).

    Example:
      >>> import jax.numpy as jnp
      >>> from gendiff.classic import lasso_duality_gap
      >>> X = jnp.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
      >>> y = jnp.array([2.0, -2.0, 0.1, -0.1])
      >>> round(float(lasso_duality_gap(X, y, jnp.array([1.8, 0.0]), 0.1)), 6)  # the optimum
      0.0
      >>> round(float(lasso_duality_gap(X, y, jnp.zeros(2), 0.1)), 6)  # (4.01 - 0.7619) / 4
      0.812025
    """
    n = X.shape[0]
    lam = n * alpha
    r = y - X @ w
    dual_norm = jnp.max(jnp.abs(X.T @ r))
    scale = jnp.where(dual_norm > lam, lam / dual_norm, 1.0)
    primal = 0.5 * r @ r + lam * jnp.sum(jnp.abs(w))
    dual = 0.5 * y @ y - 0.5 * jnp.sum((y - scale * r) ** 2)
    return (primal - dual) / n


@functools.partial(jax.jit, static_argnames=("num_iters",))
def _lasso_cd(X, y, alpha, tol, *, num_iters):
    n, p = X.shape
    lam = n * alpha
    col_sq = jnp.sum(X * X, 0)
    threshold = tol * (y @ y) / (2 * n)

    def coordinate(j, carry):
        w, r = carry
        xj = X[:, j]
        rho = xj @ r + col_sq[j] * w[j]
        new = jnp.where(
            col_sq[j] > 0, jnp.sign(rho) * jnp.maximum(jnp.abs(rho) - lam, 0.0) / col_sq[j], 0.0
        )
        return w.at[j].set(new), r + xj * (w[j] - new)

    def cond(carry):
        i, _, _, gap = carry
        return (i < num_iters) & (gap > threshold)

    def body(carry):
        i, w, r, _ = carry
        w, r = jax.lax.fori_loop(0, p, coordinate, (w, r))
        return i + 1, w, r, lasso_duality_gap(X, y, w, alpha)

    w0 = jnp.zeros(p, X.dtype)
    carry = (jnp.int32(0), w0, y, jnp.asarray(jnp.inf, X.dtype))
    _, w, _, _ = jax.lax.while_loop(cond, body, carry)
    return w
