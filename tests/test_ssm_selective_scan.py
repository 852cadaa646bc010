"""Tests of the selective scan: methods agree in value and gradient, and match the reference."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import SCAN_CASES as CASES
from conftest import SCAN_OPTIONS as OPTIONS
from conftest import assert_scan_close as _assert_close
from conftest import assert_scan_method_matches_sequential as assert_method_matches_sequential
from conftest import scan_call as _call
from conftest import scan_grid_case as grid_case
from conftest import scan_inputs as _inputs
from conftest import scan_reference as _numpy_reference

from gendiff.ssm.selective_scan import resolve_method, selective_scan


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
