"""Tests of the Pallas selective scan (interpret mode on CPU) against the sequential reference."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import SCAN_ARG_NAMES as ARG_NAMES
from conftest import SCAN_CASES as CASES
from conftest import assert_scan_close as _assert_close
from conftest import assert_scan_method_matches_sequential as assert_method_matches_sequential
from conftest import scan_grid_case as grid_case
from conftest import scan_inputs as _inputs
from conftest import scan_reference as _numpy_reference

from gendiff.ssm import resolve_method, selective_scan
from gendiff.ssm.pallas_scan import _forward


# Length 1, an odd length, a padded tail chunk (130 = 8 * 16 + 2); every option on and off.
@pytest.mark.parametrize("length, option_name", CASES + [(1, "full")])
def test_pallas_matches_sequential_in_value_and_gradient(length, option_name):
    _, _, functional = grid_case(length, option_name)
    out_ref, grads_ref = functional("sequential")
    assert_method_matches_sequential(functional, "pallas", out_ref, grads_ref)


def test_pallas_odd_state_and_channel_sizes():
    # n = 3 is padded to 4 inside; d = 6 with 3 groups of B gives channel blocks of 2; the chunk
    # of 2 splits length 5 into 2 + 2 + 1 for the backward pass.
    args = _inputs(12, 2, 5, 6, 3, 3, None)
    w = jnp.asarray(np.random.default_rng(5).standard_normal((2, 5, 6)), jnp.float32)
    v = jnp.asarray(np.random.default_rng(6).standard_normal((2, 6, 3)), jnp.float32)

    def run(method):
        def f(args):  # sum(w * y) + sum(v * h_last)
            y, h_last = selective_scan(
                **args, delta_softplus=True, return_last_state=True, method=method, chunk=2
            )
            return jnp.sum(w * y) + jnp.sum(v * h_last), (y, h_last)

        return jax.jit(jax.value_and_grad(f, has_aux=True))(args)

    (_, (y, h_last)), grads = run("pallas")
    (_, (y_ref, h_ref)), grads_ref = run("sequential")
    y_np, h_np = _numpy_reference(**args, delta_softplus=True)
    _assert_close(y, y_np)
    _assert_close(h_last, h_np)
    _assert_close(y, y_ref)
    _assert_close(h_last, h_ref)
    for name in ARG_NAMES:
        _assert_close(grads[name], grads_ref[name])


def test_pallas_is_explicit_only():
    assert resolve_method("pallas", 100, backend="gpu") == "pallas"
    assert resolve_method("auto", 100, backend="gpu") == "chunked"
    assert resolve_method("auto", 100, backend="cpu") == "recompute"


@pytest.mark.parametrize("shape", [(2, 37, 64, 16, 1, 2), (1, 1, 6, 3, 3, 1)])
def test_compiled_path_lowers_to_triton(shape):
    # No GPU here: lower the GPU path for the cuda platform and check that the kernel became a
    # Triton call (this fails on, e.g., non-power-of-two tensors or ops Triton cannot lower).
    batch, length, d, n, b_groups, c_groups = shape
    f32 = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)
    args = (
        f32(batch, length, d),
        f32(batch, length, d),
        f32(d, n),
        f32(batch, length, b_groups, n),
        f32(batch, length, c_groups, n),
    )
    forward = jax.jit(functools.partial(_forward, chunk=16, backend="gpu"))
    text = forward.trace(*args).lower(lowering_platforms=("cuda",)).as_text()
    assert text.count("xla.gpu.triton") == 1
