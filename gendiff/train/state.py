"""Training state: a plain pytree of arrays (no functions), so it checkpoints cleanly."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from gendiff.train.ema import EmaState, ema_init

PyTree = Any


class TrainState(NamedTuple):
    """Everything that changes during training.

    Attributes:
        step: int32 scalar, number of optimizer updates applied so far.
        params: model parameters.
        opt_state: optimizer state of the ``optax.GradientTransformation``.
        ema_state: ``EmaState`` holding the moving average of ``params``.

    Example:
        >>> import optax
        >>> from gendiff.train import TrainState, create_train_state, make_train_step
        >>> tx = optax.sgd(0.1)
        >>> step = make_train_step(lambda p, b, k: (jnp.sum((p - 1.0) ** 2), {}), tx, ema_decay=0.5)
        >>> state, _ = step(create_train_state(jnp.zeros(2), tx), None, key)  # grad -2: p = 0.2
        >>> isinstance(state, TrainState), int(state.step), state.params.tolist(), state.ema_params.tolist()
        (True, 1, [0.2, 0.2], [0.1, 0.1])
    """

    step: jax.Array
    params: PyTree
    opt_state: optax.OptState
    ema_state: EmaState

    @property
    def ema_params(self) -> PyTree:
        """The averaged parameters (use these for sampling and evaluation)."""
        return self.ema_state.params


def create_train_state(params: PyTree, tx: optax.GradientTransformation) -> TrainState:
    """Initial state at step 0, with the EMA starting at ``params``.

    Args:
        params: initial model parameters.
        tx: the optimizer, e.g. from :func:`gendiff.train.make_optimizer`.

    Returns:
        ``TrainState`` with ``step = 0``.

    Example:
        >>> import jax.numpy as jnp, optax
        >>> state = create_train_state({"w": jnp.zeros(3)}, optax.sgd(0.1))
        >>> int(state.step), state.ema_params["w"].shape
        (0, (3,))
    """
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=tx.init(params),
        ema_state=ema_init(params),
    )
