"""Seconds from launch to the end of the first training step of ``python -m experiments.ddpm``.

A first run with an empty cache directory compiles everything; later runs, each in a new
workdir, start from the caches: JAX's persistent compilation cache and the traced programs
of :class:`gendiff.train.ExportCache`. The same later runs are also timed with the exported
programs turned off (compilation cache only), interleaved, so the two are measured in one
sitting. Each run is stopped as soon as its first metrics line is written. Prints one JSON
object and writes it to ``--out``:

    {"benchmark": "start", "cold_s": ..., "warm_s": [...], "warm_without_export_s": [...],
     "median_warm_s": ..., "median_warm_without_export_s": ..., "ratio": ...}

Usage:
    python -m benchmarks.start                 # 5 warm runs of each kind, about 2 minutes
    python -m benchmarks.start --runs 10 --out runs/benchmarks/start.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

# The CLI run, stopped after its first step; the exported programs can be turned off.
_RUN = """
import sys
from experiments import common
if sys.argv.pop(1) == "off":
    common.enable_export_cache = lambda directory: None
from experiments import ddpm
from experiments.configs import ddpm as configs
common.run_cli(ddpm.train_and_evaluate, configs.get_config, "runs/ddpm")
"""


def time_to_first_step(cache: str, workdir: str, export: bool, timeout_s: float = 600) -> float:
    """Seconds from launch until ``workdir/metrics.jsonl`` holds step 1; the run is then ended."""
    env = dict(os.environ, GENDIFF_COMPILATION_CACHE=cache)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    metrics = os.path.join(workdir, "metrics.jsonl")
    argv = [sys.executable, "-c", _RUN, "on" if export else "off", "--workdir", workdir,
            "--config.log_every=1", "--config.progress=False"]  # fmt: skip
    started = time.time()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.time() - started < timeout_s:
            if os.path.exists(metrics):
                with open(metrics) as f:
                    line = f.readline()
                if line.endswith("\n"):
                    return json.loads(line)["wall_time"] - started
            if process.poll() is not None:
                raise RuntimeError(f"the run ended before its first step:\n{process.stderr.read()}")
            time.sleep(0.01)
        raise TimeoutError(f"no first step within {timeout_s} s")
    finally:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="warm runs of each kind")
    parser.add_argument("--out", default="runs/benchmarks/start.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        cache = os.path.join(root, "cache")
        workdir = lambda name: os.path.join(root, name)  # noqa: E731
        cold = time_to_first_step(cache, workdir("cold"), export=True)
        time_to_first_step(cache, workdir("fill"), export=False)  # its own programs, compiled
        warm, without = [], []
        for i in range(args.runs):
            warm.append(time_to_first_step(cache, workdir(f"warm{i}"), export=True))
            without.append(time_to_first_step(cache, workdir(f"without{i}"), export=False))
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    record = {
        "benchmark": "start",
        "command": "python -m experiments.ddpm --config.log_every=1",
        "cold_s": round(cold, 2),
        "warm_s": [round(x, 2) for x in warm],
        "warm_without_export_s": [round(x, 2) for x in without],
        "median_warm_s": round(median(warm), 2),
        "median_warm_without_export_s": round(median(without), 2),
        "ratio": round(median(without) / median(warm), 2),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(record))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(record, f, indent=2)


if __name__ == "__main__":
    main()
