"""Data parallelism with ``jax.sharding``: one 1-D device mesh, batch split over 'data'.

Every process runs the same program (multi-controller JAX). The train state is
replicated on all devices; the global batch is split along its leading axis,
each process supplying the rows that live on its own devices.
"""

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"
PyTree = Any


def maybe_initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    auto_detect: bool = False,
) -> bool:
    """Connects the processes of a multi-host job; a no-op for a single process.

    Call it once, before any other JAX call. On Cloud TPU pods (and SLURM or
    Open MPI launches) JAX discovers the cluster itself: pass ``auto_detect=True``,
    which calls ``jax.distributed.initialize()`` with no arguments. Elsewhere give
    the coordinator's ``host:port`` plus the process count and this process's id.
    On CPU the cross-process collectives use gloo (``jax_cpu_collectives_implementation``,
    the default).

    Args:
        coordinator_address: ``"host:port"`` of process 0.
        num_processes: total number of processes.
        process_id: this process's index in ``[0, num_processes)``.
        auto_detect: let JAX detect the cluster (TPU pods, SLURM, Open MPI).

    Returns:
        True if ``jax.distributed`` is initialized on return, False for a single process.

    Example:
        >>> maybe_initialize_distributed()  # single process: nothing to do
        False
    """
    if jax.distributed.is_initialized():
        return True
    if auto_detect:
        jax.distributed.initialize()
        return True
    if coordinator_address is None and num_processes in (None, 1):
        return False
    if coordinator_address is None or num_processes is None or process_id is None:
        raise ValueError(
            "Multi-process training needs coordinator_address, num_processes and process_id, "
            f"got {coordinator_address!r}, {num_processes!r}, {process_id!r}."
        )
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
    )
    return True


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """1-D mesh with axis ``'data'`` over ``devices`` (default: all global devices).

    Example:
        >>> make_mesh().axis_names
        ('data',)
    """
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated_sharding(mesh: Mesh) -> NamedSharding:
    """Full copy on every device of ``mesh`` (for the train state and keys).

    Example:
        >>> from gendiff.train import make_mesh, replicated_sharding
        >>> x = jax.device_put(jnp.zeros((8, 2)), replicated_sharding(make_mesh()))
        >>> x.sharding.is_fully_replicated, {s.data.shape for s in x.addressable_shards}
        (True, {(8, 2)})
    """
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading axis split over ``'data'``, other axes whole (for batches).

    Example:
        >>> from gendiff.train import batch_sharding, make_mesh
        >>> mesh = make_mesh()
        >>> x = jax.device_put(jnp.zeros((8, 2)), batch_sharding(mesh))
        >>> {s.data.shape for s in x.addressable_shards} == {(8 // mesh.size, 2)}
        True
    """
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicate(tree: PyTree, mesh: Mesh) -> PyTree:
    """Copies ``tree`` onto every device of ``mesh`` as global arrays.

    Every process must pass the same values (multi-process, JAX checks this).
    The result shares no buffer with the input nor between leaves, so donating
    it to a jitted step leaves the caller's arrays intact; weakly typed scalars become
    strongly typed, as a step's outputs are, so the step compiles once.

    Example:
        >>> import jax.numpy as jnp
        >>> replicate({"w": jnp.ones(2)}, make_mesh())["w"].sharding.is_fully_replicated
        True
    """
    sharding = replicated_sharding(mesh)

    def put(x):
        if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            # Typed PRNG keys travel as their raw uint32 data.
            return jax.random.wrap_key_data(
                put(jax.random.key_data(x)), impl=jax.random.key_impl(x)
            )
        if getattr(x, "weak_type", False):  # optax states start with weakly typed scalars
            x = np.asarray(x)
        # A copy (may_alias=False): no two leaves, nor the caller's arrays, share a buffer,
        # which donation forbids. No program is compiled for it.
        return jax.device_put(x, sharding, may_alias=False)

    return jax.tree.map(put, tree)


def _local_device_count(mesh: Mesh) -> int:
    return sum(d.process_index == jax.process_index() for d in mesh.devices.flat)


def local_batch_slice(global_batch_size: int, mesh: Mesh) -> slice:
    """Rows of the global batch that this process must feed to :func:`shard_batch`.

    Example:
        >>> local_batch_slice(8, make_mesh())  # single process: everything
        slice(0, 8, None)
    """
    if global_batch_size % mesh.size:
        raise ValueError(
            f"Global batch size {global_batch_size} must be divisible by the {mesh.size} "
            "devices of the mesh."
        )
    index_map = batch_sharding(mesh).addressable_devices_indices_map((global_batch_size,))
    rows = [index[0].indices(global_batch_size)[:2] for index in index_map.values()]
    start, stop = min(r[0] for r in rows), max(r[1] for r in rows)
    if stop - start != sum(r[1] - r[0] for r in rows):
        raise ValueError("This process's devices do not hold a contiguous block of the batch.")
    return slice(start, stop)


def shard_batch(local_batch: PyTree, mesh: Mesh) -> PyTree:
    """Builds global batch arrays from this process's slice (host numpy arrays).

    Single-host, ``local_batch`` is the whole global batch. Multi-host, each process
    passes its rows ``local_batch_slice(global_batch_size, mesh)``; the global
    leading size is the local one times the number of processes.

    Args:
        local_batch: pytree of arrays, each with a leading batch axis divisible by
            the number of this process's devices in ``mesh``.
        mesh: the mesh from :func:`make_mesh`.

    Returns:
        The same pytree of global ``jax.Array`` sharded by :func:`batch_sharding`.

    Example:
        >>> import numpy as np
        >>> shard_batch({"x": np.zeros((4, 2))}, make_mesh())["x"].shape
        (4, 2)
    """
    sharding = batch_sharding(mesh)
    local_devices = _local_device_count(mesh)
    processes = mesh.size // local_devices

    def to_global(x):
        x = np.asarray(x)
        if x.ndim == 0 or x.shape[0] % local_devices:
            raise ValueError(
                f"Every batch array needs a leading batch axis divisible by the {local_devices} "
                f"local devices, got shape {x.shape}."
            )
        global_shape = (x.shape[0] * processes,) + x.shape[1:]
        return jax.make_array_from_process_local_data(sharding, x, global_shape)

    return jax.tree.map(to_global, local_batch)


def jit_train_step(train_step: Callable, mesh: Mesh) -> Callable:
    """Jits ``train_step(state, batch, key)`` for data parallelism on ``mesh``.

    State and key are replicated, the batch is split along its leading axis, and
    the outputs (state, metrics) are replicated; gradients are all-reduced by
    the compiler. The input state is donated: do not reuse it after the call.

    Args:
        train_step: from :func:`gendiff.train.make_train_step`.
        mesh: the mesh from :func:`make_mesh`.

    Returns:
        The jitted step.

    Example:
        >>> import optax
        >>> from gendiff.train import (create_train_state, jit_train_step, make_mesh,
        ...                            make_train_step, replicate, shard_batch)
        >>> mesh, tx = make_mesh(), optax.sgd(0.1)
        >>> loss_fn = lambda p, b, k: (jnp.mean((b["x"] - p) ** 2), {})
        >>> step = jit_train_step(make_train_step(loss_fn, tx, ema_decay=0.9), mesh)
        >>> state = replicate(create_train_state(jnp.zeros(()), tx), mesh)
        >>> state, metrics = step(state, shard_batch({"x": np.ones(8)}, mesh), replicate(key, mesh))
        >>> int(state.step), round(float(state.params), 4), float(metrics["loss"])  # p = 0.1 * 2
        (1, 0.2, 1.0)
    """
    replicated = replicated_sharding(mesh)
    return jax.jit(
        train_step,
        in_shardings=(replicated, batch_sharding(mesh), replicated),
        out_shardings=(replicated, replicated),
        donate_argnums=0,
    )
