"""Tests of the selective scan whose backward pass recomputes the states."""

import jax
import jax.numpy as jnp
import pytest
from conftest import SCAN_CASES as CASES
from conftest import SCAN_OPTIONS as OPTIONS
from conftest import assert_scan_close as _assert_close
from conftest import assert_scan_method_matches_sequential as assert_method_matches_sequential
from conftest import scan_call as _call
from conftest import scan_grid_case as grid_case
from conftest import scan_inputs as _inputs

from gendiff.ssm import selective_scan


@pytest.mark.parametrize("length, option_name", CASES + [(1, "full"), (64, "plain")])
def test_recompute_matches_sequential_in_value_and_gradient(length, option_name):
    _, _, functional = grid_case(length, option_name)
    out_ref, grads_ref = functional("sequential")
    assert_method_matches_sequential(functional, "recompute", out_ref, grads_ref)


def test_recompute_gradient_of_last_state_alone():
    # Only dh_last is nonzero: the adjoint enters at the last (padded) step and runs back through
    # every chunk (5 = 2 + 2 + 1 with chunk 2); C does not reach h_last, so dC = 0.
    args = _inputs(11, 1, 5, 4, 3, 2, None)
    names = ("u", "delta", "A", "B", "C")

    def grads(method):
        def f(*xs):
            y, h_last = selective_scan(*xs, return_last_state=True, method=method, chunk=2)
            return jnp.sum(h_last**2)

        return jax.jit(jax.grad(f, argnums=tuple(range(5))))(*(args[k] for k in names))

    grads_ref = grads("sequential")
    for g, g_ref in zip(grads("recompute"), grads_ref):
        _assert_close(g, g_ref)
    assert float(jnp.max(jnp.abs(grads_ref[2]))) > 0.0
    assert float(jnp.max(jnp.abs(grads_ref[4]))) == 0.0


def test_recompute_jit_matches_eager():
    args = _inputs(7, 1, 5, 4, 3, 2, None)
    options = OPTIONS["full"][:-1] + (2,)  # chunk 2: two full chunks and a padded one
    eager = _call(args, "recompute", options)
    jitted = jax.jit(lambda args: _call(args, "recompute", options))(args)
    sequential = _call(args, "sequential", options)
    for a, b, c in zip(
        jax.tree.leaves(jitted), jax.tree.leaves(eager), jax.tree.leaves(sequential)
    ):
        _assert_close(a, b, rtol=1e-6)
        _assert_close(a, c)
