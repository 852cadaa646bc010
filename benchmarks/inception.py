"""Throughput of FID feature extraction: images/s of the Inception-v3 forward pass.

Runs :class:`gendiff.eval.InceptionFeatures` (resize to 299, pool3 and logits, batches split over
all devices) on random uint8 images of ``--size`` x ``--size`` with random weights of the right
shapes (the speed does not depend on the values), compiles once, times ``--batches`` batches of
``--batch`` images with block_until_ready, and prints one JSON object:

    {"benchmark": "inception_features", "batch": 64, "batches": 3, "size": 32,
     "images_per_s": ..., "ms_per_batch": ..., "compile_s": ..., "device": "cpu", "backend": "cpu",
     "num_devices": 1}

Usage:
    python -m benchmarks.inception                          # CPU, batch 64, 3 batches
    python -m benchmarks.inception --batch 256 --batches 20 # on a GPU host (JAX with CUDA),
                                                            # e.g. CIFAR-10-sized 32x32 inputs
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import numpy as np

from gendiff.eval.inception import InceptionFeatures
from gendiff.nets.inception import random_variables


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="images per forward pass")
    parser.add_argument("--batches", type=int, default=3, help="timed batches")
    parser.add_argument("--size", type=int, default=32, help="side of the input images")
    args = parser.parse_args(argv)
    extractor = InceptionFeatures(random_variables(0), batch_size=args.batch)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (extractor.batch_size, args.size, args.size, 3), np.uint8)
    start = time.perf_counter()
    extractor(images)  # compile + first run
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(args.batches):
        start = time.perf_counter()
        jax.block_until_ready(extractor(images))
        times.append(time.perf_counter() - start)
    ms = 1000.0 * statistics.median(times)
    result = {
        "benchmark": "inception_features",
        "batch": extractor.batch_size,
        "batches": args.batches,
        "size": args.size,
        "images_per_s": round(extractor.batch_size / (ms / 1000.0), 2),
        "ms_per_batch": round(ms, 1),
        "compile_s": round(compile_s, 1),
        "device": jax.devices()[0].device_kind,
        "backend": jax.default_backend(),
        "num_devices": jax.device_count(),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
