"""Training: the one entry point ``fit``, train state (one or several optimisers), train steps,
EMA, the two players of a GAN, persistent chains (PCD, persistent Langevin), optimizer, sharding and multi-host set-up, checkpoints, the workdir lock, metrics logs, traced programs kept across runs."""

from gendiff.train.assign import assign_by_gradient, assignment_player, assignment_tx
from gendiff.train.checkpoint import Checkpointer, non_finite_paths
from gendiff.train.ema import EmaState, EmaTransform, ema, ema_init
from gendiff.train.export_cache import ExportCache
from gendiff.train.fit import fit, initialize_distributed, is_main_process
from gendiff.train.gan import gan_players
from gendiff.train.lock import WorkdirInUse, WorkdirLock
from gendiff.train.metrics_log import append_metrics, read_metrics
from gendiff.train.optim import make_optimizer, make_schedule
from gendiff.train.persistent import persistent_chain_players
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
from gendiff.train.step import Player, create_players_state, make_players_step, make_train_step

__all__ = [
    "assignment_player",
    "Checkpointer",
    "EmaState",
    "EmaTransform",
    "ExportCache",
    "Player",
    "TrainState",
    "WorkdirInUse",
    "WorkdirLock",
    "append_metrics",
    "assign_by_gradient",
    "assignment_tx",
    "batch_sharding",
    "create_players_state",
    "create_train_state",
    "ema",
    "ema_init",
    "fit",
    "gan_players",
    "initialize_distributed",
    "is_main_process",
    "jit_train_step",
    "local_batch_slice",
    "make_mesh",
    "make_optimizer",
    "make_players_step",
    "make_schedule",
    "make_train_step",
    "maybe_initialize_distributed",
    "non_finite_paths",
    "persistent_chain_players",
    "read_metrics",
    "replicate",
    "replicated_sharding",
    "shard_batch",
]
