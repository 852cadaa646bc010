"""ml_collections presets of the experiments, one module per experiment."""

from __future__ import annotations

from typing import Callable

import ml_collections


def lookup(presets: dict[str, Callable[[], ml_collections.ConfigDict]], preset: str):
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    if preset not in presets:
        raise ValueError(f"Unknown preset {preset!r}; expected one of {sorted(presets)}.")
    return presets[preset]()
