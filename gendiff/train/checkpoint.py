"""Checkpoints with orbax: periodic, asynchronous, atomic, and never non-finite.

Orbax writes each step into a temporary directory and renames it only when the
write is complete, so a process killed mid-save leaves the previous checkpoints
valid (the unfinished temporary directory is ignored and cleaned up on the next
start).
"""

import os
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

PyTree = Any


@jax.jit
def _finite_leaves(tree: PyTree) -> list[jax.Array]:
    return [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]


def non_finite_paths(tree: PyTree) -> list[str]:
    """Paths (``jax.tree_util.keystr``) of floating-point leaves holding NaN or inf.

    Example:
        >>> import jax.numpy as jnp
        >>> non_finite_paths({"a": jnp.ones(2), "b": jnp.array([1.0, jnp.nan])})
        ["['b']"]
    """
    floating = [
        (path, x)
        for path, x in jax.tree_util.tree_leaves_with_path(tree)
        if jnp.issubdtype(jnp.result_type(x), jnp.inexact)
    ]
    flags = jax.device_get(_finite_leaves([x for _, x in floating]))
    return [jax.tree_util.keystr(p) for (p, _), ok in zip(floating, flags) if not ok]


class Checkpointer:
    """Saves a train state every ``save_every`` steps, keeping the newest ``max_to_keep``.

    Use it as a context manager, or call :meth:`close` at the end so pending
    asynchronous saves finish.

    Args:
        directory: where the step directories are written (created if missing).
        save_every: :meth:`save` writes when ``step % save_every == 0`` (or when forced).
        max_to_keep: number of most recent checkpoints kept on disk.

    Example:
        >>> import tempfile, jax.numpy as jnp
        >>> with Checkpointer(tempfile.mkdtemp(), save_every=1) as ckpt:
        ...     _ = ckpt.save(1, {"w": jnp.ones(2)})
        ...     ckpt.wait()
        ...     ckpt.latest_step()
        1
    """

    def __init__(self, directory: str | os.PathLike, save_every: int, max_to_keep: int = 3):
        if save_every < 1:
            raise ValueError(f"save_every must be a positive integer, got {save_every}.")
        self.directory = os.path.abspath(directory)
        self.save_every = save_every
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep,
                create=True,
                cleanup_tmp_directories=True,
                enable_async_checkpointing=True,
            ),
        )

    def latest_step(self) -> int | None:
        """Step of the newest complete checkpoint, or None if there is none."""
        return self._manager.latest_step()

    def should_save(self, step: int) -> bool:
        """Whether ``step`` is a multiple of ``save_every``."""
        return step % self.save_every == 0

    def save(self, step: int, state: PyTree, *, force: bool = False) -> bool:
        """Starts an asynchronous save of ``state`` at ``step`` if it is due (or forced).

        Args:
            step: the training step the state belongs to.
            state: pytree of arrays, e.g. a ``TrainState``.
            force: save even if ``step`` is not a multiple of ``save_every``.

        Returns:
            True if a save was started.

        Raises:
            FloatingPointError: if any floating-point leaf holds NaN or inf; nothing
                is written, so the last checkpoint on disk stays the last good one.
        """
        if not (force or self.should_save(step)):
            return False
        bad = non_finite_paths(state)
        if bad:
            self.wait()
            raise FloatingPointError(
                f"Refusing to checkpoint step {step}: non-finite values in {', '.join(bad)}. "
                f"The last good checkpoint (step {self.latest_step()}) is kept."
            )
        self._manager.save(step, args=ocp.args.StandardSave(state), force=True)
        return True

    def restore(self, target_state: PyTree) -> PyTree | None:
        """Restores the newest checkpoint with the structure, dtypes and shardings of the target.

        Args:
            target_state: a state shaped like the saved one (e.g. a freshly created
                ``TrainState`` placed on the mesh); only its abstract shape is used.

        Returns:
            The restored state, or None if the directory holds no checkpoint.
        """
        step = self.latest_step()
        if step is None:
            return None
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target_state)
        return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))

    def wait(self) -> None:
        """Blocks until pending asynchronous saves are on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        """Waits for pending saves and releases the manager."""
        self._manager.close()

    def __enter__(self) -> "Checkpointer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
