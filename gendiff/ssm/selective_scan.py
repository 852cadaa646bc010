"""The selective scan of Mamba (Gu & Dao 2023), channels-last, with interchangeable methods.

Per batch element, channel c and state index n, with input-dependent step delta_t and input
and output vectors B_t, C_t:

  deltaA_t[c, n]   = exp(delta_t[c] A[c, n])                 (zero-order hold of A)
  deltaB_u_t[c, n] = delta_t[c] B_t[g(c), n] u_t[c]          (B discretised as delta B)
  h_t              = deltaA_t * h_{t-1} + deltaB_u_t,  h_{-1} = 0
  y_t[c]           = sum_n C_t[g(c), n] h_t[c, n] + D[c] u_t[c],  then y_t *= silu(z_t)

where g(c) = c // (d / groups) is the group of B and C serving channel c. The recurrence is a
linear scan over pairs (a, b) with the associative combination
(a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2), which is what the parallel methods exploit.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.ssm.pallas_scan import scan_pallas
from gendiff.ssm.recompute import scan_recompute
from gendiff.ssm.scan_ops import from_chunks, readout, spread, to_chunks

METHODS = ("auto", "sequential", "associative", "chunked", "recompute", "pallas")


def _combine(first, second):
    """(a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2): apply step 1, then step 2."""
    a1, b1 = first
    a2, b2 = second
    return a1 * a2, a2 * b1 + b2


def _scan_sequential(u, delta, A, B, C, chunk):
    """The reference: one step of the recurrence per iteration of lax.scan over length."""
    del chunk

    def step(h, xs):
        delta_t, u_t, B_t, C_t = xs
        h = jnp.exp(delta_t[..., None] * A) * h + spread(delta_t * u_t, B_t)
        return h, readout(h, C_t)

    batch, _, d = u.shape
    h0 = jnp.zeros((batch, d, A.shape[1]), jnp.float32)
    xs = tuple(jnp.moveaxis(x, 1, 0) for x in (delta, u, B, C))
    h_last, y = jax.lax.scan(step, h0, xs)
    return jnp.moveaxis(y, 0, 1), h_last


def _scan_associative(u, delta, A, B, C, chunk):
    """All states at once with jax.lax.associative_scan over length: O(b l d n) memory."""
    del chunk
    deltaA = jnp.exp(delta[..., None] * A)  # (b, l, d, n)
    _, h = jax.lax.associative_scan(_combine, (deltaA, spread(delta * u, B)), axis=1)
    return readout(h, C), h[:, -1]


def _scan_chunked(u, delta, A, B, C, chunk):
    """Associative scan within chunks of length T, the state carried across chunks by lax.scan.

    Within a chunk starting from state h0, the scan of the pairs gives cumulative products
    a_t = prod_{s <= t} deltaA_s and partial states b_t (from h0 = 0), so h_t = a_t h0 + b_t.
    The tail is padded with delta = 0, u = 0 (deltaA = 1, deltaB_u = 0): the padded steps leave
    the state unchanged, so the last state is exact. Live memory is O(b T d n) per chunk.
    """
    batch, length, d = u.shape

    def step(h0, xs):
        delta_c, u_c, B_c, C_c = xs  # (T, b, ...)
        deltaA = jnp.exp(delta_c[..., None] * A)  # (T, b, d, n)
        a, b = jax.lax.associative_scan(_combine, (deltaA, spread(delta_c * u_c, B_c)), axis=0)
        h = a * h0 + b  # h_t = a_t h0 + b_t
        return h[-1], readout(h, C_c)

    h0 = jnp.zeros((batch, d, A.shape[1]), jnp.float32)
    T = min(chunk, length)
    h_last, y = jax.lax.scan(step, h0, tuple(to_chunks(x, T) for x in (delta, u, B, C)))
    return from_chunks(y, length), h_last


_SCANS = {
    "sequential": _scan_sequential,
    "associative": _scan_associative,
    "chunked": _scan_chunked,
    "recompute": scan_recompute,
    "pallas": scan_pallas,
}


def resolve_method(method: str, length: int, chunk: int = 64, backend: str | None = None) -> str:
    """The concrete method that ``method`` stands for at sequence length ``length``.

    The rule for ``'auto'``:
      - on CPU, ``'recompute'`` at every length: a CPU runs the steps one after another anyway,
        the scan does O(l) work where the parallel scans do O(l log l), and recomputing the
        states in the backward pass beats storing them. Measured at (batch, length, d, n) =
        (2, 1024, 256, 16) on 2 shared cores (benchmarks/selective_scan.py), forward /
        forward+backward: recompute 14 / 65 ms, sequential 14 / 220 ms, chunked 80 / 700 ms,
        associative 136 / 1300 ms;
      - on accelerators (GPU, TPU), ``'chunked'`` when length > chunk, which exposes
        parallelism within chunks while bounding the live states to O(b chunk d n), and
        ``'sequential'`` for sequences of at most one chunk (not measured here). ``'pallas'``
        (one fused kernel per channel block, states never written to memory) is the candidate
        for GPUs but is never picked automatically: its speed has not been measured against
        these.

    ``'recompute'`` and ``'pallas'`` support reverse-mode differentiation only; ask for
    ``'sequential'`` explicitly for forward-mode (jvp) or higher-order derivatives.

    Args:
      method: one of 'auto', 'sequential', 'associative', 'chunked', 'recompute', 'pallas'.
      length: sequence length.
      chunk: chunk length of the chunked method.
      backend: 'cpu', 'gpu', 'tpu', ...; defaults to ``jax.default_backend()``.

    Returns:
      'sequential', 'associative', 'chunked', 'recompute' or 'pallas'.

    Example:
      >>> resolve_method("auto", 1024, backend="cpu"), resolve_method("auto", 1024, backend="gpu")
      ('recompute', 'chunked')
    """
    if method not in METHODS:
        raise ValueError(f"unknown selective scan method {method!r}; expected one of {METHODS}")
    if method != "auto":
        return method
    backend = jax.default_backend() if backend is None else backend
    if backend == "cpu":
        return "recompute"
    return "chunked" if length > chunk else "sequential"


def _check_inputs(u, delta, A, B, C, D, z, delta_bias, chunk):
    if u.ndim != 3:
        raise ValueError(f"u must have shape (batch, length, d), got {u.shape}")
    batch, length, d = u.shape
    for name, x in (("delta", delta), ("z", z)):
        if x is not None and x.shape != u.shape:
            raise ValueError(
                f"{name} must have u's shape (batch, length, d) = {u.shape}, got {x.shape}"
            )
    if A.ndim != 2 or A.shape[0] != d:
        raise ValueError(f"A must have shape (d, n) with d = {d}, got {A.shape}")
    if jnp.iscomplexobj(A):
        raise TypeError(f"A must be real, got dtype {A.dtype}")
    n = A.shape[1]
    for name, x in (("B", B), ("C", C)):
        ok = x.ndim in (3, 4) and x.shape[:2] == (batch, length) and x.shape[-1] == n
        if not ok or (x.ndim == 4 and d % x.shape[2] != 0):
            raise ValueError(
                f"{name} must have shape (batch, length, n) = {(batch, length, n)} or "
                f"(batch, length, groups, n) with groups dividing d = {d}, got {x.shape}"
            )
    for name, x in (("D", D), ("delta_bias", delta_bias)):
        if x is not None and x.shape != (d,):
            raise ValueError(f"{name} must have shape (d,) = {(d,)}, got {x.shape}")
    if not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    if not isinstance(A, jax.core.Tracer) and np.any(np.asarray(A) > 0):
        warnings.warn(
            "A has positive entries: exp(delta A) > 1 there and the state may grow without "
            "bound (decay needs A < 0)",
            stacklevel=3,
        )


def selective_scan(
    u: jax.Array,
    delta: jax.Array,
    A: jax.Array,
    B: jax.Array,
    C: jax.Array,
    D: jax.Array | None = None,
    z: jax.Array | None = None,
    delta_bias: jax.Array | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
    method: str = "auto",
    chunk: int = 64,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    """Mamba's selective scan (the semantics of its reference implementation), channels-last.

    delta <- delta + delta_bias (if given), then softplus(delta) if ``delta_softplus``; then the
    recurrence in the module docstring. The computation is in float32 whatever the input dtypes.

    Args:
      u: input (batch, length, d).
      delta: step sizes (batch, length, d).
      A: real state matrix (d, n); entries should be negative for the state to decay.
      B: input vectors (batch, length, n), or (batch, length, groups, n) with d divisible by
        groups: group g serves channels g d/groups, ..., (g + 1) d/groups - 1.
      C: output vectors, shaped like B (its groups may differ from B's).
      D: optional skip connection (d,): y += D u.
      z: optional gate (batch, length, d): ``y *= silu(z)``.
      delta_bias: optional (d,) added to delta before the softplus.
      delta_softplus: apply softplus to delta.
      return_last_state: also return the final state h_{L-1}.
      method: 'sequential' (lax.scan, one step per iteration; autodiff stores every state),
        'associative' (lax.associative_scan over the whole length), 'chunked' (associative
        within chunks, lax.scan across them), 'recompute' (sequential, with a backward pass
        that recomputes the states chunk by chunk, see :mod:`gendiff.ssm.recompute`), 'pallas'
        (a Pallas kernel for the forward pass, interpreted on CPU, with recompute's backward
        pass, see :mod:`gendiff.ssm.pallas_scan`) or 'auto' (see :func:`resolve_method`).
      chunk: chunk length of the chunked, recompute and pallas methods.

    Returns:
      y of shape (batch, length, d) in u's dtype, and, if ``return_last_state``, the last state
      of shape (batch, d, n) in float32.

    Example:
      >>> u = jnp.ones((1, 2, 1)); delta = jnp.ones((1, 2, 1)); A = -jnp.ones((1, 1))
      >>> B = C = jnp.ones((1, 2, 1))
      >>> y = selective_scan(u, delta, A, B, C, method="sequential")  # y_1 = e^{-1} + 1
      >>> [round(float(v), 4) for v in y[0, :, 0]]
      [1.0, 1.3679]
    """
    u, delta, A, B, C = (jnp.asarray(x) for x in (u, delta, A, B, C))
    D, z, delta_bias = (None if x is None else jnp.asarray(x) for x in (D, z, delta_bias))
    _check_inputs(u, delta, A, B, C, D, z, delta_bias, chunk)
    scan = _SCANS[resolve_method(method, u.shape[1], chunk)]
    out_dtype = u.dtype
    f32 = jnp.float32
    u, delta, A = u.astype(f32), delta.astype(f32), A.astype(f32)
    # A shared (batch, length, n) B or C is one group serving every channel.
    B, C = (x.astype(f32) if x.ndim == 4 else x.astype(f32)[:, :, None, :] for x in (B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.astype(f32)
    if delta_softplus:
        delta = jax.nn.softplus(delta)
    y, h_last = scan(u, delta, A, B, C, chunk)
    if D is not None:
        y = y + D.astype(f32) * u  # skip connection
    if z is not None:
        y = y * jax.nn.silu(z.astype(f32))  # gate
    y = y.astype(out_dtype)
    return (y, h_last) if return_last_state else y
