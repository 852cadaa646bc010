"""Optimizer and learning-rate schedule built from a config.

Config fields (``ml_collections.ConfigDict``, a dict, or any object with attributes):

    optimizer       'adam' | 'adamw'                     (default 'adam')
    learning_rate   peak learning rate                   (required)
    schedule        'constant' | 'cosine'                (default 'constant')
    num_steps       total steps, needed by 'cosine'
    warmup_steps    linear warm-up length                (default 0 = none)
    grad_clip_norm  clip by global norm; 0 or None = off (default None)
    weight_decay    decoupled weight decay, 'adamw' only (default 0.0)
    b1, b2, eps     Adam moments and epsilon             (defaults 0.9, 0.999, 1e-8)
"""

import warnings
from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import optax

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "cosine")


def _field(config: Any, name: str, default: Any) -> Any:
    if isinstance(config, Mapping):
        return config.get(name, default)
    return getattr(config, name, default)


def make_schedule(config: Any) -> optax.Schedule:
    """Learning rate as a function of the update count ``t`` (0 for the first update).

    With peak rate ``lr``, warm-up ``W`` and total steps ``T``:

        warm(t)     = min(1, t / W)            (1 when W = 0)
        constant:   lr(t) = lr * warm(t)
        cosine:     lr(t) = lr * warm(t) * (1 + cos(pi * u)) / 2,  u = clip((t - W) / (T - W), 0, 1)

    Args:
        config: see the module docstring.

    Returns:
        An ``optax.Schedule`` mapping step counts to learning rates.

    Raises:
        ValueError: for an unknown schedule, or a cosine schedule without ``num_steps``.

    A warm-up that does not fit in a cosine run is shortened to a tenth of the run, with a
    warning naming the flag to change.

    Example:
        >>> sched = make_schedule({"learning_rate": 1e-3, "warmup_steps": 10})
        >>> round(float(sched(5)), 7)
        0.0005
    """
    lr = _field(config, "learning_rate", None)
    if lr is None or float(lr) <= 0.0:
        raise ValueError(f"config.learning_rate must be a positive number, got {lr!r}.")
    lr = float(lr)
    name = _field(config, "schedule", "constant")
    warmup = int(_field(config, "warmup_steps", 0) or 0)
    if warmup < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup}.")
    if name not in SCHEDULES:
        raise ValueError(f"Unknown schedule {name!r}; expected one of {SCHEDULES}.")

    def warm(t):
        return jnp.minimum(1.0, t / warmup) if warmup > 0 else 1.0

    if name == "constant":
        return lambda t: lr * warm(t)

    num_steps = int(_field(config, "num_steps", 0) or 0)
    if num_steps < 1:
        raise ValueError(
            f"The cosine schedule needs the run length: set optim.num_steps > 0, got {num_steps}."
        )
    if num_steps <= warmup:
        shorter = num_steps // 10
        warnings.warn(
            f"warmup_steps={warmup} does not fit in num_steps={num_steps}: the warm-up is "
            f"shortened to {shorter} steps (a tenth of the run). Set optim.warmup_steps "
            "(e.g. --config.optim.warmup_steps=N) to choose it yourself.",
            stacklevel=2,
        )
        warmup = shorter

    def cosine(t):
        u = jnp.clip((t - warmup) / (num_steps - warmup), 0.0, 1.0)
        return lr * warm(t) * 0.5 * (1.0 + jnp.cos(jnp.pi * u))

    return cosine


def make_optimizer(config: Any) -> optax.GradientTransformation:
    """Adam or AdamW with the configured schedule and optional global-norm clipping.

    Clipping is applied to the raw gradients, before the Adam moments.

    Args:
        config: see the module docstring.

    Returns:
        The ``optax.GradientTransformation``.

    Raises:
        ValueError: for an unknown optimizer or schedule, or weight decay with 'adam'.

    Example:
        >>> tx = make_optimizer({"optimizer": "adamw", "learning_rate": 1e-3,
        ...                      "weight_decay": 1e-4, "grad_clip_norm": 1.0})
    """
    name = _field(config, "optimizer", "adam")
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; expected one of {OPTIMIZERS}.")
    weight_decay = float(_field(config, "weight_decay", 0.0) or 0.0)
    if name == "adam" and weight_decay != 0.0:
        raise ValueError(
            f"weight_decay={weight_decay} is only used by optimizer 'adamw', not 'adam'."
        )
    schedule = make_schedule(config)
    moments = dict(
        b1=float(_field(config, "b1", 0.9)),
        b2=float(_field(config, "b2", 0.999)),
        eps=float(_field(config, "eps", 1e-8)),
    )
    if name == "adam":
        opt = optax.adam(schedule, **moments)
    else:
        opt = optax.adamw(schedule, weight_decay=weight_decay, **moments)
    clip = _field(config, "grad_clip_norm", None)
    if not clip:
        return opt
    return optax.chain(optax.clip_by_global_norm(float(clip)), opt)
