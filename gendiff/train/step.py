"""One optimizer step as a pure function of (state, batch, key)."""

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from gendiff.train.ema import ema
from gendiff.train.state import TrainState

PyTree = Any
LossFn = Callable[[PyTree, PyTree, jax.Array], tuple[jax.Array, dict[str, jax.Array]]]
TrainStep = Callable[[TrainState, PyTree, jax.Array], tuple[TrainState, dict[str, jax.Array]]]


def make_train_step(
    loss_fn: LossFn,
    tx: optax.GradientTransformation,
    ema_decay: float,
    ema_warmup: bool = False,
) -> TrainStep:
    """Builds ``train_step(state, batch, key) -> (state, metrics)``.

    The step computes ``(loss, aux), g = value_and_grad(loss_fn)(params, batch, key)``,
    applies the optimizer update, then the EMA update
    ``ema <- d * ema + (1 - d) * params_new``. Nothing inside is host-side, so the
    function can be jitted and sharded (see :func:`gendiff.train.jit_train_step`).

    ``key`` must be the per-step key ``jax.random.fold_in(base_key, state.step)``
    (the training loop derives it), so randomness depends only on the step number,
    never on the number of devices.

    Args:
        loss_fn: ``loss_fn(params, batch, key) -> (scalar loss, dict of scalar metrics)``.
        tx: the optimizer.
        ema_decay: EMA decay ``d`` (e.g. 0.9999).
        ema_warmup: use the warm-up decay ``min(d, (1 + n) / (10 + n))``.

    Returns:
        The pure step function. Its metrics hold the aux metrics plus ``loss``,
        ``grad_norm`` (global L2 norm of the gradient before any clipping) and
        ``finite`` (bool: loss and gradient are finite).

    Example:
        >>> import jax, jax.numpy as jnp, optax
        >>> from gendiff.train import create_train_state
        >>> loss_fn = lambda p, b, k: (jnp.sum((p["w"] - b["y"]) ** 2), {})
        >>> tx = optax.sgd(0.1)
        >>> step = make_train_step(loss_fn, tx, ema_decay=0.99)
        >>> state = create_train_state({"w": jnp.zeros(2)}, tx)
        >>> state, metrics = step(state, {"y": jnp.ones(2)}, jax.random.key(0))
        >>> float(metrics["loss"])
        2.0
    """
    averager = ema(ema_decay, warmup=ema_warmup)
    value_and_grad = jax.value_and_grad(loss_fn, has_aux=True)

    def train_step(
        state: TrainState, batch: PyTree, key: jax.Array
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        (loss, aux), grads = value_and_grad(state.params, batch, key)
        grad_norm = optax.tree.norm(grads)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        new_state = TrainState(
            step=state.step + 1,
            params=params,
            opt_state=opt_state,
            ema_state=averager.update(params, state.ema_state),
        )
        metrics = {
            **aux,
            "loss": loss,
            "grad_norm": grad_norm,
            "finite": jnp.isfinite(loss) & jnp.isfinite(grad_norm),
        }
        return new_state, metrics

    return train_step
