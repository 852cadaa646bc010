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
