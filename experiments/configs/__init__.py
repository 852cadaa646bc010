"""ml_collections presets of the experiments, one module per experiment."""

from __future__ import annotations

from typing import Callable

import ml_collections


def lookup(presets: dict[str, Callable[[], ml_collections.ConfigDict]], preset: str):
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    if preset not in presets:
        raise ValueError(f"Unknown preset {preset!r}; expected one of {sorted(presets)}.")
    return presets[preset]()


def distributed() -> ml_collections.ConfigDict:
    """The ``config.distributed`` section every experiment has (see
    ``gendiff.train.initialize_distributed``): off by default; ``initialize=True`` with no
    coordinator detects the cluster (TPU pods, SLURM), or give the coordinator's address, the
    number of processes and this process's id."""
    c = ml_collections.ConfigDict()
    c.initialize = False  # call jax.distributed.initialize() (TPU pods, multi-host)
    c.coordinator_address = ""
    c.num_processes = 0
    c.process_id = -1
    return c
