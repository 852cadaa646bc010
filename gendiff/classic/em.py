"""EM for Gaussian mixtures: closed-form M-step (default) or the note's gradient M-step.

E-step (F3:69-103): Q(z|x_i) = p(z | x_i, theta), which makes the ELBO
sum_z Q log(p_z N(x_i; mu_z, Sigma_z)) + H(Q) equal to log p(x_i | theta) (F3:77 writes "=" where
"<=" belongs, and F3:98 means "non-negative" where it says "non-zero").
M-step: maximise sum_i w_i sum_z Q(z|x_i) log(p_z N(x_i; mu_z, Sigma_z)) over theta, in closed
form (:func:`gaussian_statistics`), or, as in F3:63-67, by gradient ascent on it.
The whole run is one ``lax.while_loop``; restarts are ``jax.vmap`` over keys.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gendiff.classic import _checks
from gendiff.classic.gmm import (
    COVARIANCE_TYPES,
    GMMParams,
    covariance_shape,
    covariances_from_precisions_cholesky,
    gaussian_statistics,
    gmm_joint_log_prob,
    precisions_cholesky_from_precisions,
)
from gendiff.classic.kmeans import _weights, kmeans, kmeans_plusplus, squared_distances

INITS = ("kmeans++", "kmeans", "random")
M_STEPS = ("closed_form", "gradient")
FIXABLE = ("weights", "covariances")  # parameters an M-step may keep at their initial values


class GMMResult(NamedTuple):
    """Output of :func:`gmm_em`.

    Attributes:
      params: the fitted :class:`GMMParams` (after the last M-step).
      lower_bound: the (weighted) mean log-likelihood at the last E-step, i.e. of the parameters
        the last M-step started from (scikit-learn's ``lower_bound_``).
      lower_bounds: (num_iters,) that value at every iteration; entries after convergence repeat
        the last one.
      num_iters: iterations run.
      converged: whether the change of the lower bound fell below ``tol``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import gmm_em
      >>> x = jnp.concatenate([jax.random.normal(jax.random.key(1), (200, 2)) - 4,
      ...                      jax.random.normal(jax.random.key(2), (200, 2)) + 4])
      >>> res = gmm_em(jax.random.key(0), x, 2, covariance_type="diag")  # num_iters=100
      >>> res.params.means.shape, res.params.covariances.shape, res.lower_bounds.shape
      ((2, 2), (2, 2), (100,))
      >>> bool(res.converged), bool(res.lower_bound == res.lower_bounds[-1])
      (True, True)
    """

    params: GMMParams
    lower_bound: jax.Array
    lower_bounds: jax.Array
    num_iters: jax.Array
    converged: jax.Array


def e_step(x: jax.Array, params: GMMParams, covariance_type: str):
    """Returns ``(log p(x_i), log Q(z | x_i))`` of shapes (n,) and (n, k)."""
    joint = gmm_joint_log_prob(x, params, covariance_type)
    log_norm = jax.nn.logsumexp(joint, axis=1)
    return log_norm, joint - log_norm[:, None]


# --- the gradient M-step: an unconstrained parameterisation of (p, mu, L) ----------------------


def _to_unconstrained(params: GMMParams, covariance_type: str):
    L = params.precisions_cholesky
    if covariance_type in ("full", "tied"):
        L = precisions_cholesky_from_precisions(L @ jnp.swapaxes(L, -1, -2), covariance_type)
        diag = jnp.diagonal(L, 0, -2, -1)
        raw = jnp.tril(L, -1) + jnp.vectorize(jnp.diag, signature="(d)->(d,d)")(jnp.log(diag))
    else:
        raw = jnp.log(L)
    return jnp.log(params.weights), params.means, raw


def _from_unconstrained(u, covariance_type: str) -> GMMParams:
    logits, means, raw = u
    if covariance_type in ("full", "tied"):
        diag = jnp.diagonal(raw, 0, -2, -1)
        L = jnp.tril(raw, -1) + jnp.vectorize(jnp.diag, signature="(d)->(d,d)")(jnp.exp(diag))
    else:
        L = jnp.exp(raw)
    cov = covariances_from_precisions_cholesky(L, covariance_type)
    return GMMParams(jax.nn.softmax(logits), means, cov, L)


def _gradient_m_step(x, resp, params, covariance_type, learning_rate, num_steps):
    """theta <- theta + eta grad_theta (1/sum w) sum_i sum_z Q(z|x_i) log(p_z N(x_i | z, theta))."""
    total = jnp.sum(resp)

    def expected_complete(u):
        joint = gmm_joint_log_prob(x, _from_unconstrained(u, covariance_type), covariance_type)
        return jnp.sum(resp * joint) / total

    def step(u, _):
        g = jax.grad(expected_complete)(u)
        return jax.tree.map(lambda a, b: a + learning_rate * b, u, g), None

    u, _ = jax.lax.scan(step, _to_unconstrained(params, covariance_type), None, length=num_steps)
    return _from_unconstrained(u, covariance_type)


# --- initialisation ---------------------------------------------------------------------------


def _initial_params(key, x, w, k, covariance_type, init, reg_covar) -> GMMParams:
    n, d = x.shape
    if isinstance(init, str):
        if init == "random":
            resp = jax.random.uniform(key, (n, k), x.dtype)
            resp = resp / jnp.sum(resp, 1, keepdims=True)
        else:
            if init == "kmeans++":
                centres, _ = kmeans_plusplus(key, x, k, sample_weight=w)
            else:
                centres = kmeans(key, x, k, num_iters=30, sample_weight=w).centres
            labels = jnp.argmin(squared_distances(x, centres), 1)
            resp = jax.nn.one_hot(labels, k, dtype=x.dtype)
        return gaussian_statistics(x, w[:, None] * resp, reg_covar, covariance_type)
    weights, means, precisions = init
    L = precisions_cholesky_from_precisions(precisions, covariance_type)
    cov = covariances_from_precisions_cholesky(L, covariance_type)
    return GMMParams(weights / jnp.sum(weights), means, cov, L)


def _check_initial(init, x, k, covariance_type):
    """(weights, means, precisions) as arrays of x's dtype, shapes and values checked."""
    if len(init) != 3:
        raise ValueError("init must be a string or a tuple (weights, means, precisions).")
    d = x.shape[1]
    arrays = tuple(jnp.asarray(a, x.dtype) for a in init)
    shapes = {
        "weights": (k,),
        "means": (k, d),
        "precisions": covariance_shape(covariance_type, k, d),
    }
    for (name, shape), a in zip(shapes.items(), arrays):
        if a.shape != shape:
            raise ValueError(f"initial {name} must have shape {shape}, got {a.shape}.")
        _checks.check_finite(f"initial {name}", a)
    if _checks.is_concrete(arrays[0]) and bool(jnp.any(arrays[0] <= 0)):
        raise ValueError("initial weights must be > 0.")
    return arrays


def gmm_em(
    key: jax.Array,
    x: jax.Array,
    num_components: int,
    *,
    covariance_type: str = "full",
    init: str | tuple = "kmeans++",
    num_iters: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    sample_weight: jax.Array | None = None,
    m_step: str = "closed_form",
    learning_rate: float = 0.1,
    num_gradient_steps: int = 1,
    fixed: tuple[str, ...] = (),
) -> GMMResult:
    """Fit a Gaussian mixture by expectation-maximisation.

    Each iteration computes Q(z|x_i) = p(z|x_i, theta) and the (weighted) mean log-likelihood,
    then updates theta. It stops after ``num_iters`` iterations or when the mean log-likelihood
    changes by less than ``tol``. Given the same initial (weights, means, precisions), reg_covar
    and iterations, it ends where scikit-learn's ``GaussianMixture`` ends. Jittable (with the
    options static); restarts are ``jax.vmap(lambda k: gmm_em(k, x, ...))(keys)``.

    Args:
      key: PRNG key for the initialisation.
      x: (n, d) data; its dtype is the dtype of the fit.
      num_components: k, 1 <= k <= n.
      covariance_type: "full", "tied", "diag" or "spherical".
      init: "kmeans++" (k-means++ centres, hard nearest-centre responsibilities, one M-step),
        "kmeans" (30 Lloyd iterations from k-means++ first), "random" (random responsibilities),
        or a tuple ``(weights, means, precisions)`` in the shapes of scikit-learn's
        ``weights_init``, ``means_init`` and ``precisions_init``.
      num_iters: maximum number of EM iterations.
      tol: convergence threshold on the change of the mean log-likelihood; 0 runs all iterations.
      reg_covar: > 0, added to the diagonal of every covariance (keeps a collapsed component,
        say on duplicated points, finite).
      sample_weight: optional (n,) non-negative weights w_i: the E-step is unchanged, the
        M-step weights each Q(z|x_i) by w_i, and the lower bound is the w-weighted mean.
      m_step: "closed_form" (the maximiser) or "gradient": ``num_gradient_steps`` steps of
        gradient ascent with ``learning_rate`` on the expected complete-data log-likelihood, in
        the unconstrained coordinates (log p_z up to a constant, mu_z, the Cholesky factor of the
        precision with a log diagonal), as in F3:63-67. Its first step moves along the gradient of
        the mean log-likelihood itself (F3:59); reg_covar is not used by it.
      learning_rate: eta of the gradient M-step.
      num_gradient_steps: gradient steps per M-step.
      fixed: parameters held at their initial values, a subset of ("weights",
        "covariances"); the M-step updates the rest (with both fixed, EM on the means alone,
        the model of Jin et al. 2016: known uniform weights and unit variances). The
        closed-form M-step stays the exact maximiser, since the means' update does not depend
        on the weights or covariances.

    Returns:
      A :class:`GMMResult`.

    References:
      Dempster, Laird & Rubin, "Maximum likelihood from incomplete data via the EM algorithm",
      JRSS B 1977; Bishop, "Pattern Recognition and Machine Learning", 2006, section 9.2.2.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gendiff.classic import gmm_em
      >>> x = jnp.concatenate([jax.random.normal(jax.random.key(1), (200, 2)) - 4,
      ...                      jax.random.normal(jax.random.key(2), (200, 2)) + 4])
      >>> res = gmm_em(jax.random.key(0), x, 2, covariance_type="diag")
      >>> sorted(round(float(m)) for m in res.params.means[:, 0])
      [-4, 4]
      >>> keys = jax.random.split(jax.random.key(0), 4)  # four restarts in one program
      >>> jax.vmap(lambda k: gmm_em(k, x, 2).lower_bound)(keys).shape
      (4,)
    """
    x = _checks.as_float_array("x", x, 2)
    n, d = x.shape
    _checks.check_option("covariance_type", covariance_type, COVARIANCE_TYPES)
    _checks.check_option("m_step", m_step, M_STEPS)
    fixed = tuple(sorted(set(fixed)))
    for name in fixed:
        _checks.check_option("fixed parameter", name, FIXABLE)
    if isinstance(init, str):
        _checks.check_option("init", init, INITS)
    _checks.check_num_components("num_components", num_components, n)
    _checks.check_iters("num_iters", num_iters)
    _checks.check_iters("num_gradient_steps", num_gradient_steps)
    _checks.check_positive("reg_covar", reg_covar)
    _checks.check_positive("learning_rate", learning_rate)
    if float(tol) < 0:
        raise ValueError(f"tol must be >= 0, got {tol}.")
    _checks.check_finite("x", x)
    w = _weights(sample_weight, x)
    init_name, init_arrays = (
        (init, None)
        if isinstance(init, str)
        else ("given", _check_initial(init, x, num_components, covariance_type))
    )
    return _gmm_em(
        key,
        x,
        w,
        init_arrays,
        jnp.asarray(tol, x.dtype),
        jnp.asarray(reg_covar, x.dtype),
        jnp.asarray(learning_rate, x.dtype),
        init_name=init_name,
        k=num_components,
        covariance_type=covariance_type,
        num_iters=num_iters,
        m_step=m_step,
        num_gradient_steps=num_gradient_steps,
        fixed=fixed,
    )


@functools.partial(
    jax.jit,
    static_argnames=(
        "init_name",
        "k",
        "covariance_type",
        "num_iters",
        "m_step",
        "num_gradient_steps",
        "fixed",
    ),
)
def _gmm_em(
    key,
    x,
    w,
    init_arrays,
    tol,
    reg_covar,
    learning_rate,
    *,
    init_name,
    k,
    covariance_type,
    num_iters,
    m_step,
    num_gradient_steps,
    fixed=(),
):
    init = init_name if init_arrays is None else init_arrays
    params = _initial_params(key, x, w, k, covariance_type, init, reg_covar)
    initial = params
    total = jnp.sum(w)

    def cond(carry):
        i, _, _, _, converged = carry
        return (i < num_iters) & ~converged

    def body(carry):
        i, params, prev, bounds, _ = carry
        log_norm, log_resp = e_step(x, params, covariance_type)
        bound = jnp.sum(w * log_norm) / total
        resp = w[:, None] * jnp.exp(log_resp)
        if m_step == "closed_form":
            params = gaussian_statistics(x, resp, reg_covar, covariance_type)
        else:
            params = _gradient_m_step(
                x, resp, params, covariance_type, learning_rate, num_gradient_steps
            )
        if "weights" in fixed:
            params = params._replace(weights=initial.weights)
        if "covariances" in fixed:
            params = params._replace(
                covariances=initial.covariances, precisions_cholesky=initial.precisions_cholesky
            )
        converged = jnp.abs(bound - prev) < tol
        return i + 1, params, bound, bounds.at[i].set(bound), converged

    bounds = jnp.zeros((num_iters,), x.dtype)
    carry = (jnp.int32(0), params, jnp.asarray(-jnp.inf, x.dtype), bounds, jnp.bool_(False))
    iters, params, bound, bounds, converged = jax.lax.while_loop(cond, body, carry)
    bounds = jnp.where(jnp.arange(num_iters) < iters, bounds, bound)
    return GMMResult(params, bound, bounds, iters, converged)
