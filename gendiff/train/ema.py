"""Exponential moving average (EMA) of parameters as a pure (init, update) pair.

Convention: with decay ``d`` the average tracks the parameters ``p_n`` as

    ema_{n+1} = d * ema_n + (1 - d) * p_{n+1},        ema_0 = p_0,

so ``d`` close to 1 averages over roughly ``1 / (1 - d)`` recent steps
(DDPM on CIFAR-10 uses ``d = 0.9999``; small toy runs use 0.99-0.999).

Optional warm-up replaces ``d`` at update ``n`` (``n`` = updates done so far) by

    d_n = min(d, (1 + n) / (10 + n)),

which forgets the random initialisation quickly during the first few thousand
steps, when ``d = 0.9999`` would otherwise keep the average pinned near ``p_0``.
It is off by default so that ``decay`` means exactly what it says.
"""

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

PyTree = Any


class EmaState(NamedTuple):
    """State of the parameter average.

    Attributes:
        count: int32 scalar, number of updates applied so far.
        params: the averaged parameters (same tree as the model parameters).

    Example:
        >>> from gendiff.train import EmaState, ema
        >>> avg = ema(0.9)
        >>> state = avg.update({"w": jnp.ones(())}, avg.init({"w": jnp.zeros(())}))
        >>> isinstance(state, EmaState), int(state.count), round(float(state.params["w"]), 6)
        (True, 1, 0.1)
    """

    count: jax.Array
    params: PyTree


class EmaTransform(NamedTuple):
    """A pure ``(init, update)`` pair; see :func:`ema`.

    Example:
        >>> from gendiff.train import EmaTransform, ema
        >>> avg = ema(0.9, warmup=True)
        >>> isinstance(avg, EmaTransform)
        True
        >>> state = avg.update({"w": jnp.ones(())}, avg.init({"w": jnp.zeros(())}))
        >>> round(float(state.params["w"]), 6)  # warm-up: d_0 = min(0.9, 1 / 10)
        0.9
    """

    init: Callable[[PyTree], EmaState]
    update: Callable[[PyTree, EmaState], EmaState]


def ema_init(params: PyTree) -> EmaState:
    """Starts the average at the given parameters (``ema_0 = p_0``).

    Args:
        params: initial model parameters.

    Returns:
        ``EmaState`` with ``count = 0`` and a copy of ``params``.

    Example:
        >>> import jax.numpy as jnp
        >>> ema_init({"w": jnp.ones(2)}).count
        Array(0, dtype=int32)
    """
    # A copy, so that params and their average never share a buffer (donation needs that).
    return EmaState(count=jnp.zeros((), jnp.int32), params=jax.tree.map(jnp.copy, params))


def ema(decay: float, warmup: bool = False) -> EmaTransform:
    """Builds the EMA ``(init, update)`` pair.

    Args:
        decay: ``d`` in ``ema <- d * ema + (1 - d) * params``, in ``[0, 1]``.
        warmup: if True use ``min(d, (1 + n) / (10 + n))`` at update ``n``.

    Returns:
        ``EmaTransform(init, update)`` where ``update(new_params, ema_state)``
        returns the next ``EmaState``.

    Raises:
        ValueError: if ``decay`` is outside ``[0, 1]``.

    Example:
        >>> import jax.numpy as jnp
        >>> avg = ema(0.5)
        >>> s = avg.init({"w": jnp.zeros(())})
        >>> float(avg.update({"w": jnp.ones(())}, s).params["w"])
        0.5
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"EMA decay must be in [0, 1], got {decay}.")

    def update(new_params: PyTree, state: EmaState) -> EmaState:
        n = state.count.astype(jnp.float32)
        d = jnp.minimum(decay, (1.0 + n) / (10.0 + n)) if warmup else jnp.asarray(decay)
        # ema_{n+1} = d * ema_n + (1 - d) * p_{n+1}, written as ema + (1 - d)(p - ema).
        averaged = jax.tree.map(
            lambda e, p: e + ((1.0 - d) * (p - e)).astype(e.dtype), state.params, new_params
        )
        return EmaState(count=state.count + 1, params=averaged)

    return EmaTransform(init=ema_init, update=update)
