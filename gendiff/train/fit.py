"""The one training entry point: ``fit``.

Every network of the project (models, feature classifiers, teachers, students, critics)
trains through :func:`fit`. It owns what each caller would otherwise get wrong on its own:
slicing this process's rows out of the global batch, ``jax.distributed`` set-up, one run
per working directory, resuming from the newest readable checkpoint on any device count,
the NaN guard, logging (JSON lines, and a progress bar or plain log lines), and writing
files on process 0 only.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh
from tqdm import tqdm  # the terminal bar: fit draws one only on a terminal

from gendiff.data.sources import BatchSource
from gendiff.train.checkpoint import Checkpointer
from gendiff.train.export_cache import ExportCache
from gendiff.train.lock import WorkdirLock
from gendiff.train.metrics_log import append_metrics, read_metrics
from gendiff.train.sharding import (
    batch_sharding,
    jit_train_step,
    local_batch_slice,
    make_mesh,
    maybe_initialize_distributed,
    replicate,
    replicated_sharding,
    shard_batch,
)
from gendiff.train.state import TrainState
from gendiff.train.step import TrainStep

CHECKPOINT_SUBDIR = "checkpoints"
METRICS_FILE = "metrics.jsonl"


def is_main_process() -> bool:
    """True on process 0, the only process that writes files (metrics, caches, PNGs).

    Example:
        >>> is_main_process()
        True
    """
    return jax.process_index() == 0


def initialize_distributed(
    initialize: bool = False,
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> bool:
    """Connects the processes of a multi-host run, if asked to; call before any JAX work.

    With ``initialize=True`` and no coordinator, JAX detects the cluster (TPU pods, SLURM,
    Open MPI); otherwise give ``coordinator_address``, ``num_processes`` and ``process_id``.
    The fields mirror an experiment's ``config.distributed`` (pass ``**config.distributed``).

    Returns:
        True if ``jax.distributed`` is initialised on return.

    Raises:
        RuntimeError: initialisation was asked for after JAX had already computed something
            in this process (it must come first).

    Example:
        >>> initialize_distributed(initialize=False)
        False
    """
    if not initialize or jax.distributed.is_initialized():
        return jax.distributed.is_initialized()
    try:
        return maybe_initialize_distributed(
            coordinator_address=coordinator_address or None,
            num_processes=num_processes or None,
            process_id=process_id if process_id is not None and process_id >= 0 else None,
            auto_detect=not coordinator_address,
        )
    except RuntimeError as error:
        raise RuntimeError(
            "jax.distributed could not be initialised: it must happen before any JAX "
            "computation in the process (creating a key or parameters counts). Call "
            "gendiff.train.initialize_distributed(**config.distributed) first thing. "
            f"JAX said: {error}"
        ) from error


def _to_host(metrics: dict[str, jax.Array]) -> dict[str, float | bool]:
    host = jax.device_get(metrics)
    return {k: bool(v) if np.asarray(v).dtype == bool else float(v) for k, v in host.items()}


def _non_finite(host: dict[str, float | bool]) -> list[str]:
    bad = [
        k
        for k, v in host.items()
        if (k.endswith("loss") or k.endswith("grad_norm")) and not math.isfinite(v)
    ]
    if not host.get("finite", True) and not bad:
        bad = ["finite"]
    return bad


class _NoCheckpoints:
    """What :func:`fit` uses in place of a :class:`Checkpointer` when ``workdir`` is None."""

    directory = None

    def __enter__(self) -> "_NoCheckpoints":
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def restore(self, state):
        return None

    def should_save(self, step: int) -> bool:
        return False

    def save(self, step: int, state, *, force: bool = False) -> bool:
        return False

    def latest_step(self) -> None:
        return None

    def wait(self) -> None:
        pass


def _log_line(done: int, num_steps: int, record: dict[str, Any]) -> str:
    shown = [
        f"{k} {v:.4g}"
        for k, v in record.items()
        if k not in ("step", "wall_time", "finite") and isinstance(v, float)
    ]
    return f"train step {done}/{num_steps} | " + " | ".join(shown)


def fit(
    state: TrainState,
    train_step: TrainStep,
    batches: BatchSource,
    key: jax.Array,
    *,
    num_steps: int,
    workdir: str | os.PathLike | None,
    checkpoint_every: int | None = None,
    log_every: int = 100,
    progress: bool = True,
    mesh: Mesh | None = None,
    distributed: Mapping[str, Any] | None = None,
    stop_when: Callable[[dict[str, Any]], bool] | None = None,
    time_limit_s: float | None = None,
    export_cache: ExportCache | None = None,
) -> tuple[TrainState, dict[str, Any]]:
    """Trains until ``state.step == num_steps``, resuming from ``workdir`` if possible.

    Step ``s`` (0-based) uses global batch ``s`` of ``batches`` and the key
    ``jax.random.fold_in(key, s)``, so a resumed run, or one on another number of devices
    or processes, sees exactly the same data and randomness. Each process reads only its
    own rows of the global batch (``batches.local_batch(s, rows)``). Metrics stay on device
    except every ``log_every`` steps and at checkpoints, when they are fetched and, on
    process 0, appended to ``workdir/metrics.jsonl`` (fields: step, the step's metrics,
    steps_per_s, wall_time in Unix seconds) and shown on a progress bar (on a terminal) or
    as one log line on stderr (otherwise). A checkpoint goes to ``workdir/checkpoints``
    every ``checkpoint_every`` steps and at ``num_steps``; a damaged newest checkpoint is
    reported and skipped on resume. Process 0 holds a lock on ``workdir`` for the whole
    run: a second run on the same directory is refused.

    A source whose ``static`` attribute is True (:class:`gendiff.data.FullBatch`) gives the
    same batch at every step: it is placed on the devices once, not at every step.
    ``stop_when`` ends the run early (full-batch solvers with a tolerance): it is called with
    the host metrics at every logged step and a True stops the run there (with a checkpoint
    of that step when ``workdir`` is given; a resumed run goes on to the next logged step).
    ``time_limit_s`` ends the run the same way at the first logged step once that many
    seconds have passed since ``fit`` was called (set-up and compilation included): a
    wall-clock budget. ``workdir=None`` keeps nothing on disk (no checkpoint, metrics file or lock) for short
    auxiliary fits such as the linear probe's.

    Args:
        state: initial state (:func:`create_train_state` or :func:`create_players_state`);
            replaced by the newest readable checkpoint in ``workdir`` if there is one. It is
            copied, not consumed.
        train_step: from :func:`make_train_step` or :func:`make_players_step`; jitted here
            with a donated state.
        batches: the global batch definition, a :class:`gendiff.data.BatchSource`
            (``ArrayBatches``, ``IndexedBatches``, ``GeneratedBatches``, ``GrainBatches``).
        key: base PRNG key, the same on every process.
        num_steps: total number of steps of the run.
        workdir: directory for checkpoints, metrics and the lock; None writes nothing.
        checkpoint_every: checkpoint period in steps (default: only at ``num_steps``).
        log_every: metrics period in steps.
        progress: show progress (bar or log lines) on process 0.
        mesh: device mesh; default :func:`make_mesh` over all global devices.
        distributed: keyword arguments of :func:`initialize_distributed` (e.g.
            ``config.distributed``), applied first; None leaves JAX as it is.
        stop_when: ``stop_when(metrics) -> bool`` on the logged host metrics (every
            ``log_every`` steps); True ends the run at that step.
        time_limit_s: wall-clock budget in seconds (see above); None: no limit.
        export_cache: an :class:`ExportCache` whose fingerprint stands for ``train_step``:
            the traced step is kept there and a later run with the same fingerprint loads
            it instead of tracing ``train_step`` again (seconds of every start for a large
            network). None: ``train_step`` is traced at every run.

    Returns:
        ``(state, last_metrics)``: the final state (replicated on ``mesh``) and the last
        logged record (read back from the metrics file if the run was already complete;
        ``{}`` if there is none).

    Raises:
        ValueError: non-positive ``num_steps``, ``log_every`` or ``checkpoint_every``, or a
            global batch size not divisible by the device count.
        gendiff.train.WorkdirInUse: another run holds ``workdir``.
        FloatingPointError: a fetched loss or gradient norm is NaN or inf, or the
            parameters are non-finite at a checkpoint. The error names the step; earlier
            checkpoints stay on disk and a restart resumes from the last one.

    Example:
        >>> import tempfile, jax, jax.numpy as jnp, numpy as np, optax
        >>> from gendiff.data import ArrayBatches
        >>> from gendiff.train import create_train_state, make_train_step
        >>> x = np.linspace(-1, 1, 64, dtype=np.float32)
        >>> loss_fn = lambda p, b, k: (jnp.mean((p["w"] * b["x"] - 2 * b["x"]) ** 2), {})
        >>> tx = optax.adam(0.1)
        >>> state, last = fit(create_train_state({"w": jnp.zeros(())}, tx),
        ...                   make_train_step(loss_fn, tx, ema_decay=0.9),
        ...                   ArrayBatches({"x": x}, batch_size=16), jax.random.key(0),
        ...                   num_steps=100, workdir=tempfile.mkdtemp(), progress=False)
        >>> round(float(state.params["w"]), 1), last["step"]
        (2.0, 100)
    """
    started = time.perf_counter()
    if time_limit_s is not None and not time_limit_s >= 0:
        raise ValueError(f"time_limit_s must be >= 0 seconds or None, got {time_limit_s}.")
    for name, value in (("num_steps", num_steps), ("log_every", log_every)):
        if int(value) < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}.")
    if not isinstance(batches, BatchSource):
        raise TypeError(
            "batches must be a global batch definition with .batch_size and "
            ".local_batch(step, rows), e.g. gendiff.data.ArrayBatches; got "
            f"{type(batches).__name__}."
        )
    if distributed is not None:
        initialize_distributed(**distributed)
    checkpoint_every = num_steps if checkpoint_every is None else checkpoint_every
    mesh = make_mesh() if mesh is None else mesh
    rows = local_batch_slice(batches.batch_size, mesh)
    is_main = is_main_process()
    writes = workdir is not None and is_main
    if workdir is not None:
        os.makedirs(workdir, exist_ok=True)
        metrics_path = os.path.join(workdir, METRICS_FILE)

    with contextlib.ExitStack() as stack:
        if writes:
            stack.enter_context(WorkdirLock(workdir))
        ckpt = stack.enter_context(
            _NoCheckpoints()
            if workdir is None
            else Checkpointer(os.path.join(workdir, CHECKPOINT_SUBDIR), checkpoint_every)
        )
        state = replicate(state, mesh)
        restored = ckpt.restore(state)
        state = state if restored is None else restored
        start = int(jax.device_get(state.step))
        if start >= num_steps:
            logged = read_metrics(metrics_path) if workdir is not None else []
            return state, (logged[-1] if logged else {})

        per_batch_step = train_step

        def train_step(state, batch, key):  # the step's key, derived on the device
            return per_batch_step(state, batch, jax.random.fold_in(key, state.step))

        # Named train_step so that the compiled program is "jit_train_step" in logs and caches.
        if export_cache is None:
            step_fn = jit_train_step(train_step, mesh)
        else:
            replicated = replicated_sharding(mesh)
            step_fn = export_cache.jit(
                train_step,
                name="train_step",
                in_shardings=(replicated, batch_sharding(mesh), replicated),
                out_shardings=replicated,
                donate_argnums=0,
            )
        static_batch = (
            shard_batch(batches.local_batch(start, rows), mesh)
            if getattr(batches, "static", False)
            else None
        )
        key = replicate(key, mesh)
        show = progress and is_main
        on_terminal = sys.stderr.isatty()
        bar = stack.enter_context(
            tqdm(total=num_steps, initial=start, disable=not (show and on_terminal), desc="train")
        )
        last_metrics: dict[str, Any] = {}
        last_time, last_step = time.perf_counter(), start
        for step in range(start, num_steps):
            batch = (
                static_batch
                if static_batch is not None
                else shard_batch(batches.local_batch(step, rows), mesh)
            )
            state, metrics = step_fn(state, batch, key)  # key fold_in(key, step) inside
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
            bad = _non_finite(host)
            if bad:
                ckpt.wait()
                shown = ", ".join(f"{k}={host[k]}" for k in bad)
                good = ckpt.latest_step()
                if workdir is None:
                    kept = "nothing is kept (workdir=None)"
                elif good is not None:
                    kept = f"the last good checkpoint (step {good}) is kept in {ckpt.directory}"
                else:
                    kept = f"no checkpoint was written yet (checkpoint_every={checkpoint_every})"
                raise FloatingPointError(
                    f"Non-finite training at step {done}: {shown}. Stopping; {kept}."
                )
            stop = (stop_when is not None and bool(stop_when(host))) or (
                time_limit_s is not None and now - started >= time_limit_s
            )
            if writes:
                append_metrics(metrics_path, last_metrics)
            if is_main:
                if show and on_terminal:
                    loss = host.get("loss", next(iter(host.values())))
                    bar.set_postfix(
                        loss=f"{loss:.4g}", steps_per_s=f"{last_metrics['steps_per_s']:.3g}"
                    )
                elif show:
                    print(_log_line(done, num_steps, last_metrics), file=sys.stderr, flush=True)
            if checkpoint_due or stop:
                ckpt.save(done, state, force=True)
            if stop:
                break
    return state, last_metrics
