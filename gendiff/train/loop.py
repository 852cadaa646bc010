"""The training loop: resume, step, log, guard against NaN, checkpoint."""

import math
import os
import time
from typing import Any, Callable

import jax
import numpy as np
from jax.sharding import Mesh
from tqdm.auto import tqdm

from gendiff.train.checkpoint import Checkpointer
from gendiff.train.metrics_log import append_metrics, read_metrics
from gendiff.train.sharding import jit_train_step, make_mesh, replicate, shard_batch
from gendiff.train.state import TrainState
from gendiff.train.step import TrainStep

CHECKPOINT_SUBDIR = "checkpoints"
METRICS_FILE = "metrics.jsonl"


def _to_host(metrics: dict[str, jax.Array]) -> dict[str, float | bool]:
    host = jax.device_get(metrics)
    return {k: bool(v) if np.asarray(v).dtype == bool else float(v) for k, v in host.items()}


def train(
    state: TrainState,
    train_step: TrainStep,
    get_batch: Callable[[int], Any],
    key: jax.Array,
    *,
    num_steps: int,
    workdir: str | os.PathLike,
    checkpoint_every: int,
    log_every: int = 100,
    progress: bool = True,
    mesh: Mesh | None = None,
) -> tuple[TrainState, dict[str, Any]]:
    """Trains until ``state.step == num_steps``, resuming from ``workdir`` if possible.

    Step ``s`` (0-based) uses the batch ``get_batch(s)`` and the key
    ``jax.random.fold_in(key, s)``, so a resumed run, or one on a different number
    of devices, sees exactly the same data and randomness. Metrics stay on device
    except every ``log_every`` steps and at checkpoints, when they are fetched,
    appended to ``workdir/metrics.jsonl`` (fields: step, the step's metrics,
    steps_per_s, wall_time in Unix seconds) and shown on the progress bar. A
    checkpoint is written to ``workdir/checkpoints`` every ``checkpoint_every``
    steps and at ``num_steps``.

    Args:
        state: initial state (e.g. ``create_train_state``); replaced by the newest
            checkpoint in ``workdir`` if there is one. It is copied, not consumed.
        train_step: from :func:`gendiff.train.make_train_step`; jitted here.
        get_batch: ``get_batch(step)`` -> pytree of host arrays: this process's
            rows of the global batch (see :func:`gendiff.train.local_batch_slice`).
        key: base PRNG key, the same on every process.
        num_steps: total number of steps of the run.
        workdir: directory for checkpoints and metrics.
        checkpoint_every: checkpoint period in steps.
        log_every: metrics period in steps.
        progress: show a tqdm progress bar (on process 0).
        mesh: device mesh; default :func:`gendiff.train.make_mesh` over all devices.

    Returns:
        ``(state, last_metrics)``: the final state (replicated on ``mesh``) and the
        last logged record (read back from the metrics file if the run was already
        complete; ``{}`` if there is none).

    Raises:
        ValueError: if ``log_every`` or ``checkpoint_every`` is not positive.
        FloatingPointError: if a fetched loss or gradient norm is NaN or inf, or
            the parameters are non-finite at a checkpoint. The error names the step;
            earlier checkpoints stay on disk and a restart resumes from the last one.
    """
    if log_every < 1:
        raise ValueError(f"log_every must be a positive integer, got {log_every}.")
    mesh = make_mesh() if mesh is None else mesh
    os.makedirs(workdir, exist_ok=True)
    metrics_path = os.path.join(workdir, METRICS_FILE)
    is_main = jax.process_index() == 0
    state = replicate(state, mesh)
    with Checkpointer(os.path.join(workdir, CHECKPOINT_SUBDIR), checkpoint_every) as ckpt:
        restored = ckpt.restore(state)
        state = state if restored is None else restored
        start = int(jax.device_get(state.step))
        if start >= num_steps:
            logged = read_metrics(metrics_path)
            return state, (logged[-1] if logged else {})

        step_fn = jit_train_step(train_step, mesh)
        key = replicate(key, mesh)
        last_metrics: dict[str, Any] = {}
        last_time, last_step = time.perf_counter(), start
        with tqdm(
            total=num_steps, initial=start, disable=not (progress and is_main), desc="train"
        ) as bar:
            for step in range(start, num_steps):
                batch = shard_batch(get_batch(step), mesh)
                state, metrics = step_fn(state, batch, jax.random.fold_in(key, step))
                done = step + 1  # = state.step
                bar.update(1)
                checkpoint_due = ckpt.should_save(done) or done == num_steps
                if not (done % log_every == 0 or checkpoint_due):
                    continue

                host = _to_host(metrics)  # the only device-to-host sync
                now = time.perf_counter()
                last_metrics = {
                    "step": done,
                    **host,
                    "steps_per_s": (done - last_step) / max(now - last_time, 1e-9),
                    "wall_time": time.time(),
                }
                last_time, last_step = now, done
                if not (math.isfinite(host["loss"]) and math.isfinite(host["grad_norm"])):
                    ckpt.wait()
                    raise FloatingPointError(
                        f"Non-finite training at step {done}: loss={host['loss']}, "
                        f"grad_norm={host['grad_norm']}. Stopping; the last good checkpoint "
                        f"(step {ckpt.latest_step()}) is kept in {ckpt.directory}."
                    )
                if is_main:
                    append_metrics(metrics_path, last_metrics)
                    bar.set_postfix(
                        loss=f"{host['loss']:.4g}", steps_per_s=f"{last_metrics['steps_per_s']:.3g}"
                    )
                if checkpoint_due:
                    ckpt.save(done, state, force=True)
    return state, last_metrics
