"""State set by a rule instead of a gradient, carried through :func:`gendiff.train.fit` as
parameters: the one way the training spine holds such state.

Some state is computed, not learned: MINE's moving average of E_Q[e^f], VQ-VAE's EMA codebook,
the persistent chains of PCD and of Langevin-trained energy models. Inside ``fit`` the only state
that survives a step is the parameters and the optimiser state, so such a quantity is kept as
a parameter leaf s and set by the optimiser. The loss adds

    a(s, s_new) = (s - sg(s)) * sg(s - s_new),                                             (1)

whose value is exactly 0 and whose gradient with respect to s is s - s_new (sg is the
stop-gradient); one step of plain SGD with rate 1, s <- s - (s - s_new), sets s = s_new (up
to float rounding). :func:`assignment_tx` puts that SGD step on the leaves labelled
``"assign"`` and the model's optimiser on the others (state inside one player's parameters);
:func:`assignment_player` makes a whole parameter entry a :class:`~gendiff.train.Player` of
:func:`gendiff.train.make_players_step` whose update is the assignment (state of its own).

Example:
  >>> import jax, jax.numpy as jnp
  >>> s = jnp.asarray(2.0)
  >>> float(assign_by_gradient(s, 5.0)), float(jax.grad(assign_by_gradient)(s, 5.0))
  (0.0, -3.0)
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from gendiff.train.step import Player

PyTree = Any

__all__ = ["assign_by_gradient", "assignment_player", "assignment_tx"]


def assign_by_gradient(current: PyTree, new: PyTree) -> jax.Array:
    """Eq. (1) summed over the leaves: value 0, gradient ``current - new`` w.r.t. ``current``.

    Args:
      current: the state leaves as they are in the parameters.
      new: their new values (no gradient flows into them).

    Returns:
      A scalar 0 to add to the loss.

    Raises:
      ValueError: when the two trees differ in structure or leaf shapes.

    Example:
      >>> s = {"mean": jnp.zeros(3)}
      >>> new = {"mean": jnp.array([1.0, 2.0, 3.0])}
      >>> g = jax.grad(assign_by_gradient)(s, new)  # value 0, gradient s - new
      >>> float(assign_by_gradient(s, new)), g["mean"].tolist()
      (0.0, [-1.0, -2.0, -3.0])
    """
    cur_leaves, cur_def = jax.tree.flatten(current)
    new_leaves, new_def = jax.tree.flatten(new)
    if cur_def != new_def or any(
        jnp.shape(a) != jnp.shape(b) for a, b in zip(cur_leaves, new_leaves)
    ):
        raise ValueError(
            f"current and new must have one tree structure and leaf shapes, got {cur_def} "
            f"and {new_def}."
        )
    total = jnp.zeros(())
    for c, n in zip(cur_leaves, new_leaves):
        step = jax.lax.stop_gradient(c - jnp.asarray(n, jnp.result_type(c)))
        total = total + jnp.sum((c - jax.lax.stop_gradient(c)) * step)
    return total


def assignment_tx(
    tx: optax.GradientTransformation, labels: PyTree | callable
) -> optax.GradientTransformation:
    """``tx`` on the leaves labelled ``"train"``, SGD with rate 1 on those labelled ``"assign"``.

    Args:
      tx: the optimiser of the trained leaves.
      labels: a pytree of ``"train"`` / ``"assign"`` strings matching the parameters (or a
        function of the parameters returning one), as in ``optax.multi_transform``.

    Returns:
      The combined optimiser.

    Example:
      >>> tx = assignment_tx(optax.adam(1e-3), {"w": "train", "s": "assign"})
      >>> params = {"w": jnp.zeros(2), "s": jnp.asarray(1.0)}
      >>> grads = jax.grad(lambda p: jnp.sum(p["w"]) + assign_by_gradient(p["s"], 4.0))(params)
      >>> updates, _ = tx.update(grads, tx.init(params), params)
      >>> float(optax.apply_updates(params, updates)["s"])
      4.0
    """
    return optax.multi_transform({"train": tx, "assign": optax.sgd(1.0)}, labels)


def assignment_player(
    name: str,
    rule: Callable[[PyTree, PyTree, jax.Array], tuple[PyTree, dict[str, jax.Array]]],
) -> Player:
    """A :class:`Player` whose update sets ``params[name] = rule(params, batch, key)[0]``.

    Args:
      name: the player's key in the params dict.
      rule: ``rule(params, batch, key) -> (new value of params[name], metrics)``, where params
        holds every player's parameters (this player's current value included); no gradient
        flows through it.

    Returns:
      A Player with optimiser ``optax.sgd(1.0)`` and loss :func:`assign_by_gradient` (value 0);
      its ``grad_norm`` is the size of the change, and the rule's metrics are logged.

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
        return assign_by_gradient(params[name], jax.lax.stop_gradient(new)), metrics

    return Player(name=name, loss_fn=loss_fn, tx=optax.sgd(1.0))
