"""Synthetic sequence tasks, drawn on the fly: induction heads, selective copying, pixel sequences.

A task's batch is a pure function of a PRNG key, so :func:`step_batches` makes the global batch
of training step s from ``fold_in(key, s)``: every process computes the same global batch and
keeps its own rows, and a resumed run sees exactly the batches it would have seen.

Example:
  >>> batch_of_step = step_batches(
  ...     induction_heads, jax.random.key(0), 16, seq_len=12, num_symbols=4)
  >>> batch_of_step(3)["tokens"].shape
  (16, 12)
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

BLANK = 0  # selective copying's blank token


@functools.partial(jax.jit, static_argnames=("batch_size", "seq_len", "num_symbols"))
def induction_heads(
    key: jax.Array, batch_size: int, *, seq_len: int, num_symbols: int
) -> dict[str, jax.Array]:
    """A batch of induction-heads sequences (Olsson et al. 2022; Gu & Dao 2023, §4.1.2).

    Each sequence is L uniform random ordinary tokens in which the trigger appears once, at a
    uniform random position p in [0, L - 3], and again at the last position; there the model
    must output the token that followed the first trigger (associative recall).

    Args:
      key: PRNG key.
      batch_size: number of sequences.
      seq_len: L >= 3, the length of each sequence.
      num_symbols: S, ordinary tokens 0..S-1; the trigger is token S (vocabulary S + 1).

    Returns:
      {"tokens": (batch, L) int32, "targets": (batch, 1) int32} with
      targets[:, 0] = tokens[:, p + 1], to be output at the last position.

    Example:
      >>> b = induction_heads(jax.random.key(0), 2, seq_len=10, num_symbols=4)
      >>> b["tokens"].shape, b["targets"].shape, int(b["tokens"][0, -1])
      ((2, 10), (2, 1), 4)
    """
    if seq_len < 3 or num_symbols < 1:
        raise ValueError(f"need seq_len >= 3 and num_symbols >= 1, got {seq_len}, {num_symbols}")
    key_tok, key_pos = jax.random.split(key)
    tokens = jax.random.randint(key_tok, (batch_size, seq_len), 0, num_symbols, jnp.int32)
    p = jax.random.randint(key_pos, (batch_size,), 0, seq_len - 2)  # first trigger, p + 1 < L - 1
    rows = jnp.arange(batch_size)
    tokens = tokens.at[rows, p].set(num_symbols).at[:, -1].set(num_symbols)
    return {"tokens": tokens, "targets": tokens[rows, p + 1][:, None]}


@functools.partial(jax.jit, static_argnames=("batch_size", "seq_len", "num_data", "num_symbols"))
def selective_copying(
    key: jax.Array, batch_size: int, *, seq_len: int, num_data: int, num_symbols: int
) -> dict[str, jax.Array]:
    """A batch of selective-copying sequences (Gu & Dao 2023, §4.1.1).

    L positions hold M data tokens at random positions among blanks, then come M marker
    tokens; at the j-th marker the model must output the j-th data token.

    Args:
      key: PRNG key.
      batch_size: number of sequences.
      seq_len: L, positions holding data and blanks.
      num_data: M, data tokens per sequence (1 <= M <= L).
      num_symbols: distinct data tokens, ids 1..num_symbols; 0 is the blank
        (:data:`BLANK`) and num_symbols + 1 the marker (vocabulary num_symbols + 2).

    Returns:
      {"tokens": (batch, L + M) int32, "targets": (batch, M) int32}: tokens[:, :L] has the data
      at M sorted random positions and blanks elsewhere, tokens[:, L:] are markers, and
      targets[:, j] is the j-th data token, to be output at position L + j.

    Example:
      >>> b = selective_copying(jax.random.key(0), 2, seq_len=10, num_data=3, num_symbols=4)
      >>> b["tokens"].shape, b["targets"].shape
      ((2, 13), (2, 3))
    """
    if not 1 <= num_data <= seq_len or num_symbols < 1:
        raise ValueError(
            f"need 1 <= num_data <= seq_len and num_symbols >= 1, got num_data={num_data}, "
            f"seq_len={seq_len}, num_symbols={num_symbols}"
        )
    key_pos, key_sym = jax.random.split(key)
    # M distinct positions per row: the first M of a random permutation, in increasing order.
    order = jnp.argsort(jax.random.uniform(key_pos, (batch_size, seq_len)), axis=1)
    positions = jnp.sort(order[:, :num_data], axis=1)
    targets = jax.random.randint(key_sym, (batch_size, num_data), 1, num_symbols + 1, jnp.int32)
    rows = jnp.arange(batch_size)[:, None]
    data = jnp.full((batch_size, seq_len), BLANK, jnp.int32).at[rows, positions].set(targets)
    markers = jnp.full((batch_size, num_data), num_symbols + 1, jnp.int32)
    return {"tokens": jnp.concatenate([data, markers], axis=1), "targets": targets}


def step_batches(
    task: Callable[..., dict[str, jax.Array]], key: jax.Array, batch_size: int, **task_args
) -> Callable[[int], dict[str, np.ndarray]]:
    """The global batch of each training step of a task: step s -> task(fold_in(key, s), ...).

    Args:
      task: a generator of this module (or any ``task(key, batch_size, **task_args)``).
      key: base PRNG key of the data, the same on every process.
      batch_size: the global batch size.
      **task_args: the task's sizes (seq_len, num_symbols, ...).

    Returns:
      ``batch_of_step(step) -> {name: host array with leading axis batch_size}``, a pure
      function of the step (what ``gendiff.data.GeneratedBatches`` takes).

    Example:
      >>> fn = step_batches(selective_copying, jax.random.key(0), 8,
      ...                   seq_len=12, num_data=3, num_symbols=4)
      >>> bool((fn(5)["tokens"] == fn(5)["tokens"]).all())
      True
    """

    def batch_of_step(step: int) -> dict[str, np.ndarray]:
        return jax.device_get(task(jax.random.fold_in(key, step), batch_size, **task_args))

    return batch_of_step


def pixel_sequences(images: np.ndarray) -> np.ndarray:
    """Images (N, H, W, C) -> sequences (N, H W, C) of pixels in row-major (raster) order.

    The sequential-MNIST construction: a classifier reads one pixel per position.

    Example:
      >>> pixel_sequences(np.zeros((5, 8, 8, 1))).shape
      (5, 64, 1)
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W, C), got {images.shape}")
    n, h, w, c = images.shape
    return images.reshape(n, h * w, c)
