"""Global batch definitions: what batch ``step`` is, for every process at once.

:func:`gendiff.train.fit` takes one of these instead of a per-process batch function. A
source defines the *global* batch of every step as a pure function of the step; ``fit``
asks it only for the rows that live on this process's devices:

    source.batch_size                  # the global batch size B
    source.local_batch(step, rows)     # rows ``rows`` (a slice of range(B)) of batch ``step``

Because nothing is carried from step to step, a resumed run sees exactly the batches it
would have seen, and 1 process x 4 devices sees the same global batches as 2 processes x
2 devices. Sources:

* :class:`ArrayBatches`: in-memory arrays, reshuffled every epoch (:class:`EpochBatcher`).
* :class:`IndexedBatches`: in-memory arrays, with your own ``indices_fn(step)``.
* :class:`WithStep`: any source, with the step number as a batch column (schedules inside a
  loss, such as a KL warm-up).
* :class:`FullBatch`: every step is the whole dataset (full-batch solvers such as L-BFGS);
  ``fit`` places it on the devices once.
* :class:`GeneratedBatches`: ``fn(step)`` draws the whole global batch (synthetic tasks).
* :class:`GrainBatches`: a random-access source that need not fit in memory
  (``tfds.data_source``, ArrayRecord files) through a grain ``MapDataset``; each process
  reads only its own rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import jax
import numpy as np

from gendiff.data.batching import EpochBatcher
from gendiff.data.dataset import ArrayDataset

PyTree = Any


@runtime_checkable
class BatchSource(Protocol):
    """The global batch of every step; see the module docstring.

    Example:
      >>> from gendiff.data import BatchSource, IndexedBatches
      >>> class Counting:  # global batch `step` holds step, step + 1, ..., step + 3
      ...     batch_size = 4
      ...     def local_batch(self, step, rows):
      ...         return {"x": (np.arange(self.batch_size) + step)[rows]}
      >>> indexed = IndexedBatches({"x": np.zeros(4)}, 2, lambda step: np.arange(2))
      >>> isinstance(Counting(), BatchSource), isinstance(indexed, BatchSource)
      (True, True)
      >>> Counting().local_batch(10, slice(2, 4))["x"].tolist()  # this process's rows
      [12, 13]
    """

    batch_size: int

    def local_batch(self, step: int, rows: slice) -> PyTree:
        """Rows ``rows`` of global batch ``step``, as host (NumPy) arrays."""
        ...


def _check_batch_size(batch_size: int) -> None:
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")


def _check_arrays(arrays: Mapping[str, np.ndarray]) -> int:
    if not arrays:
        raise ValueError("arrays must hold at least one named array, got none.")
    sizes = {name: len(x) for name, x in arrays.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"every array needs the same number of rows, got {sizes}.")
    (num,) = set(sizes.values())
    if num < 1:
        raise ValueError("arrays have no rows.")
    return num


@dataclasses.dataclass(frozen=True)
class IndexedBatches:
    """Rows ``indices_fn(step)`` of in-memory arrays.

    Attributes:
      arrays: named arrays with a common leading (example) axis.
      batch_size: the global batch size.
      indices_fn: ``indices_fn(step) -> (batch_size,)`` integer indices of the examples in
        global batch ``step``; must depend on ``step`` only.

    Example:
      >>> src = IndexedBatches({"x": np.arange(10.0)}, 4, lambda step: np.arange(4) + step)
      >>> src.local_batch(2, slice(0, 2))["x"]
      array([2., 3.])
    """

    arrays: Mapping[str, np.ndarray]
    batch_size: int
    indices_fn: Callable[[int], np.ndarray]

    def __post_init__(self):
        _check_batch_size(self.batch_size)
        _check_arrays(self.arrays)

    def local_batch(self, step: int, rows: slice) -> dict[str, np.ndarray]:
        indices = np.asarray(self.indices_fn(step))
        if indices.shape != (self.batch_size,):
            raise ValueError(
                f"indices_fn({step}) must return shape ({self.batch_size},), got {indices.shape}."
            )
        mine = indices[rows]
        return {name: np.asarray(x[mine]) for name, x in self.arrays.items()}


class ArrayBatches(IndexedBatches):
    """In-memory arrays, reshuffled every epoch with :class:`EpochBatcher` (seeded).

    Example:
      >>> src = ArrayBatches({"x": np.arange(10.0), "y": np.arange(10)}, 4, seed=0)
      >>> {k: v.shape for k, v in src.local_batch(0, slice(0, 4)).items()}
      {'x': (4,), 'y': (4,)}
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], batch_size: int, seed: int = 0):
        _check_batch_size(batch_size)
        batcher = EpochBatcher(_check_arrays(arrays), batch_size, seed)
        super().__init__(dict(arrays), batch_size, batcher.indices)

    @classmethod
    def from_dataset(
        cls, dataset: ArrayDataset, batch_size: int, seed: int = 0, *, labels: bool = False
    ) -> "ArrayBatches":
        """Batches ``{"image": ...}`` (and ``"label"`` with ``labels=True``) of a dataset.

        Raises:
          ValueError: ``labels=True`` for a dataset without labels.

        Example:
          >>> from gendiff import data
          >>> src = ArrayBatches.from_dataset(data.load("digits", "test"), 32, labels=True)
          >>> sorted(src.local_batch(0, slice(0, 32)))
          ['image', 'label']
        """
        arrays = {"image": dataset.images}
        if labels:
            if dataset.labels is None:
                raise ValueError(f"labels=True, but dataset {dataset.name!r} has no labels.")
            arrays["label"] = dataset.labels
        return cls(arrays, batch_size, seed)


