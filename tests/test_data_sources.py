"""Global batch definitions: every process's rows put together are the global batch."""

import numpy as np
import pytest

from gendiff import data
from gendiff.data import (
    ArrayBatches,
    FullBatch,
    GeneratedBatches,
    GrainBatches,
    IndexedBatches,
    WithStep,
)


def _rows_of_processes(source, step, processes):
    per = source.batch_size // processes
    parts = [source.local_batch(step, slice(i * per, (i + 1) * per)) for i in range(processes)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@pytest.mark.parametrize("processes", [2, 4])
def test_array_batches_split_over_processes_is_the_global_batch(processes):
    x = np.arange(50, dtype=np.float32)[:, None]
    source = ArrayBatches({"x": x, "y": np.arange(50)}, batch_size=8, seed=3)
    for step in (0, 6, 7):  # step 6 straddles epochs 0 and 1
        whole = source.local_batch(step, slice(0, 8))
        split = _rows_of_processes(source, step, processes)
        np.testing.assert_array_equal(split["x"], whole["x"])
        np.testing.assert_array_equal(whole["x"][:, 0], whole["y"])  # rows stay paired
    indices = data.EpochBatcher(50, 8, 3).indices(6)
    np.testing.assert_array_equal(source.local_batch(6, slice(0, 8))["y"], indices)


def test_array_batches_cover_each_epoch_once():
    source = ArrayBatches({"y": np.arange(12)}, batch_size=4, seed=0)
    seen = np.concatenate([source.local_batch(s, slice(0, 4))["y"] for s in range(3)])
    assert sorted(seen) == list(range(12))


def test_from_dataset_and_labels():
    ds = data.load("digits", "test")
    batch = ArrayBatches.from_dataset(ds, 16, labels=True).local_batch(0, slice(0, 16))
    assert batch["image"].shape == (16, 8, 8, 1) and batch["label"].dtype == np.int32
    points = data.load("toy2d/two_moons", "test")
    with pytest.raises(ValueError, match="has no labels"):
        ArrayBatches.from_dataset(points, 16, labels=True)


def test_generated_and_indexed_batches_slice_rows():
    fn = lambda step: {"x": np.arange(8) + 100 * step}
    np.testing.assert_array_equal(
        GeneratedBatches(fn, 8).local_batch(2, slice(4, 8))["x"], [204, 205, 206, 207]
    )
    with pytest.raises(ValueError, match="leading axis 4"):
        GeneratedBatches(fn, 4).local_batch(0, slice(0, 2))
    src = IndexedBatches({"x": np.arange(10) * 2}, 3, lambda step: np.array([step, 0, 9]))
    np.testing.assert_array_equal(src.local_batch(4, slice(1, 3))["x"], [0, 18])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        IndexedBatches({"x": np.arange(10)}, 3, lambda step: np.arange(2)).local_batch(
            0, slice(0, 3)
        )


def test_grain_batches_stream_epochs_and_shard_by_process():
    records = [
        {"image": np.full((2, 2, 1), i, np.float32), "label": np.int32(i)} for i in range(10)
    ]
    source = GrainBatches(records, batch_size=4, seed=1)
    labels = np.concatenate([source.local_batch(s, slice(0, 4))["label"] for s in range(5)])
    assert sorted(labels[:10]) == list(range(10))  # the first epoch holds every record once
    assert sorted(labels[10:20]) == list(range(10))  # and so does the second
    split = _rows_of_processes(source, 3, 2)
    np.testing.assert_array_equal(split["label"], source.local_batch(3, slice(0, 4))["label"])
    np.testing.assert_array_equal(split["image"][:, 0, 0, 0], split["label"])
    assert not np.array_equal(labels[:10], labels[10:20])  # a new permutation per epoch


def test_grain_batches_read_a_tfds_data_source(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        src = tfds.data_source("mnist", split="train")
        source = GrainBatches(src, batch_size=4, seed=0, transform=lambda r: {"label": r["label"]})
        batch = source.local_batch(0, slice(0, 4))
    assert batch["label"].shape == (4,)


def test_bad_sources():
    with pytest.raises(ValueError, match="positive integer"):
        ArrayBatches({"x": np.zeros(4)}, 0)
    with pytest.raises(ValueError, match="same number of rows"):
        ArrayBatches({"x": np.zeros(4), "y": np.zeros(5)}, 2)


def test_with_step_adds_the_step_on_every_row_and_keeps_the_rows():
    inner = ArrayBatches({"x": np.arange(12.0)}, 4, seed=3)
    src = WithStep(inner)
    assert src.batch_size == 4
    for step in (0, 5, 17):
        b = src.local_batch(step, slice(1, 3))
        np.testing.assert_array_equal(b["x"], inner.local_batch(step, slice(1, 3))["x"])
        assert b["step"].dtype == np.int32 and b["step"].tolist() == [step, step]
    with pytest.raises(ValueError, match="dicts without a 'step' entry"):
        WithStep(WithStep(inner)).local_batch(0, slice(0, 4))


def test_full_batch_is_every_row_at_every_step():
    x = np.arange(10.0).reshape(5, 2)
    src = FullBatch({"x": x, "y": np.ones(5)})
    assert src.batch_size == 5 and src.static
    np.testing.assert_array_equal(src.local_batch(123, slice(0, 5))["x"], x)
    with pytest.raises(ValueError, match="same number of rows"):
        FullBatch({"x": np.zeros(4), "y": np.zeros(5)})
