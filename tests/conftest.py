"""What the tests share: the persistent compilation cache, and helpers of several test files.

The compilation cache lives in ``$JAX_COMPILATION_CACHE_DIR`` (default
``~/.cache/gendiff-tests/jax``); the directory and thresholds are also exported as environment
variables, so the subprocesses that tests start (CLI runs, multi-process runs) share the cache.

Helpers used by more than one test file live here, and test files take them with
``from conftest import ...``; test files never import each other.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np

from gendiff._testing import use_persistent_compilation_cache
from gendiff.ssm.selective_scan import selective_scan

# ----------------------------------------------------------------------------- compilation cache

CACHE_DIR = use_persistent_compilation_cache()


# ----------------------------------------------------------------------------- score matching
# x ~ N(GAUSS_MU, GAUSS_SIGMA) in GAUSS_D = 3 dimensions and a linear model s(x) = -P (x - M) that
# is not the truth: the data of the closed-form tests of test_score_losses.py and
# test_score_denoising.py.

GAUSS_D = 3
GAUSS_MU = np.array([0.5, -1.0, 2.0])
_A = np.array([[1.0, 0.0, 0.0], [0.5, 0.8, 0.0], [-0.3, 0.4, 0.6]])
GAUSS_SIGMA = _A @ _A.T
GAUSS_SIGMA_INV = np.linalg.inv(GAUSS_SIGMA)
# A model that is not the truth; P deliberately non-symmetric.
GAUSS_P = np.array([[1.5, 0.3, 0.0], [-0.2, 2.0, 0.4], [0.1, 0.0, 1.2]])
GAUSS_M = np.array([0.0, -0.5, 1.5])


def linear_score(p, m):
    """s(x) = -P (x - m) as a function of a batch x (batch, D)."""
    p, m = jnp.asarray(p, jnp.float32), jnp.asarray(m, jnp.float32)
    return lambda x: -(x - m) @ p.T


def gaussian_monte_carlo(value_fn, num_batches=64, batch=4096, seed=0):
    """Mean and standard error of value_fn(key, x) over independent batches x ~ N(mu, Sigma)."""
    chol = jnp.asarray(np.linalg.cholesky(GAUSS_SIGMA), jnp.float32)
    mu = jnp.asarray(GAUSS_MU, jnp.float32)

    def one(key):
        key_x, key_loss = jax.random.split(key)
        x = mu + jax.random.normal(key_x, (batch, GAUSS_D)) @ chol.T
        return value_fn(key_loss, x)

    keys = jax.random.split(jax.random.key(seed), num_batches)
    values = np.asarray(jax.jit(jax.vmap(one))(keys), np.float64)
    return values.mean(), values.std(ddof=1) / np.sqrt(num_batches)


def assert_within_standard_errors(estimate, expected):
    """A Monte Carlo (mean, standard error) within 4 standard errors (+ 1e-4) of ``expected``."""
    mean, se = estimate
    print(f"estimate {mean:.5f} +- {se:.5f}, closed form {expected:.5f}")
    assert abs(mean - expected) < 4 * se + 1e-4, (mean, expected, se)


# ----------------------------------------------------------------------------- selective scan
# Inputs, a float64 reference and comparisons of test_ssm_selective_scan.py,
# test_ssm_pallas_scan.py and test_ssm_recompute.py.

SCAN_ARG_NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")

# name -> (B groups or None for a shared (b, l, n) B, C groups or None, use D, use z,
#          use delta_bias + softplus, return_last_state, chunk)
SCAN_OPTIONS = {
    "plain": (None, None, False, False, False, False, 16),
    "groups_gate": (2, 4, True, True, False, False, 16),
    "full": (2, None, True, True, True, True, 16),
}

# (length, options): length 1, an odd length, several chunks with a padded tail chunk
# (130 = 8 * 16 + 2), every option on and off at least once.
SCAN_CASES = [(1, "plain"), (7, "groups_gate"), (130, "full")]


def scan_inputs(seed, batch, length, d, n, b_groups, c_groups):
    """Random float32 arguments (drawn with NumPy: no per-shape compilation)."""
    rng = np.random.default_rng(seed)
    normal = lambda *shape: jnp.asarray(rng.standard_normal(shape), jnp.float32)

    def vectors(groups):
        return normal(batch, length, n) if groups is None else normal(batch, length, groups, n)

    return {
        "u": normal(batch, length, d),
        "delta": 0.5 * jnp.log1p(jnp.exp(normal(batch, length, d))),
        "A": -jnp.exp(0.5 * normal(d, n)),
        "B": vectors(b_groups),
        "C": vectors(c_groups),
        "D": normal(d),
        "z": normal(batch, length, d),
        "delta_bias": 0.3 * normal(d),
    }


def scan_reference(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Float64 loop over time; groups expanded by repetition over channels."""
    u, delta, A, B, C = (np.asarray(x, np.float64) for x in (u, delta, A, B, C))
    d = u.shape[-1]
    if delta_bias is not None:
        delta = delta + np.asarray(delta_bias, np.float64)
    if delta_softplus:
        delta = np.log1p(np.exp(delta))
    B, C = (x[:, :, None, :] if x.ndim == 3 else x for x in (B, C))
    B, C = np.repeat(B, d // B.shape[2], axis=2), np.repeat(C, d // C.shape[2], axis=2)
    h = np.zeros((u.shape[0], d, A.shape[1]))
    ys = []
    for t in range(u.shape[1]):
        h = np.exp(delta[:, t, :, None] * A) * h + delta[:, t, :, None] * B[:, t] * u[:, t, :, None]
        ys.append(np.sum(C[:, t] * h, axis=-1))
    y = np.stack(ys, axis=1)
    if D is not None:
        y = y + np.asarray(D, np.float64) * u
    if z is not None:
        z = np.asarray(z, np.float64)
        y = y * z / (1.0 + np.exp(-z))
    return y, h


def scan_call(args, method, options):
    """selective_scan of ``args`` with the options of a :data:`SCAN_OPTIONS` entry."""
    _, _, use_D, use_z, use_bias, last_state, chunk = options
    return selective_scan(
        args["u"],
        args["delta"],
        args["A"],
        args["B"],
        args["C"],
        D=args["D"] if use_D else None,
        z=args["z"] if use_z else None,
        delta_bias=args["delta_bias"] if use_bias else None,
        delta_softplus=use_bias,
        return_last_state=last_state,
        method=method,
        chunk=chunk,
    )


def assert_scan_close(actual, expected, rtol=1e-5):
    """Elementwise agreement to rtol relative to the largest magnitude of ``expected``."""
    expected = np.asarray(expected, np.float64)
    scale = max(float(np.max(np.abs(expected))), 1e-30)
    np.testing.assert_allclose(
        np.asarray(actual, np.float64), expected, rtol=rtol, atol=rtol * scale
    )


def scan_grid_case(length, option_name):
    """(args, options, f): f(method) -> (outputs, gradients of a random linear functional)."""
    options = SCAN_OPTIONS[option_name]
    batch, d, n = 2, 8, 4
    args = scan_inputs(length, batch, length, d, n, options[0], options[1])
    rng = np.random.default_rng(1000 + length)
    w = jnp.asarray(rng.standard_normal((batch, length, d)), jnp.float32)
    v = jnp.asarray(rng.standard_normal((batch, d, n)), jnp.float32)

    def functional(method):
        def f(args):  # sum(w * y) (+ sum(v * h_last))
            out = scan_call(args, method, options)
            if options[5]:
                return jnp.sum(w * out[0]) + jnp.sum(v * out[1]), out
            return jnp.sum(w * out), out

        (_, out), grads = jax.jit(jax.value_and_grad(f, has_aux=True))(args)
        return out, grads

    return args, options, functional


def assert_scan_method_matches_sequential(functional, method, out_ref, grads_ref):
    """``functional(method)``'s outputs and gradients equal the sequential method's."""
    out, grads = functional(method)
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(out_ref)):
        assert_scan_close(a, b)
    for name in SCAN_ARG_NAMES:
        assert_scan_close(grads[name], grads_ref[name])


# ----------------------------------------------------------------------------- end-to-end runs


def logged_losses(workdir) -> list[float]:
    """The training losses logged in ``workdir/metrics.jsonl``, in step order."""
    from gendiff.train import read_metrics

    records = read_metrics(os.path.join(workdir, "metrics.jsonl"))
    assert records, f"no metrics logged in {workdir}"
    return [r["loss"] for r in records]


def assert_loss_fell(workdir, margin: float = 0.0, factor: float = 1.0, last: int = 5) -> None:
    """The mean of the last ``last`` logged losses is below ``factor * first - margin``.

    With ``log_every=1`` the first record is the loss of the network it started from (step 1's
    loss is computed before its update): the untrained network, or the teacher a distilled
    student starts as. It is the baseline every trained model must beat.
    """
    losses = logged_losses(workdir)
    assert len(losses) > last, f"too few logged steps in {workdir}: {losses}"
    final = float(np.mean(losses[-last:]))
    assert final < factor * losses[0] - margin, (
        f"{workdir}: loss went from {losses[0]:.4f} (step 1) to {final:.4f} (mean of the last "
        f"{last}); expected below {factor} x {losses[0]:.4f} - {margin}"
    )
