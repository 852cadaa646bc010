"""One training step as a pure function of (state, batch, key), for one or several players.

A model with one optimiser (a denoiser, a classifier) uses :func:`make_train_step`. A model
with several (a GAN's critic and generator) lists its players in the order they update,
each with its own loss, optimiser and number of updates per step (``n_critic``), and
:func:`make_players_step` returns one step that updates them in turn inside one compiled
program. Both steps have the same contract, so :func:`gendiff.train.fit` serves both.
"""

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from gendiff.train.ema import ema
from gendiff.train.state import TrainState

PyTree = Any
LossFn = Callable[[PyTree, PyTree, jax.Array], tuple[jax.Array, dict[str, jax.Array]]]
TrainStep = Callable[[TrainState, PyTree, jax.Array], tuple[TrainState, dict[str, jax.Array]]]


def _update(
    loss_fn: LossFn,
    tx: optax.GradientTransformation,
    params: PyTree,
    opt_state: optax.OptState,
    batch: PyTree,
    key: jax.Array,
) -> tuple[PyTree, optax.OptState, dict[str, jax.Array]]:
    """One optimiser update of ``params`` on ``loss_fn(params, batch, key)``.

    Optimisers that take extra arguments (``optax.GradientTransformationExtraArgs``: L-BFGS
    and its line search, ``reduce_on_plateau``) receive optax's ``value``, ``grad`` and
    ``value_fn`` (the loss on the same batch and key); the others ignore them."""
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch, key)
    grad_norm = optax.tree.norm(grads)
    extra = {}
    if isinstance(tx, optax.GradientTransformationExtraArgs):
        extra = dict(value=loss, grad=grads, value_fn=lambda p: loss_fn(p, batch, key)[0])
    updates, opt_state = tx.update(grads, opt_state, params, **extra)
    params = optax.apply_updates(params, updates)
    metrics = {**aux, "loss": loss, "grad_norm": grad_norm}
    return params, opt_state, metrics


def _finite(metrics: dict[str, jax.Array]) -> jax.Array:
    checked = [v for k, v in metrics.items() if k.endswith("loss") or k.endswith("grad_norm")]
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in checked]))