class WithStep:
    """``source``'s batches with one more column, ``"step"``: the step number on every row.

    A loss that follows a schedule (a KL warm-up, an annealed weight) reads it as
    ``batch["step"][0]``; like every source it is a pure function of the step, so a resumed
    run sees the same schedule. The batch must be a dict.

    Example:
      >>> from gendiff.data import ArrayBatches, WithStep
      >>> src = WithStep(ArrayBatches({"x": np.arange(8.0)}, batch_size=4))
      >>> b = src.local_batch(3, slice(0, 2))
      >>> sorted(b), b["step"].tolist()
      (['step', 'x'], [3, 3])
    """

    def __init__(self, source: BatchSource):
        self.source, self.batch_size = source, source.batch_size

    def local_batch(self, step: int, rows: slice) -> dict[str, np.ndarray]:
        batch = self.source.local_batch(step, rows)
        if not isinstance(batch, dict) or "step" in batch:
            raise ValueError(
                "WithStep needs batches that are dicts without a 'step' entry, got "
                f"{type(batch).__name__}"
                + (f" with keys {sorted(batch)}" if isinstance(batch, dict) else "")
                + "."
            )
        num = len(next(iter(batch.values())))
        return {**batch, "step": np.full((num,), step, np.int32)}


class FullBatch:
    """Every step's batch is all the rows of ``arrays`` (full-batch optimisation).

    ``static = True`` tells :func:`gendiff.train.fit` that the batch never changes, so it is
    sharded onto the devices once rather than at every step. The number of rows is the
    global batch size, so it must divide by the device count of the mesh.

    Attributes:
      arrays: named arrays with a common number of rows.
      batch_size: that number of rows.

    Example:
      >>> from gendiff.data import FullBatch
      >>> src = FullBatch({"x": np.arange(6.0), "y": np.ones(6)})
      >>> src.batch_size, src.static, src.local_batch(7, slice(0, 3))["x"].tolist()
      (6, True, [0.0, 1.0, 2.0])
    """

    static = True

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self.batch_size = _check_arrays(arrays)
        self.arrays = {name: np.asarray(x) for name, x in arrays.items()}

    def local_batch(self, step: int, rows: slice) -> dict[str, np.ndarray]:
        return {name: x[rows] for name, x in self.arrays.items()}


@dataclasses.dataclass(frozen=True)
class GeneratedBatches:
    """A global batch drawn by ``fn(step)``; each process keeps its own rows.

    Every process draws the whole global batch and slices it, which is exact and simple,
    and costs little for the synthetic tasks this is meant for.

    Attributes:
      fn: ``fn(step) -> pytree of arrays`` with leading axis ``batch_size``; a pure function
        of ``step`` (e.g. a generator seeded with ``(seed, step)``).
      batch_size: the global batch size.

    Example:
      >>> fn = lambda step: {"x": np.random.default_rng(step).normal(size=(8, 3))}
      >>> GeneratedBatches(fn, 8).local_batch(0, slice(4, 8))["x"].shape
      (4, 3)
    """

    fn: Callable[[int], PyTree]
    batch_size: int

    def __post_init__(self):
        _check_batch_size(self.batch_size)

    def local_batch(self, step: int, rows: slice) -> PyTree:
        def take(x):
            x = np.asarray(x)
            if x.ndim == 0 or x.shape[0] != self.batch_size:
                raise ValueError(
                    f"fn({step}) must return arrays with leading axis {self.batch_size}, "
                    f"got shape {x.shape}."
                )
            return x[rows]

        return jax.tree.map(take, self.fn(step))


class GrainBatches:
    """Batches from a random-access source through a grain ``MapDataset``.

    The source (anything with ``__len__`` and ``__getitem__``: a ``tfds.data_source``,
    ``grain.sources.ArrayRecordDataSource``, a list) is shuffled by grain with a fresh
    permutation every epoch; global batch ``step`` holds stream positions
    ``[step B, (step + 1) B)``, and a process reads only the records of its rows. Records are
    dicts of arrays (or arrays); ``transform(record)`` maps each record first (e.g. decoding
    and scaling an image), and records are stacked per field.

    Args:
      source: random-access data source.
      batch_size: the global batch size.
      seed: shuffle seed.
      transform: optional per-record function.

    Example:
      >>> records = [{"image": np.full((2, 2), i, np.float32)} for i in range(10)]
      >>> src = GrainBatches(records, batch_size=4, seed=0)
      >>> src.local_batch(0, slice(0, 2))["image"].shape
      (2, 2, 2)
    """

    def __init__(
        self,
        source: Any,
        batch_size: int,
        seed: int = 0,
        transform: Callable[[Any], Any] | None = None,
    ):
        import grain  # optional dependency, imported when used

        _check_batch_size(batch_size)
        if len(source) < 1:
            raise ValueError("source is empty.")
        self.batch_size = batch_size
        dataset = grain.MapDataset.source(source).shuffle(seed=seed)
        self._dataset = dataset.map(transform) if transform is not None else dataset

    def local_batch(self, step: int, rows: slice) -> PyTree:
        start = step * self.batch_size
        records = [self._dataset[start + r] for r in range(*rows.indices(self.batch_size))]
        return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *records)
