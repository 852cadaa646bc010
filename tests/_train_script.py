"""Trains a small noisy MLP regression with gendiff.train and prints one JSON line.

Run as a separate process, because the number of (fake CPU) devices and the
multi-process setup are fixed when JAX starts:

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python tests/_train_script.py --workdir W
    python tests/_train_script.py --workdir W --coordinator localhost:PORT \
        --num-processes 2 --process-id 0      # and --process-id 1 in a second process

Every configuration sees the same global batch and keys, so the printed final
loss must agree across device and process counts.
"""

import argparse
import json

GLOBAL_BATCH = 16
NUM_STEPS = 20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--coordinator", default=None)
    parser.add_argument("--num-processes", type=int, default=None)
    parser.add_argument("--process-id", type=int, default=None)
    parser.add_argument("--num-steps", type=int, default=NUM_STEPS)
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp
    import numpy as np

    from gendiff import train as gt
    from gendiff.data import GeneratedBatches

    gt.initialize_distributed(
        bool(args.coordinator), args.coordinator, args.num_processes, args.process_id
    )

    def mlp(params, x):
        h = jnp.tanh(x @ params["w1"] + params["b1"])
        return h @ params["w2"] + params["b2"]

    def loss_fn(params, batch, key):
        # Input-noise regression: the loss uses the per-step key on the whole global batch.
        x = batch["x"] + 0.1 * jax.random.normal(key, batch["x"].shape)
        err = mlp(params, x) - batch["y"]
        return jnp.mean(err**2), {"abs_err": jnp.mean(jnp.abs(err))}

    k1, k2 = jax.random.split(jax.random.key(0))
    params = {
        "w1": 0.5 * jax.random.normal(k1, (4, 32)),
        "b1": jnp.zeros(32),
        "w2": 0.5 * jax.random.normal(k2, (32, 1)),
        "b2": jnp.zeros(1),
    }
    tx = gt.make_optimizer(
        {"optimizer": "adam", "learning_rate": 1e-2, "warmup_steps": 2, "grad_clip_norm": 1.0}
    )
    def global_batch(step):  # fit keeps this process's rows
        rng = np.random.default_rng(step)
        x = rng.normal(size=(GLOBAL_BATCH, 4)).astype(np.float32)
        return {"x": x, "y": np.sin(x.sum(axis=1, keepdims=True))}

    state, metrics = gt.fit(
        gt.create_train_state(params, tx),
        gt.make_train_step(loss_fn, tx, ema_decay=0.9),
        GeneratedBatches(global_batch, GLOBAL_BATCH),
        jax.random.key(1),
        num_steps=args.num_steps,
        workdir=args.workdir,
        checkpoint_every=10,
        log_every=5,
        progress=False,
    )
    w1 = np.asarray(jax.device_get(state.params["w1"]))
    print(
        json.dumps(
            {
                "loss": metrics["loss"],
                "ema_sum": float(sum(np.sum(x) for x in jax.tree.leaves(state.ema_params))),
                "step": int(jax.device_get(state.step)),
                "w1_sum": float(w1.sum()),
                "devices": jax.device_count(),
                "processes": jax.process_count(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