def make_train_step(
    loss_fn: LossFn,
    tx: optax.GradientTransformation,
    ema_decay: float,
    ema_warmup: bool = False,
) -> TrainStep:
    """Builds ``train_step(state, batch, key) -> (state, metrics)`` for one optimiser.

    The step computes ``(loss, aux), g = value_and_grad(loss_fn)(params, batch, key)``,
    applies the optimizer update, then the EMA update
    ``ema <- d * ema + (1 - d) * params_new``. Nothing inside is host-side, so the
    function can be jitted and sharded (see :func:`gendiff.train.jit_train_step`).

    ``key`` must be the per-step key ``jax.random.fold_in(base_key, state.step)``
    (:func:`gendiff.train.fit` derives it), so randomness depends only on the step number,
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

    def train_step(
        state: TrainState, batch: PyTree, key: jax.Array
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        params, opt_state, metrics = _update(loss_fn, tx, state.params, state.opt_state, batch, key)
        new_state = TrainState(
            step=state.step + 1,
            params=params,
            opt_state=opt_state,
            ema_state=averager.update(params, state.ema_state),
        )
        return new_state, {**metrics, "finite": _finite(metrics)}

    return train_step


class Player(NamedTuple):
    """One player of a multi-optimiser model (e.g. a GAN's critic or generator).

    Attributes:
        name: key of this player's parameters in the state's ``params`` dict.
        loss_fn: ``loss_fn(params, batch, key) -> (loss, metrics)``, where ``params`` is the
            dict of *every* player's parameters (the generator's loss needs the critic);
            gradients are taken with respect to ``params[name]`` only.
        tx: this player's optimiser.
        steps: updates of this player per training step (WGAN's ``n_critic``).
        split_batch: give update ``j`` of ``steps`` its own chunk ``j`` of the batch (the
            batch's leading axis is split into ``steps`` equal chunks); otherwise every
            update sees the whole batch, with its own key.
        post_update: optional ``params -> params`` applied after each update (e.g. WGAN's
            weight clipping).

    Example:
        >>> import optax
        >>> from gendiff.train import Player, create_players_state, make_players_step
        >>> clip = lambda w: jnp.clip(w, -0.01, 0.01)  # WGAN's weight clipping
        >>> critic = Player("c", lambda p, b, k: (-jnp.sum(p["c"]), {}), optax.sgd(1.0), steps=3,
        ...                 post_update=clip)
        >>> step = make_players_step([critic], ema_decay=0.0)
        >>> state, metrics = step(create_players_state({"c": jnp.zeros(2)}, {"c": critic.tx}), {}, key)
        >>> state.params["c"].round(4).tolist(), round(float(metrics["c/loss"]), 4)  # last update's loss
        ([0.01, 0.01], -0.02)
    """

    name: str
    loss_fn: LossFn
    tx: optax.GradientTransformation
    steps: int = 1
    split_batch: bool = False
    post_update: Callable[[PyTree], PyTree] | None = None


def _check_players(players: Sequence[Player]) -> None:
    if not players:
        raise ValueError("make_players_step needs at least one Player, got none.")
    names = [p.name for p in players]
    if len(set(names)) != len(names):
        raise ValueError(f"Player names must be unique, got {names}.")
    for p in players:
        if int(p.steps) < 1:
            raise ValueError(f"Player {p.name!r}: steps must be >= 1, got {p.steps}.")


def create_players_state(
    params: dict[str, PyTree], txs: dict[str, optax.GradientTransformation]
) -> TrainState:
    """Initial state of a multi-player model: one optimiser state per player.

    Args:
        params: ``{player name: initial parameters}``.
        txs: ``{player name: optimiser}`` with the same names.

    Returns:
        ``TrainState`` whose ``params`` and ``opt_state`` are dicts keyed by player; the EMA
        averages every player's parameters.

    Example:
        >>> import jax.numpy as jnp, optax
        >>> state = create_players_state(
        ...     {"critic": jnp.zeros(2), "generator": jnp.ones(3)},
        ...     {"critic": optax.sgd(0.1), "generator": optax.adam(1e-3)})
        >>> sorted(state.opt_state)
        ['critic', 'generator']
    """
    from gendiff.train.state import create_train_state  # the single-player constructor

    if sorted(params) != sorted(txs):
        raise ValueError(
            f"params and txs must name the same players, got {sorted(params)} and {sorted(txs)}."
        )
    state = create_train_state(params, optax.identity())
    return state._replace(opt_state={name: txs[name].init(p) for name, p in params.items()})


def make_players_step(
    players: Sequence[Player], ema_decay: float, ema_warmup: bool = False
) -> TrainStep:
    """Builds one ``train_step(state, batch, key)`` that updates several players in order.

    For each player in turn (e.g. ``[critic with steps=5, generator]``), ``steps`` updates of
    its parameters on its own loss, each update seeing the other players' current
    parameters; update ``j`` of player ``i`` uses the key ``fold_in(fold_in(key, i), j)``.
    Repeated updates run as one ``lax.scan``. Then the EMA of all parameters.

    Args:
        players: the players, in update order.
        ema_decay: EMA decay of the parameters.
        ema_warmup: use the warm-up decay ``min(d, (1 + n) / (10 + n))``.

    Returns:
        The pure step. Metrics are ``"{name}/{metric}"`` for each player's aux metrics,
        ``loss`` and ``grad_norm`` (of its last update), plus ``finite``.

    Example:
        >>> import jax, jax.numpy as jnp, optax
        >>> # a toy saddle game: the critic maximises c * (g - 1), the generator minimises it
        >>> critic = Player("c", lambda p, b, k: (-(p["c"] * (p["g"] - 1.0)), {}),
        ...                 optax.sgd(0.1), steps=2)
        >>> generator = Player("g", lambda p, b, k: (p["c"] * (p["g"] - 1.0), {}), optax.sgd(0.1))
        >>> step = make_players_step([critic, generator], ema_decay=0.9)
        >>> state = create_players_state({"c": jnp.array(0.0), "g": jnp.array(0.0)},
        ...                              {"c": optax.sgd(0.1), "g": optax.sgd(0.1)})
        >>> state, metrics = step(state, {}, jax.random.key(0))
        >>> round(float(state.params["c"]), 3), sorted(metrics)[:2]
        (-0.2, ['c/grad_norm', 'c/loss'])
    """
    _check_players(players)
    averager = ema(ema_decay, warmup=ema_warmup)

    def player_update(player: Player, index: int, params, opt_state, batch, key):
        def loss_of_own(own, sub_batch, k):
            return player.loss_fn({**params, player.name: own}, sub_batch, k)

        def one(carry, j):
            own, opt = carry
            sub_batch = batch
            if player.split_batch:
                sub_batch = jax.tree.map(
                    lambda x: x.reshape(player.steps, -1, *x.shape[1:])[j], batch
                )
            k = jax.random.fold_in(jax.random.fold_in(key, index), j)
            own, opt, metrics = _update(loss_of_own, player.tx, own, opt, sub_batch, k)
            if player.post_update is not None:
                own = player.post_update(own)
            return (own, opt), metrics

        carry = (params[player.name], opt_state)
        if player.steps == 1:
            carry, metrics = one(carry, 0)
        else:
            if player.split_batch:
                for x in jax.tree.leaves(batch):
                    if x.shape[0] % player.steps:
                        raise ValueError(
                            f"Player {player.name!r}: split_batch needs a batch axis divisible "
                            f"by steps={player.steps}, got {x.shape}."
                        )
            carry, metrics = jax.lax.scan(one, carry, jnp.arange(player.steps))
            metrics = jax.tree.map(lambda m: m[-1], metrics)
        own, opt_state = carry
        return {**params, player.name: own}, opt_state, metrics

    def train_step(
        state: TrainState, batch: PyTree, key: jax.Array
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        params, opt_states, metrics = state.params, dict(state.opt_state), {}
        for index, player in enumerate(players):
            params, opt_states[player.name], m = player_update(
                player, index, params, opt_states[player.name], batch, key
            )
            metrics.update({f"{player.name}/{k}": v for k, v in m.items()})
        new_state = TrainState(
            step=state.step + 1,
            params=params,
            opt_state=opt_states,
            ema_state=averager.update(params, state.ema_state),
        )
        return new_state, {**metrics, "finite": _finite(metrics)}

    return train_step
