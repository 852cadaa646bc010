"""The forward selective scan as a Pallas kernel; the backward pass recomputes the states.

The kernel runs on a grid over (batch, channel blocks). Each program owns block_d channels of one
batch element and walks the sequence one step at a time (``fori_loop``), keeping its (block_d, n)
state in registers: per step it reads u_t, delta_t (block_d,) and B_t, C_t (n,) of the group
serving its channels and writes y_t (block_d,):

  h_t = exp(delta_t A) * h_{t-1} + (delta_t u_t) B_t,   y_t = h_t C_t,

so no (batch, length, d, n) tensor is ever written. It also writes the state entering every
chunk of T steps; these are the residuals of the backward pass of
:mod:`gendiff.ssm.recompute`, which recomputes the states of one chunk at a time.

On CPU the kernel runs in Pallas' interpret mode (slow: for tests); on GPU it is compiled with
the Triton backend, which needs block_d * n to be a power of two: n is zero-padded to the next
power of two (A = 0, B = C = 0 on the padding keep those states at 0 and out of y), and
block_d is the largest power of two up to 32 dividing the channels of every group.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as pl_triton

from gendiff.ssm.recompute import _scan_recompute_bwd

MAX_BLOCK_D = 32


def _block_d(d: int, b_groups: int, c_groups: int) -> int:
    """The largest power of two <= MAX_BLOCK_D dividing d / groups for both B's and C's groups."""
    per_group = math.gcd(d // b_groups, d // c_groups)
    return math.gcd(per_group & -per_group, MAX_BLOCK_D)  # lowest set bit = largest 2^k divisor


def _scan_kernel(u_ref, delta_ref, A_ref, B_ref, C_ref, y_ref, h_last_ref, h_starts_ref, *, T):
    """One (batch element, channel block): the recurrence over the whole length."""
    length = u_ref.shape[0]
    A = A_ref[...]  # (block_d, n)

    def step(t, h):
        @pl.when(jax.lax.rem(t, T) == 0)  # lax.rem/div: t >= 0, and they lower to Triton
        def _():
            h_starts_ref[jax.lax.div(t, T)] = h  # the state entering chunk t // T

        delta_t, u_t = delta_ref[t], u_ref[t]  # (block_d,)
        h = jnp.exp(delta_t[:, None] * A) * h + (delta_t * u_t)[:, None] * B_ref[t][None, :]
        y_ref[t] = jnp.sum(h * C_ref[t][None, :], axis=1)  # y_t = C_t . h_t per channel
        return h

    h_last_ref[...] = jax.lax.fori_loop(0, length, step, jnp.zeros(A.shape, jnp.float32))


def _forward(u, delta, A, B, C, chunk, backend=None):
    """(y, h_last, h_starts) with h_starts of shape (num_chunks, batch, d, n), as in recompute.

    ``backend`` ('cpu': interpreted, anything else: Triton) defaults to jax.default_backend().
    """
    batch, length, d = u.shape
    n = A.shape[1]
    b_groups, c_groups = B.shape[2], C.shape[2]
    T = min(chunk, length)
    num_chunks = -(-length // T)
    n_pad = 1 << (n - 1).bit_length()  # next power of two
    if n_pad != n:
        A, B, C = (jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n_pad - n)]) for x in (A, B, C))
    block_d = _block_d(d, b_groups, c_groups)
    per_b, per_c = d // b_groups, d // c_groups  # channels per group

    seq = pl.BlockSpec((None, length, block_d), lambda i, j: (i, 0, j))
    on_gpu = (jax.default_backend() if backend is None else backend) != "cpu"
    y, h_last, h_starts = pl.pallas_call(
        functools.partial(_scan_kernel, T=T),
        out_shape=(
            jax.ShapeDtypeStruct((batch, length, d), jnp.float32),
            jax.ShapeDtypeStruct((batch, d, n_pad), jnp.float32),
            jax.ShapeDtypeStruct((num_chunks, batch, d, n_pad), jnp.float32),
        ),
        grid=(batch, d // block_d),
        in_specs=[
            seq,  # u
            seq,  # delta
            pl.BlockSpec((block_d, n_pad), lambda i, j: (j, 0)),  # A
            # B and C of the group g(c) = c // (d / groups) of the block's channels
            pl.BlockSpec(
                (None, length, None, n_pad), lambda i, j: (i, 0, jax.lax.div(j * block_d, per_b), 0)
            ),
            pl.BlockSpec(
                (None, length, None, n_pad), lambda i, j: (i, 0, jax.lax.div(j * block_d, per_c), 0)
            ),
        ],
        out_specs=(
            seq,
            pl.BlockSpec((None, block_d, n_pad), lambda i, j: (i, j, 0)),
            pl.BlockSpec((num_chunks, None, block_d, n_pad), lambda i, j: (0, i, j, 0)),
        ),
        interpret=not on_gpu,
        compiler_params=pl_triton.CompilerParams() if on_gpu else None,
        name="selective_scan_fwd",
    )(u, delta, A, B, C)
    return y, h_last[..., :n], h_starts[..., :n]


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def scan_pallas(u, delta, A, B, C, chunk):
    """y and h_last of the selective scan, Pallas forward, recomputing backward.

    Arguments are float32 and already prepared by :func:`gendiff.ssm.selective_scan`
    (delta after bias and softplus, B and C of shape (batch, length, groups, n)). The backward
    pass is :mod:`gendiff.ssm.recompute`'s, from the chunk-start states the kernel writes.
    Supports reverse-mode differentiation only (no jvp, no second derivatives).

    Returns:
      y (batch, length, d) before the skip and gate, and h_last (batch, d, n).
    """
    y, h_last, _ = _forward(u, delta, A, B, C, chunk)
    return y, h_last


def _scan_pallas_fwd(u, delta, A, B, C, chunk):
    y, h_last, h_starts = _forward(u, delta, A, B, C, chunk)
    return (y, h_last), (u, delta, A, B, C, h_starts)


scan_pallas.defvjp(_scan_pallas_fwd, _scan_recompute_bwd)
