"""Training-step throughput of the U-Net presets.

For each preset and dtype: build the train step the experiments use (gendiff.ddpm.denoising_loss
on the linear DDPM path, gendiff.train.make_train_step with Adam and EMA, jitted over a mesh of all
devices with the state donated), compile it, time ``--steps`` steps and print one JSON object:

    {"benchmark": "train_throughput", "config": "tiny", "params": 701345, "batch": 128,
     "dtype": "float32", "ms_per_step": ..., "img_per_s": ..., "device": "cpu", "backend": "cpu"}

Usage:
    python -m benchmarks.train_throughput                       # tiny, mnist (+ cifar10 off CPU)
    python -m benchmarks.train_throughput --all                 # every preset, also on CPU
    python -m benchmarks.train_throughput --configs cifar10 --batch 128 --dtype float32,bfloat16

On CPU cifar10 is skipped unless named in --configs or --all is given, and mnist and cifar10 run
at batch 16 and 8 unless --batch says otherwise; elsewhere every preset runs at batch 128.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import jax
import jax.numpy as jnp
import optax

from gendiff import ddpm
from gendiff.nets import UNET_PRESETS, UNet, unet_config
from gendiff.paths import DiscreteVPPath
from gendiff.train import (
    create_train_state,
    jit_train_step,
    make_mesh,
    make_train_step,
    shard_batch,
)

IMAGE_SHAPES = {"tiny": (8, 8, 1), "mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
DEFAULT_BATCH = 128
CPU_BATCH = {"mnist": 16, "cifar10": 8}  # batch 128 takes ~15 s (mnist) per step on 2 cores
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def benchmark(config: str, batch: int, dtype: str, steps: int, warmup: int = 2) -> dict:
    """Time ``steps`` training steps of preset ``config``; returns the JSON record."""
    model = UNet(**unet_config(config), dtype=DTYPES[dtype])
    path = DiscreteVPPath.from_schedule("linear", 1000)
    k_init, k_data, k_steps = jax.random.split(jax.random.key(0), 3)
    x0 = jax.random.uniform(k_data, (batch, *IMAGE_SHAPES[config]), minval=-1.0, maxval=1.0)
    params = jax.jit(model.init)(k_init, x0[:1], jnp.zeros((1,)))

    def loss_fn(params, batch, key):
        k_loss, k_dropout = jax.random.split(key)
        model_fn = lambda x, t: model.apply(params, x, t, train=True, rngs={"dropout": k_dropout})
        return ddpm.denoising_loss(k_loss, model_fn, batch["image"], path)

    optimizer = optax.adam(2e-4)
    mesh = make_mesh()
    step = jit_train_step(make_train_step(loss_fn, optimizer, ema_decay=0.9999), mesh)
    state = create_train_state(params, optimizer)
    batch_arrays = shard_batch({"image": x0}, mesh)

    for i in range(warmup):  # the first call compiles
        state, metrics = step(state, batch_arrays, jax.random.fold_in(k_steps, i))
    jax.block_until_ready((state, metrics))

    start = time.perf_counter()
    for i in range(warmup, warmup + steps):
        state, metrics = step(state, batch_arrays, jax.random.fold_in(k_steps, i))
    jax.block_until_ready((state, metrics))
    seconds = (time.perf_counter() - start) / steps
    loss = metrics["loss"]

    if not math.isfinite(float(loss)):
        raise FloatingPointError(f"{config}/{dtype}: non-finite loss {float(loss)}")
    return {
        "benchmark": "train_throughput",
        "config": config,
        "params": sum(p.size for p in jax.tree.leaves(params)),
        "batch": batch,
        "dtype": dtype,
        "ms_per_step": round(1e3 * seconds, 3),
        "img_per_s": round(batch / seconds, 1),
        "device": jax.devices()[0].device_kind,
        "backend": jax.default_backend(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs", default=None, help=f"comma-separated presets from {sorted(UNET_PRESETS)}"
    )
    parser.add_argument("--batch", type=int, default=None, help="batch size for every config")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per config")
    parser.add_argument("--dtype", default="float32", help="comma-separated: float32,bfloat16")
    parser.add_argument("--all", action="store_true", help="include cifar10 on CPU")
    args = parser.parse_args(argv)

    on_cpu = jax.default_backend() == "cpu"
    if args.configs is None:
        configs = [c for c in IMAGE_SHAPES if args.all or not on_cpu or c != "cifar10"]
    else:
        configs = args.configs.split(",")
    dtypes = args.dtype.split(",")
    for name, valid in [(configs, IMAGE_SHAPES), (dtypes, DTYPES)]:
        unknown = [n for n in name if n not in valid]
        if unknown:
            parser.error(f"unknown {unknown}; valid names: {sorted(valid)}")

    for config in configs:
        batch = args.batch or (CPU_BATCH.get(config, DEFAULT_BATCH) if on_cpu else DEFAULT_BATCH)
        for dtype in dtypes:
            print(json.dumps(benchmark(config, batch, dtype, args.steps)), flush=True)


if __name__ == "__main__":
    main()
