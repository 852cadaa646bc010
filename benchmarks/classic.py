"""Gaussian-mixture EM with restarts: gendiff's ``gmm_em`` vmapped over 16 keys against
scikit-learn's ``GaussianMixture(n_init=16)``, the same data, components, covariance type,
reg_covar and number of iterations (tol = 0 on both sides, so every restart runs them all).

Both start each restart from k-means++ centres (scikit-learn: ``init_params="k-means++"``,
gendiff: ``init="kmeans++"``); their random draws differ, so the best lower bounds are reported
side by side, not required to be equal. gendiff's timing excludes compilation (reported apart) and
blocks on the result; scikit-learn runs its restarts one after another on the host.

Prints one JSON object:

    {"benchmark": "classic_gmm_em", "n": 50000, "d": 8, "k": 8, "restarts": 16, "iters": 50,
     "covariance_type": "full", "gendiff_s": ..., "gendiff_compile_s": ..., "sklearn_s": ...,
     "speedup": sklearn_s / gendiff_s, "gendiff_best_lower_bound": ..., "sklearn_lower_bound": ...,
     "backend": "cpu", "dtype": "float32"}

Usage:
    python -m benchmarks.classic
    python -m benchmarks.classic --n 50000 --d 8 --k 8 --iters 50 --covariance_type diag
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.mixture import GaussianMixture

from gendiff import classic


def _data(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(k, d))
    scales = rng.uniform(0.5, 1.5, size=(k, d, d)) / np.sqrt(d)
    z = rng.integers(0, k, n)
    return (centres[z] + np.einsum("nde,ne->nd", scales[z], rng.normal(size=(n, d)))).astype(
        np.float32
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--d", type=int, default=8)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--restarts", type=int, default=16)
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--covariance_type", default="full", choices=classic.COVARIANCE_TYPES)
    parser.add_argument("--reg_covar", type=float, default=1e-6)
    args = parser.parse_args(argv)

    x_np = _data(args.n, args.d, args.k)
    x = jnp.asarray(x_np)
    keys = jax.random.split(jax.random.key(0), args.restarts)
    fit = jax.jit(
        jax.vmap(
            lambda key: classic.gmm_em(
                key, x, args.k, covariance_type=args.covariance_type, init="kmeans++",
                num_iters=args.iters, tol=0.0, reg_covar=args.reg_covar,
            ).lower_bound
        )
    )
    t0 = time.perf_counter()
    fit(keys).block_until_ready()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    bounds = fit(keys).block_until_ready()
    ours = time.perf_counter() - t0

    gm = GaussianMixture(
        args.k, covariance_type=args.covariance_type, tol=0.0, max_iter=args.iters,
        n_init=args.restarts, reg_covar=args.reg_covar, init_params="k-means++", random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: tol = 0 never converges
        t0 = time.perf_counter()
        gm.fit(x_np)
        theirs = time.perf_counter() - t0

    print(json.dumps({
        "benchmark": "classic_gmm_em",
        "n": args.n, "d": args.d, "k": args.k, "restarts": args.restarts, "iters": args.iters,
        "covariance_type": args.covariance_type,
        "gendiff_s": round(ours, 4),
        "gendiff_compile_s": round(first - ours, 4),
        "sklearn_s": round(theirs, 4),
        "speedup": round(theirs / ours, 3),
        "gendiff_best_lower_bound": float(jnp.max(bounds)),
        "sklearn_lower_bound": float(gm.lower_bound_),
        "backend": jax.default_backend(),
        "dtype": str(x.dtype),
    }))


if __name__ == "__main__":
    main()
