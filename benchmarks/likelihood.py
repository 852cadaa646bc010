"""Probability-flow likelihood: the jitted diffrax solve against a host-side scipy loop.

Both compute the uniformly dequantised bits/dim of the same data under the same model, with the
same tolerances, the same dequantisation noise and the same Hutchinson probes:

- library: ``jax.jit`` of :func:`gendiff.sde.likelihood.bits_per_dim`, the whole adaptive solve
  compiled into one XLA computation;
- host loop: ``scipy.integrate.solve_ivp`` (RK45) over the flattened numpy state, each
  evaluation of the augmented vector field a jitted JAX call from the host (the approach of
  the score_sde code base).

Model: ``MLPDenoiser`` eps-network with fixed random weights (the zero-initialised leaves, which
would make eps = 0 and the flow linear, are redrawn), wrapped as a score on ``VPPath``. Data: a
batch of flattened 8x8 digits (64 dims, 17 levels). The divergence is Hutchinson's with one
Rademacher probe per example, as score_sde does: the exact one costs D = 64 jvps per
evaluation. Compilation time (the first call) is excluded from the timings and reported apart.

The host loop pays a fixed cost per evaluation (scipy's Python stepping, host-device copies,
dispatch) on top of the network's compute, which the compiled solve does not, so the speedup is
about 1 + overhead / compute: largest for small networks and batches (and on accelerators), and
smaller when one evaluation of the network dominates, as for wide MLPs on a CPU. To show where a
run sits, each record also times ``compute_s``: the library's number of evaluations of the
augmented field run back to back in one compiled loop, with no solver around them. No solver
that evaluates the field as often can beat it, so ``host_loop_s / compute_s`` bounds the speedup
any compiled solve could reach on this machine. The two bits/dim differ by the solvers' error,
which shrinks with rtol and atol.

Prints one JSON object per MLP width:

    {"benchmark": "likelihood", "hidden": 32, "batch": 64, "dims": 64, "library_s": ...,
     "host_loop_s": ..., "speedup": ..., "compute_s": ..., "speedup_bound": ...,
     "library_bpd": ..., "host_loop_bpd": ..., ...}

Usage:
    python -m benchmarks.likelihood
    python -m benchmarks.likelihood --hidden 128 --batch 32 --rtol 1e-4 --atol 1e-4 --solver tsit5
"""

from __future__ import annotations

import argparse
import json
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate

from gendiff import data
from gendiff.nets import MLPDenoiser
from gendiff.paths import VPPath
from gendiff.score.divergence import sample_probes
from gendiff.sde.drifts import score_fn_from_model
from gendiff.sde.likelihood import (
    bits_per_dim,
    dequantize,
    discrete_nll_bound,
    prior_log_prob,
    velocity_and_divergence,
)


def make_score_fn(path, dims: int, hidden: int, depth: int):
    """A fixed random eps-MLP as a score function; zero-initialised leaves are redrawn."""
    model = MLPDenoiser(hidden=hidden, depth=depth)
    k_init, k_redraw = jax.random.split(jax.random.key(0))
    params = model.init(k_init, jnp.zeros((1, dims)), jnp.zeros((1,)))
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(k_redraw, len(leaves))
    leaves = [
        0.1 * jax.random.normal(k, p.shape, p.dtype) if not np.any(np.asarray(p)) else p
        for k, p in zip(keys, leaves)
    ]
    params = jax.tree.unflatten(treedef, leaves)
    return score_fn_from_model(path, lambda x, t: model.apply(params, x, t), "eps")


def host_loop_bpd(key, score_fn, path, x, *, num_levels, rtol, atol):
    """score_sde's approach: scipy RK45 on the host, one jitted JAX call per evaluation.

    Uses the dequantisation noise and the probes that ``bits_per_dim(key, ...)`` draws.
    Returns (bpd per example, number of evaluations, a callable that runs the solve).
    """
    k_dequantize, k_probes = jax.random.split(key)
    y = dequantize(k_dequantize, x, num_levels)
    batch, dims = x.shape
    probes = sample_probes(k_probes, (1, batch, dims), "rademacher", x.dtype)

    @jax.jit
    def field(t, state):
        v, div = velocity_and_divergence(score_fn, path, state[:-batch].reshape(x.shape), t, probes)
        return jnp.concatenate([v.reshape(-1), div])

    def fun(t, state):  # numpy in, numpy out, as scipy needs
        return np.asarray(field(jnp.float32(t), jnp.asarray(state, jnp.float32)), np.float64)

    init = np.concatenate([np.asarray(y).reshape(-1), np.zeros(batch)])

    def solve():
        sol = integrate.solve_ivp(
            fun, (path.t_min, path.t_max), init, method="RK45", rtol=rtol, atol=atol
        )
        x1, delta = sol.y[:-batch, -1].reshape(x.shape), sol.y[-batch:, -1]
        log_prob = np.asarray(prior_log_prob(path, jnp.asarray(x1, jnp.float32))) + delta
        nll = np.asarray(discrete_nll_bound(log_prob, dims, num_levels))
        return nll / (dims * math.log(2.0)), sol.nfev

    fun(path.t_min, init)  # compiles the field
    return solve


