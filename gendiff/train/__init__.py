"""Training harness: state, EMA, optimizer, train step, sharding, checkpoints, loop."""

from gendiff.train.checkpoint import Checkpointer, non_finite_paths
from gendiff.train.ema import EmaState, EmaTransform, ema, ema_init
from gendiff.train.loop import train
from gendiff.train.metrics_log import append_metrics, read_metrics
from gendiff.train.optim import make_optimizer, make_schedule
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
from gendiff.train.state import TrainState, create_train_state
from gendiff.train.step import make_train_step

__all__ = [
    "Checkpointer",
    "EmaState",
    "EmaTransform",
    "TrainState",
    "append_metrics",
    "batch_sharding",
    "create_train_state",
    "ema",
    "ema_init",
    "jit_train_step",
    "local_batch_slice",
    "make_mesh",
    "make_optimizer",
    "make_schedule",
    "make_train_step",
    "maybe_initialize_distributed",
    "non_finite_paths",
    "read_metrics",
    "replicate",
    "replicated_sharding",
    "shard_batch",
    "train",
]
