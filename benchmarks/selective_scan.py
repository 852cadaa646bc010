"""Speed of the selective scan methods against a per-step Python loop.

For each method ('sequential', 'associative', 'chunked', 'recompute', 'pallas') and pass
('fwd': y from the inputs; 'fwd+bwd': the gradient of a fixed linear functional sum(w * y) with
respect to u, delta, A, B, C, D, z), compile, time ``--reps`` runs with block_until_ready and
print one JSON object:

    {"benchmark": "selective_scan", "method": "chunked", "pass": "fwd", "batch": 2,
     "length": 1024, "d": 256, "n": 16, "ms": ..., "compile_s": ..., "bytes": ...,
     "bytes_per_s": ..., "device": "cpu", "backend": "cpu"}

'pallas' runs only on accelerators: on CPU its kernel is interpreted (a correctness tool, far
slower than the jitted methods), so its record there is only
{"benchmark": "selective_scan", "method": "pallas", "pass": ..., "skipped": "interpret mode on cpu"}.

``python_loop`` is the reference implementation's style: deltaA and deltaB_u precomputed for the
whole sequence, then a Python loop over length calling a jitted single-step update
h = deltaA_t * h + deltaB_u_t, y_t = C_t . h (forward only). Its record also carries
``best_method`` (the fastest jitted method on the forward pass) and
``best_method_speedup_vs_loop`` = loop ms / best method ms.

Bytes moved are the compulsory traffic of the operation at float32 (4 bytes per element),
not counting the (batch, length, d, n) states, which a fused kernel never writes to memory:
  fwd:     reads of u, delta, z (b l d each), B, C (b l n each), A (d n), D (d); write of y (b l d)
  fwd+bwd: the fwd bytes, plus a second read of the inputs and a read of dy (b l d) in the
           backward pass, plus writes of the input gradients (the inputs' sizes again)
so fwd+bwd bytes = fwd bytes + 3 * input bytes. bytes_per_s = bytes / (ms / 1000).

Usage:
    python -m benchmarks.selective_scan                      # (2, 1024, 256, 16), ~1 min on CPU
    python -m benchmarks.selective_scan --shape 8,2048,512,16 --reps 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.ssm.selective_scan import selective_scan

METHODS = ("sequential", "associative", "chunked", "recompute", "pallas")
BYTES_PER_ELEMENT = 4  # float32


def make_inputs(batch: int, length: int, d: int, n: int) -> dict:
    """Mamba-like float32 arguments: softplus-positive delta, negative A."""
    rng = np.random.default_rng(0)
    normal = lambda *shape: jnp.asarray(rng.standard_normal(shape), jnp.float32)
    return {
        "u": normal(batch, length, d),
        "delta": jax.nn.softplus(normal(batch, length, d) - 2.0),
        "A": -jnp.exp(normal(d, n)),
        "B": normal(batch, length, n),
        "C": normal(batch, length, n),
        "D": normal(d),
        "z": normal(batch, length, d),
    }


def bytes_moved(batch: int, length: int, d: int, n: int, pass_: str) -> int:
    """Compulsory traffic of one pass (see the module docstring)."""
    inputs = 3 * batch * length * d + 2 * batch * length * n + d * n + d
    fwd = inputs + batch * length * d
    return BYTES_PER_ELEMENT * (fwd if pass_ == "fwd" else fwd + 3 * inputs)


def time_fn(fn, args, reps: int) -> tuple[float, float]:
    """(compile + first run seconds, median ms over ``reps`` runs)."""
    start = time.perf_counter()
    jax.block_until_ready(fn(args))
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        jax.block_until_ready(fn(args))
        times.append(1000.0 * (time.perf_counter() - start))
    return compile_s, statistics.median(times)


def method_fn(method: str, pass_: str, w: jax.Array):
    """The jitted forward, or gradient of sum(w * y) over all inputs, for one method."""

    def forward(args):
        return selective_scan(**args, method=method)

    if pass_ == "fwd":
        return jax.jit(forward)
    return jax.jit(jax.grad(lambda args: jnp.sum(w * forward(args))))


def python_loop(args: dict) -> jax.Array:
    """The reference's style: precompute deltaA, deltaB_u; loop over length in Python."""
    deltaA, deltaB_u = _discretize(args["delta"], args["A"], args["B"], args["u"])
    h = jnp.zeros(deltaA.shape[:1] + deltaA.shape[2:], jnp.float32)
    ys = []
    for t in range(deltaA.shape[1]):
        h, y_t = _step(h, deltaA[:, t], deltaB_u[:, t], args["C"][:, t])
        ys.append(y_t)
    return _finish(jnp.stack(ys, axis=1), args["u"], args["D"], args["z"])


@jax.jit
def _discretize(delta, A, B, u):
    return jnp.exp(delta[..., None] * A), delta[..., None] * B[:, :, None, :] * u[..., None]


@jax.jit
def _step(h, deltaA_t, deltaB_u_t, C_t):
    h = deltaA_t * h + deltaB_u_t
    return h, jnp.einsum("bdn,bn->bd", h, C_t)


@jax.jit
def _finish(y, u, D, z):
    return (y + D * u) * jax.nn.silu(z)


def record(method: str, pass_: str, shape: tuple, ms: float, compile_s: float) -> dict:
    """The JSON record of one timing."""
    nbytes = bytes_moved(*shape, pass_)
    device = jax.devices()[0]
    return {
        "benchmark": "selective_scan",
        "method": method,
        "pass": pass_,
        **dict(zip(("batch", "length", "d", "n"), shape)),
        "ms": round(ms, 3),
        "compile_s": round(compile_s, 2),
        "bytes": nbytes,
        "bytes_per_s": round(nbytes / (ms / 1000.0)),
        "device": device.device_kind,
        "backend": jax.default_backend(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="2,1024,256,16", help="batch,length,d,n")
    parser.add_argument("--reps", type=int, default=5, help="timed runs per jitted method")
    parser.add_argument("--loop-reps", type=int, default=2, help="timed runs of the Python loop")
    args = parser.parse_args(argv)
    shape = tuple(int(s) for s in args.shape.split(","))
    inputs = make_inputs(*shape)
    w = jnp.asarray(np.random.default_rng(1).standard_normal(shape[:3]), jnp.float32)
    fwd_ms = {}
    for pass_ in ("fwd", "fwd+bwd"):
        for method in METHODS:
            if method == "pallas" and jax.default_backend() == "cpu":
                skipped = {"method": method, "pass": pass_, "skipped": "interpret mode on cpu"}
                print(json.dumps({"benchmark": "selective_scan", **skipped}), flush=True)
                continue
            compile_s, ms = time_fn(method_fn(method, pass_, w), inputs, args.reps)
            if pass_ == "fwd":
                fwd_ms[method] = ms
            print(json.dumps(record(method, pass_, shape, ms, compile_s)), flush=True)
    compile_s, ms = time_fn(python_loop, inputs, args.loop_reps)
    best = min(fwd_ms, key=fwd_ms.get)
    print(
        json.dumps(
            {
                **record("python_loop", "fwd", shape, ms, compile_s),
                "best_method": best,
                "best_method_speedup_vs_loop": round(ms / fwd_ms[best], 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