def compute_only(score_fn, path, x, num_evals: int):
    """A compiled loop of ``num_evals`` evaluations of the augmented field, with no solver."""
    probes = sample_probes(jax.random.key(0), (1, *x.shape), "rademacher", x.dtype)

    @jax.jit
    def run(x):
        def body(i, y):
            t = path.t_min + (path.t_max - path.t_min) * i / num_evals
            v, div = velocity_and_divergence(score_fn, path, y, t, probes)
            return y + 1e-3 * v + 1e-3 * div[:, None]

        return jax.lax.fori_loop(0, num_evals, body, x)

    run(x).block_until_ready()  # compiles
    return lambda: run(x)


def timed(fn, repeats: int):
    """Best wall time of ``repeats`` calls of ``fn`` and its last result."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - start)
    return best, result


def benchmark(x, num_levels: int, hidden: int, args) -> dict:
    """The record of one MLP width (see the module docstring)."""
    batch, dims = x.shape
    path = VPPath()
    score_fn = make_score_fn(path, dims, hidden, args.depth)
    key = jax.random.key(1)
    tol = {"rtol": args.rtol, "atol": args.atol}

    library = jax.jit(
        lambda key, x: bits_per_dim(
            key,
            score_fn,
            path,
            x,
            num_levels=num_levels,
            divergence="hutchinson",
            probe="rademacher",
            solver=args.solver,
            **tol,
        )
    )
    start = time.perf_counter()
    jax.block_until_ready(library(key, x))
    library_first = time.perf_counter() - start
    library_s, out = timed(lambda: library(key, x), args.repeats)

    start = time.perf_counter()
    solve = host_loop_bpd(key, score_fn, path, x, num_levels=num_levels, **tol)
    host_compile_s = time.perf_counter() - start
    host_s, (host_bpd, host_nfe) = timed(solve, args.repeats)

    compute_s, _ = timed(compute_only(score_fn, path, x, int(out["nfe"])), args.repeats)
    library_bpd = np.asarray(out["bpd"])
    return {
        "benchmark": "likelihood",
        "hidden": hidden,
        "depth": args.depth,
        "batch": batch,
        "dims": dims,
        "num_levels": num_levels,
        "divergence": "hutchinson/rademacher",
        "rtol": args.rtol,
        "atol": args.atol,
        "library_solver": args.solver,
        "library_s": round(library_s, 4),
        "library_compile_s": round(library_first - library_s, 3),
        "library_nfe": int(out["nfe"]),
        "host_loop_solver": "scipy RK45",
        "host_loop_s": round(host_s, 4),
        "host_loop_compile_s": round(host_compile_s, 3),
        "host_loop_nfe": int(host_nfe),
        "speedup": round(host_s / library_s, 2),
        "compute_s": round(compute_s, 4),
        "speedup_bound": round(host_s / compute_s, 2),
        "library_bpd": round(float(library_bpd.mean()), 5),
        "host_loop_bpd": round(float(host_bpd.mean()), 5),
        "mean_abs_bpd_diff_per_example": float(np.abs(library_bpd - host_bpd).mean()),
        "max_abs_bpd_diff_per_example": float(np.abs(library_bpd - host_bpd).max()),
        "device": str(jax.devices()[0].device_kind),
        "backend": jax.default_backend(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--rtol", type=float, default=1e-5)
    parser.add_argument("--atol", type=float, default=1e-5)
    parser.add_argument("--solver", default="dopri5", help="library solver; RK45 is dopri5")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    digits = data.load("digits", "test")
    x = jnp.asarray(digits.images[: args.batch].reshape(args.batch, -1), jnp.float32)
    for hidden in args.hidden:
        print(json.dumps(benchmark(x, digits.num_levels, hidden, args)), flush=True)


if __name__ == "__main__":
    main()
