"""Deterministic, stateless batching: batch ``step`` is a pure function of (seed, step).

The examples are read as one infinite stream made of concatenated epochs; epoch e is
the permutation ``np.random.default_rng((seed, e)).permutation(num_examples)``. Step s
takes stream positions [s B, (s + 1) B), so a batch may straddle two (or, when
B > N, more) epochs. Nothing is carried from step to step, so training resumes exactly
after a restart, and every host computes the same global batch and takes its own
contiguous slice of it, whatever the number of hosts.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from gendiff.data.dataset import ArrayDataset


@functools.lru_cache(maxsize=8)
def _epoch_permutation(num_examples: int, seed: int, epoch: int) -> np.ndarray:
    perm = np.random.default_rng((seed, epoch)).permutation(num_examples)
    perm.flags.writeable = False  # shared through the cache
    return perm


@dataclasses.dataclass(frozen=True)
class EpochBatcher:
    """Indices of the examples in each global batch.

    Attributes:
      num_examples: dataset size N.
      batch_size: global batch size B.
      seed: non-negative seed of the per-epoch permutations.

    Example:
      >>> batcher = EpochBatcher(num_examples=10, batch_size=4, seed=0)
      >>> batcher.indices(2).shape  # positions 8..11: two from epoch 0, two from epoch 1
      (4,)
    """

    num_examples: int
    batch_size: int
    seed: int

    def __post_init__(self):
        for field in ("num_examples", "batch_size"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1; got {getattr(self, field)}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0; got {self.seed}")

    def indices(self, step: int) -> np.ndarray:
        """Example indices of global batch ``step`` (>= 0), shape (batch_size,), int64."""
        if step < 0:
            raise ValueError(f"step must be >= 0; got {step}")
        positions = step * self.batch_size + np.arange(self.batch_size)
        epochs, offsets = np.divmod(positions, self.num_examples)
        out = np.empty(self.batch_size, np.int64)
        for epoch in range(int(epochs[0]), int(epochs[-1]) + 1):
            in_epoch = epochs == epoch
            out[in_epoch] = _epoch_permutation(self.num_examples, self.seed, epoch)[
                offsets[in_epoch]
            ]
        return out

    def local_indices(self, step: int, process_index: int, process_count: int) -> np.ndarray:
        """This host's contiguous slice of :meth:`indices`, shape (batch_size // process_count,).

        Raises:
          ValueError: batch_size not divisible by process_count, or process_index outside
            [0, process_count).
        """
        if process_count < 1 or self.batch_size % process_count:
            raise ValueError(
                f"batch_size {self.batch_size} must be divisible by process_count {process_count}"
            )
        if not 0 <= process_index < process_count:
            raise ValueError(f"process_index must be in [0, {process_count}); got {process_index}")
        per_process = self.batch_size // process_count
        start = process_index * per_process
        return self.indices(step)[start : start + per_process]


def get_batch(dataset: ArrayDataset, indices: np.ndarray) -> dict[str, np.ndarray]:
    """Gathers examples: {'image': (b, ...) float32, 'label': (b,) int32}.

    The 'label' key is present only when the dataset has labels.

    Example:
      >>> ds = ArrayDataset(np.zeros((5, 2), np.float32), None, None, None, "points")
      >>> get_batch(ds, np.array([0, 3]))["image"].shape
      (2, 2)
    """
    batch = {"image": dataset.images[indices]}
    if dataset.labels is not None:
        batch["label"] = dataset.labels[indices]
    return batch
