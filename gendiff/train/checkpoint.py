"""Checkpoints with orbax: periodic, asynchronous, atomic, and never non-finite.

Orbax writes each step into a temporary directory and renames it only when the
write is complete, so a process killed mid-save leaves the previous checkpoints
valid (the unfinished temporary directory is ignored and cleaned up on the next
start).
"""

import functools
import os
import shutil
import warnings
from typing import Any

import jax
import jax.numpy as jnp

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


_PARTIAL_SAVE_MARK = ".orbax-checkpoint-tmp"  # orbax's name for a step still being written


def _remove_partial_saves(directory: str) -> None:
    """Deletes the step directories a killed run left half-written (process 0 only), before
    any save of this run starts, so that no restore can see them. (Orbax's own clean-up of
    them runs in the background and could still be running when the manager opens.)"""
    if jax.process_index() != 0 or not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        if _PARTIAL_SAVE_MARK in name:
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)


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
        self.max_to_keep = max_to_keep
        _remove_partial_saves(self.directory)

    @functools.cached_property
    def _manager(self):
        # Created (and orbax imported) at the first save or restore of a checkpoint, not at
        # the start of a run on an empty directory.
        import orbax.checkpoint as ocp

        return ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=self.max_to_keep,
                create=True,
                cleanup_tmp_directories=False,  # done in __init__, before any save can start
                enable_async_checkpointing=True,
            ),
        )

    def _started(self) -> bool:
        """Whether the manager exists or there is something on disk for it to read."""
        return "_manager" in self.__dict__ or (
            os.path.isdir(self.directory) and bool(os.listdir(self.directory))
        )

    def latest_step(self) -> int | None:
        """Step of the newest complete checkpoint, or None if there is none."""
        return self._manager.latest_step() if self._started() else None

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
        import orbax.checkpoint as ocp

        self._manager.save(step, args=ocp.args.StandardSave(state), force=True)
        return True

    def restore(self, target_state: PyTree) -> PyTree | None:
        """Restores the newest readable checkpoint onto the target's structure and shardings.

        The restore passes the target's shapes, dtypes and shardings explicitly, so a
        checkpoint written on one mesh (say 4 devices) restores onto another (1 device).
        A checkpoint that cannot be read (truncated or corrupt files, a mismatched tree) is
        reported with a warning naming its step, moved aside to ``<step>.corrupt`` (so that
        a later save of that step does not collide with it), and the next older one is
        tried.

        Args:
            target_state: a state shaped like the saved one (e.g. a freshly created
                ``TrainState`` placed on the mesh); only its abstract shape is used.

        Returns:
            The restored state, or None if the directory holds no readable checkpoint.
        """
        if not self._started():
            return None
        import orbax.checkpoint as ocp

        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target_state)
        for step in sorted(self._manager.all_steps(), reverse=True):
            try:
                return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
            except Exception as error:  # orbax raises many types for damaged files
                reason = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:300]}"
                self._quarantine(step, reason)
        return None

    def _quarantine(self, step: int, reason: str) -> None:
        path = os.path.join(self.directory, str(step))
        aside = f"{path}.corrupt"
        warnings.warn(
            f"Checkpoint step {step} in {self.directory} is unreadable ({reason}). "
            f"Moving it to {aside} and falling back to the previous checkpoint.",
            RuntimeWarning,
            stacklevel=3,
        )
        if jax.process_index() == 0 and os.path.isdir(path):
            if os.path.exists(aside):
                shutil.rmtree(aside)
            os.replace(path, aside)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices(f"gendiff_quarantine_{step}")
        self._manager.reload()

    def wait(self) -> None:
        """Blocks until pending asynchronous saves are on disk."""
        if "_manager" in self.__dict__:
            self._manager.wait_until_finished()

    def close(self) -> None:
        """Waits for pending saves and releases the manager."""
        if "_manager" in self.__dict__:
            self._manager.close()

    def __enter__(self) -> "Checkpointer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
