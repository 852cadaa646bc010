"""A player whose update is an assignment: parameters set from a rule, not a gradient step.

Some state is updated by a rule instead of a gradient, e.g. VQ-VAE's EMA codebook
(:func:`gendiff.vae.codebook_ema`). :func:`assignment_player` makes such a rule a
:class:`~gendiff.train.Player`, so the model trains through ``make_players_step`` and
:func:`gendiff.train.fit` like every other network (checkpoints, resumption, logging). With
new = rule(params) held constant, the surrogate loss

    L(p) = sum sg(p - new) * p          has gradient  p - new,

so one SGD step with learning rate 1 gives p - (p - new) = new.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from gendiff.train.step import Player

PyTree = Any


def assignment_loss(own: PyTree, new: PyTree) -> jax.Array:
    """sum over leaves of sg(own - new) * own: its gradient with respect to ``own`` is own - new.

    Example:
      >>> g = jax.grad(assignment_loss)(jnp.array([1.0, 2.0]), jnp.array([0.5, 5.0]))
      >>> g.tolist()
      [0.5, -3.0]
    """
    leaves = jax.tree.map(lambda p, n: jnp.sum(jax.lax.stop_gradient(p - n) * p), own, new)
    return sum(jax.tree.leaves(leaves))


def assignment_player(
    name: str,
    rule: Callable[[PyTree, PyTree, jax.Array], tuple[PyTree, dict[str, jax.Array]]],
) -> Player:
    """A :class:`Player` whose update sets ``params[name] = rule(params, batch, key)[0]``.

    Args:
      name: the player's key in the params dict.
      rule: ``rule(params, batch, key) -> (new value of params[name], metrics)``, where params
        holds every player's parameters (this player's current value included).

    Returns:
      A Player with optimiser ``optax.sgd(1.0)`` and the surrogate :func:`assignment_loss`.
      Its ``loss`` metric is that surrogate (0 once the rule's fixed point is reached), and its
      ``grad_norm`` the size of the change.

    Example:
      >>> from gendiff.train import create_players_state, make_players_step
      >>> player = assignment_player("count", lambda p, b, k: (p["count"] + b, {}))
      >>> state = create_players_state({"count": jnp.zeros(())}, {"count": player.tx})
      >>> step = make_players_step([player], ema_decay=0.0)
      >>> state, _ = step(state, jnp.array(3.0), jax.random.key(0))
      >>> float(state.params["count"])
      3.0
    """

    def loss_fn(params, batch, key):
        new, metrics = rule(params, batch, key)
        new = jax.lax.stop_gradient(new)
        return assignment_loss(params[name], new), metrics

    return Player(name=name, loss_fn=loss_fn, tx=optax.sgd(1.0))
