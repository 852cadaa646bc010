"""Tests of the stateless epoch batcher."""

import numpy as np
import pytest

from gendiff import data


@pytest.mark.parametrize("num_examples,batch_size", [(10, 4), (12, 4), (3, 7)])
def test_stream_is_concatenated_epoch_permutations(num_examples, batch_size):
    batcher = data.EpochBatcher(num_examples, batch_size, seed=5)
    num_epochs = 4 * batch_size  # the first 4 * N batches cover exactly this many epochs
    stream = np.concatenate([batcher.indices(s) for s in range(4 * num_examples)])
    epochs = stream.reshape(num_epochs, num_examples)
    for e, epoch in enumerate(epochs):
        np.testing.assert_array_equal(np.sort(epoch), np.arange(num_examples))  # each example once
        np.testing.assert_array_equal(
            epoch, np.random.default_rng((5, e)).permutation(num_examples)
        )
    assert len({tuple(epoch) for epoch in epochs}) > 1  # epochs are reshuffled


def test_same_step_same_indices_after_restart():
    steps = [0, 7, 123_456]
    first = [data.EpochBatcher(1000, 32, seed=1).indices(s) for s in steps]
    again = [data.EpochBatcher(1000, 32, seed=1).indices(s) for s in reversed(steps)][::-1]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(data.EpochBatcher(1000, 32, seed=2).indices(0), first[0])


@pytest.mark.parametrize("process_count", [1, 2, 4, 8])
def test_local_slices_concatenate_to_global_batch(process_count):
    batcher = data.EpochBatcher(50, 8, seed=0)
    for step in (0, 6, 13):  # step 6 straddles epochs 0 and 1
        local = [batcher.local_indices(step, i, process_count) for i in range(process_count)]
        np.testing.assert_array_equal(np.concatenate(local), batcher.indices(step))


def test_errors():
    batcher = data.EpochBatcher(50, 8, seed=0)
    with pytest.raises(ValueError, match="divisible by process_count 3"):
        batcher.local_indices(0, 0, 3)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        batcher.local_indices(0, 2, 2)
    with pytest.raises(ValueError, match="step must be >= 0"):
        batcher.indices(-1)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        data.EpochBatcher(50, 0, seed=0)


def test_get_batch():
    images = np.linspace(-1, 1, 5 * 2 * 2).reshape(5, 2, 2, 1).astype(np.float32)
    ds = data.ArrayDataset(images, np.array([3, 1, 4, 1, 5], np.int32), 256, 10, "tiny")
    batch = data.get_batch(ds, np.array([4, 0, 4]))
    np.testing.assert_array_equal(batch["image"], images[[4, 0, 4]])
    np.testing.assert_array_equal(batch["label"], [5, 3, 5])
    points = data.ArrayDataset(np.zeros((5, 2), np.float32), None, None, None, "points")
    assert set(data.get_batch(points, np.array([1, 2]))) == {"image"}
