"""Tests of the selective scan: methods agree in value and gradient, and match the reference."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.ssm.selective_scan import resolve_method, selective_scan

ARG_NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")

# name -> (B groups or None for a shared (b, l, n) B, C groups or None, use D, use z,
#          use delta_bias + softplus, return_last_state, chunk)
OPTIONS = {
    "plain": (None, None, False, False, False, False, 16),
    "groups_gate": (2, 4, True, True, False, False, 16),
    "full": (2, None, True, True, True, True, 16),
}


def _inputs(seed, batch, length, d, n, b_groups, c_groups):
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


def _numpy_reference(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
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


def _call(args, method, options):
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


def _assert_close(actual, expected, rtol=1e-5):
    """Elementwise agreement to rtol relative to the largest magnitude of ``expected``."""
    expected = np.asarray(expected, np.float64)
    scale = max(float(np.max(np.abs(expected))), 1e-30)
    np.testing.assert_allclose(
        np.asarray(actual, np.float64), expected, rtol=rtol, atol=rtol * scale
    )


# (length, options): length 1, an odd length, several chunks with a padded tail chunk
# (130 = 8 * 16 + 2), every option on and off at least once.
CASES = [(1, "plain"), (7, "groups_gate"), (130, "full")]


def grid_case(length, option_name):
    """(args, options, f): f(method) -> (outputs, gradients of a random linear functional)."""
    options = OPTIONS[option_name]
    batch, d, n = 2, 8, 4
    args = _inputs(length, batch, length, d, n, options[0], options[1])
    rng = np.random.default_rng(1000 + length)
    w = jnp.asarray(rng.standard_normal((batch, length, d)), jnp.float32)
    v = jnp.asarray(rng.standard_normal((batch, d, n)), jnp.float32)

    def functional(method):
        def f(args):  # sum(w * y) (+ sum(v * h_last))
            out = _call(args, method, options)
            if options[5]:
                return jnp.sum(w * out[0]) + jnp.sum(v * out[1]), out
            return jnp.sum(w * out), out

        (_, out), grads = jax.jit(jax.value_and_grad(f, has_aux=True))(args)
        return out, grads

    return args, options, functional


def assert_method_matches_sequential(functional, method, out_ref, grads_ref):
    out, grads = functional(method)
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(out_ref)):
        _assert_close(a, b)
    for name in ARG_NAMES:
        _assert_close(grads[name], grads_ref[name])


@pytest.mark.parametrize("length, option_name", CASES)
def test_methods_agree_in_value_and_gradient(length, option_name):
    args, options, functional = grid_case(length, option_name)
    out_ref, grads_ref = functional("sequential")
    # The sequential scan itself matches a float64 loop over time.
    y_np, h_np = _numpy_reference(
        args["u"],
        args["delta"],
        args["A"],
        args["B"],
        args["C"],
        D=args["D"] if options[2] else None,
        z=args["z"] if options[3] else None,
        delta_bias=args["delta_bias"] if options[4] else None,
        delta_softplus=options[4],
    )
    if options[5]:
        _assert_close(out_ref[0], y_np)
        _assert_close(out_ref[1], h_np)
    else:
        _assert_close(out_ref, y_np)
    for method in ("associative", "chunked"):  # recompute: tests/test_ssm_recompute.py
        assert_method_matches_sequential(functional, method, out_ref, grads_ref)


@pytest.mark.parametrize("method", ["sequential", "associative", "chunked", "recompute"])
def test_hand_computed_length_two(method):
    # a = -0.5, delta = (0.5, 2), u = (1, -2), B = (3, 1), C = (2, -1), D = 0.5, z = (0, 1)
    # h_0 = 0.5 * 3 * 1 = 1.5,                 y_0 = (2 * 1.5 + 0.5 * 1) * silu(0) = 0
    # h_1 = e^{-1} * 1.5 + 2 * 1 * (-2),       y_1 = (-h_1 + 0.5 * (-2)) * silu(1)
    h1 = math.exp(-1.0) * 1.5 - 4.0
    y1 = (-h1 - 1.0) / (1.0 + math.exp(-1.0))
    col = lambda *x: jnp.array(x).reshape(1, len(x), 1)
    y, h_last = selective_scan(
        col(1.0, -2.0),
        col(0.5, 2.0),
        jnp.array([[-0.5]]),
        col(3.0, 1.0),
        col(2.0, -1.0),
        D=jnp.array([0.5]),
        z=col(0.0, 1.0),
        return_last_state=True,
        method=method,
        chunk=1,
    )
    np.testing.assert_allclose(y[0, :, 0], [0.0, y1], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h_last[0, 0, 0], h1, rtol=1e-6)


def test_jit_matches_eager():
    args = _inputs(7, 1, 5, 4, 3, 2, None)
    options = OPTIONS["full"][:-1] + (2,)  # chunk 2: two full chunks and a padded one
    for method in ("sequential", "associative", "chunked"):
        eager = _call(args, method, options)
        jitted = jax.jit(lambda args: _call(args, method, options))(args)
        for a, b in zip(jax.tree.leaves(jitted), jax.tree.leaves(eager)):
            _assert_close(a, b, rtol=1e-6)


def test_bfloat16_inputs_compute_in_float32():
    args = _inputs(8, 2, 20, 4, 3, None, None)
    low = {k: x.astype(jnp.bfloat16) for k, x in args.items()}
    y_low = _call(low, "chunked", OPTIONS["plain"])
    assert y_low.dtype == jnp.bfloat16
    up = {k: x.astype(jnp.float32) for k, x in low.items()}
    y_up = _call(up, "sequential", OPTIONS["plain"])
    # Same values to bfloat16 rounding of the output only (8 bits of mantissa).
    _assert_close(y_low.astype(jnp.float32), y_up.astype(jnp.bfloat16).astype(jnp.float32), 1e-6)


def test_resolve_method_rule_and_errors():
    assert resolve_method("auto", 65, chunk=64, backend="gpu") == "chunked"
    assert resolve_method("auto", 64, chunk=64, backend="gpu") == "sequential"
    assert resolve_method("auto", 4096, chunk=64, backend="cpu") == "recompute"
    assert resolve_method("associative", 10, backend="cpu") == "associative"
    args = _inputs(9, 1, 5, 4, 3, None, None)
    with pytest.raises(ValueError, match="sequential"):
        _call(args, "cuda", OPTIONS["plain"])
    bad = dict(args, B=jnp.ones((1, 5, 3, 3)))  # 3 groups do not divide d = 4
    with pytest.raises(ValueError, match=r"\(batch, length, n\) = \(1, 5, 3\)"):
        _call(bad, "sequential", OPTIONS["plain"])
    with pytest.raises(ValueError, match="A must have shape"):
        _call(dict(args, A=jnp.ones((3, 3))), "sequential", OPTIONS["plain"])
    with pytest.raises(ValueError, match="delta must have"):
        _call(dict(args, delta=args["delta"][:, :4]), "sequential", OPTIONS["plain"])
    with pytest.raises(ValueError, match="D must have shape"):
        _call(dict(args, D=jnp.ones(3)), "sequential", OPTIONS["full"])


def test_positive_a_warns_and_negative_does_not():
    args = _inputs(10, 1, 5, 4, 3, None, None)
    with pytest.warns(UserWarning, match="decay needs A < 0"):
        _call(dict(args, A=-args["A"]), "sequential", OPTIONS["plain"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _call(args, "sequential", OPTIONS["plain"])
