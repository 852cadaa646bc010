"""The synthetic sequence tasks: what each batch holds, and batches as functions of the step."""

import jax
import numpy as np
import pytest

from gendiff.data import tasks


def test_induction_heads_label_is_the_token_after_the_first_trigger():
    L, S = 12, 5
    b = tasks.induction_heads(jax.random.key(0), 64, seq_len=L, num_symbols=S)
    tokens, targets = np.asarray(b["tokens"]), np.asarray(b["targets"])
    assert tokens.shape == (64, L) and targets.shape == (64, 1)
    assert tokens.dtype == targets.dtype == np.int32
    assert tokens.min() >= 0 and tokens.max() <= S
    np.testing.assert_array_equal(tokens[:, -1], S)  # the query trigger
    is_trigger = tokens == S
    np.testing.assert_array_equal(is_trigger.sum(1), 2)  # once inside, once at the end
    first = is_trigger.argmax(1)
    assert first.max() <= L - 3  # the recalled token is never the query itself
    np.testing.assert_array_equal(targets[:, 0], tokens[np.arange(64), first + 1])
    assert targets.max() < S  # an ordinary token, never the trigger
    # The trigger moves between sequences, and a different key gives different sequences.
    assert len(set(first)) > 3
    other = tasks.induction_heads(jax.random.key(1), 64, seq_len=L, num_symbols=S)["tokens"]
    assert not np.array_equal(tokens, other)


def test_selective_copying_holds_the_targets_in_order_among_blanks_then_markers():
    L, M, S = 20, 5, 4
    b = tasks.selective_copying(jax.random.key(0), 16, seq_len=L, num_data=M, num_symbols=S)
    tokens, targets = np.asarray(b["tokens"]), np.asarray(b["targets"])
    assert tokens.shape == (16, L + M) and targets.shape == (16, M)
    np.testing.assert_array_equal(tokens[:, L:], S + 1)  # the markers
    data = tokens[:, :L]
    assert set(np.unique(data)) <= set(range(S + 1))
    assert np.all((data != tasks.BLANK).sum(1) == M)
    for row, target in zip(data, targets):
        np.testing.assert_array_equal(row[row != tasks.BLANK], target)  # data tokens in order
    assert targets.min() >= 1 and targets.max() <= S
    # Positions vary between sequences, and a different key gives different sequences.
    assert len({tuple(np.flatnonzero(r)) for r in data}) > 1
    other = tasks.selective_copying(jax.random.key(1), 16, seq_len=L, num_data=M, num_symbols=S)
    assert not np.array_equal(tokens, other["tokens"])


@pytest.mark.parametrize(
    "task, sizes",
    [
        (tasks.induction_heads, dict(seq_len=10, num_symbols=4)),
        (tasks.selective_copying, dict(seq_len=10, num_data=3, num_symbols=4)),
    ],
)
def test_step_batches_are_host_arrays_fixed_by_key_and_step(task, sizes):
    key = jax.random.key(7)
    batch_of_step = tasks.step_batches(task, key, 8, **sizes)
    first = batch_of_step(3)
    assert all(isinstance(v, np.ndarray) and len(v) == 8 for v in first.values())
    # A fresh function (a resumed run, another process) gives the same batch of the step ...
    again = tasks.step_batches(task, key, 8, **sizes)(3)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    # ... which is the task drawn from fold_in(key, step), and differs between steps.
    direct = task(jax.random.fold_in(key, 3), 8, **sizes)
    np.testing.assert_array_equal(first["tokens"], direct["tokens"])
    assert not np.array_equal(first["tokens"], batch_of_step(4)["tokens"])


def test_pixel_sequences_hold_the_pixels_in_raster_order():
    images = np.random.default_rng(0).standard_normal((3, 8, 8, 1)).astype(np.float32)
    seq = tasks.pixel_sequences(images)
    assert seq.shape == (3, 64, 1)
    for r in range(8):
        for c in range(8):
            np.testing.assert_array_equal(seq[:, 8 * r + c, 0], images[:, r, c, 0])
    with pytest.raises(ValueError, match="N, H, W, C"):
        tasks.pixel_sequences(images[0])


def test_bad_task_sizes_are_rejected():
    with pytest.raises(ValueError, match="seq_len >= 3"):
        tasks.induction_heads(jax.random.key(0), 2, seq_len=2, num_symbols=4)
    with pytest.raises(ValueError, match="num_data <= seq_len"):
        tasks.selective_copying(jax.random.key(0), 2, seq_len=3, num_data=4, num_symbols=4)
