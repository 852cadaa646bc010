"""The selective scan with a hand-written backward pass that recomputes the states.

Reverse-mode autodiff of a scan stores every state h_t, O(b l d n) memory. Here the forward pass
keeps only the state entering each chunk of T steps; the backward pass walks the chunks in
reverse, recomputes the T states of a chunk from its first state, and runs the adjoint
recurrence through them: O(b (l / T + T) d n) memory.

With a_t = exp(delta_t A), x_t = spread(delta_t u_t, B_t), h_t = a_t h_{t-1} + x_t and
y_t = readout(h_t, C_t), the adjoint of h_t is

  G_t = spread(dy_t, C_t) + a_{t+1} G_{t+1},   G_{l-1} = spread(dy_{l-1}, C_{l-1}) + dh_last,

and the input gradients follow from q_t = G_t h_{t-1} a_t (the adjoint of delta_t A):

  du_t     = delta_t readout(G_t, B_t)
  ddelta_t = u_t readout(G_t, B_t) + sum_n q_t A
  dA       = sum_{b, t} q_t delta_t
  dB_t     = group_sum(G_t delta_t u_t),   dC_t = group_sum(h_t dy_t).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from gendiff.ssm.scan_ops import from_chunks, group_sum, readout, spread, to_chunks


def _run(h0, A, delta, u, B, C=None):
    """The recurrence over axis 0 of (T, b, ...) inputs from h0; emits y_t if C is given, else h_t."""

    def step(h, xs):
        delta_t, u_t, B_t = xs[:3]
        h = jnp.exp(delta_t[..., None] * A) * h + spread(delta_t * u_t, B_t)
        return h, (h if C is None else readout(h, xs[3]))

    xs = (delta, u, B) if C is None else (delta, u, B, C)
    return jax.lax.scan(step, h0, xs)


def _forward(u, delta, A, B, C, chunk):
    """(y, h_last, h_starts): h_starts[k] is the state entering chunk k, (num_chunks, b, d, n)."""
    batch, length, d = u.shape
    T = min(chunk, length)

    def chunk_step(h0, xs):
        h_end, y = _run(h0, A, *xs)
        return h_end, (y, h0)

    h0 = jnp.zeros((batch, d, A.shape[1]), jnp.float32)
    xs = tuple(to_chunks(x, T) for x in (delta, u, B, C))
    h_last, (y, h_starts) = jax.lax.scan(chunk_step, h0, xs)
    return from_chunks(y, length), h_last, h_starts


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def scan_recompute(u, delta, A, B, C, chunk):
    """y and h_last of the selective scan, sequential forward, recomputing backward.

    Arguments are float32 and already prepared by :func:`gendiff.ssm.selective_scan`
    (delta after bias and softplus, B and C of shape (batch, length, groups, n)). Supports
    reverse-mode differentiation only (no jvp, no second derivatives).

    Returns:
      y (batch, length, d) before the skip and gate, and h_last (batch, d, n).
    """
    y, h_last, _ = _forward(u, delta, A, B, C, chunk)
    return y, h_last


def _scan_recompute_fwd(u, delta, A, B, C, chunk):
    y, h_last, h_starts = _forward(u, delta, A, B, C, chunk)
    return (y, h_last), (u, delta, A, B, C, h_starts)


def _scan_recompute_bwd(chunk, residuals, cotangents):
    u, delta, A, B, C, h_starts = residuals
    dy, dh_last = cotangents
    length = u.shape[1]
    T = min(chunk, length)

    def back_step(carry, xs):
        r, dA = carry  # r = a_{t+1} G_{t+1}, the adjoint arriving from step t + 1
        h_t, h_prev, delta_t, u_t, B_t, C_t, dy_t = xs
        a_t = jnp.exp(delta_t[..., None] * A)
        G = r + spread(dy_t, C_t)  # adjoint of h_t
        q = G * h_prev * a_t  # adjoint of delta_t A
        GB = readout(G, B_t)
        du = delta_t * GB
        ddelta = u_t * GB + jnp.sum(q * A, axis=-1)
        dB = group_sum(G * (delta_t * u_t)[..., None], B_t.shape[-2])
        dC = group_sum(h_t * dy_t[..., None], C_t.shape[-2])
        dA = dA + jnp.sum(q * delta_t[..., None], axis=0)
        return (a_t * G, dA), (du, ddelta, dB, dC)

    def chunk_step(carry, xs):
        h0, delta_c, u_c, B_c, C_c, dy_c = xs
        _, h = _run(h0, A, delta_c, u_c, B_c)  # recompute the chunk's states (T, b, d, n)
        h_prev = jnp.concatenate([h0[None], h[:-1]], axis=0)
        back_xs = (h, h_prev, delta_c, u_c, B_c, C_c, dy_c)
        return jax.lax.scan(back_step, carry, back_xs, reverse=True)

    xs = (h_starts,) + tuple(to_chunks(x, T) for x in (delta, u, B, C, dy))
    (_, dA), grads = jax.lax.scan(chunk_step, (dh_last, jnp.zeros_like(A)), xs, reverse=True)
    du, ddelta, dB, dC = (from_chunks(g, length) for g in grads)
    return du, ddelta, dA, dB, dC


scan_recompute.defvjp(_scan_recompute_fwd, _scan_recompute_bwd)
