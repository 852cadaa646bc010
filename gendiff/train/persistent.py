"""Persistent Markov chains carried by the training state (PCD for RBMs, persistent Langevin
for energy-based models), as two :class:`Player` s of the one training step.

The chains live in the parameter pytree, next to the model: ``{"chains": (R, ...), "model":
params}``. The chains player moves them first: it replaces the chains c by their
successors c' = T(c) under the current model (an
:func:`gendiff.train.assignment_player`: exact for binary states, to rounding otherwise). The model player then takes one step of its own optimiser on a loss
that uses the new chains as its negative samples. :func:`gendiff.train.make_players_step`
runs both in one compiled step, so :func:`gendiff.train.fit` trains, checkpoints and resumes
the chains with the model.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from gendiff.train.assign import assignment_player
from gendiff.train.step import Player

PyTree = Any

__all__ = ["persistent_chain_players"]


def persistent_chain_players(
    transition: Callable[[PyTree, jax.Array, jax.Array], jax.Array],
    loss: Callable[[PyTree, PyTree, jax.Array, jax.Array], tuple[jax.Array, dict]],
    tx: optax.GradientTransformation,
    *,
    names: tuple[str, str] = ("chains", "model"),
) -> tuple[Player, Player]:
    """The chains player and the model player of a model trained with persistent chains.

    Args:
      transition: ``transition(model_params, chains, key) -> chains``, a Markov kernel that
        leaves the model's distribution invariant (e.g.
        :func:`gendiff.classic.pcd_transition`, k Gibbs sweeps).
      loss: ``loss(model_params, batch, chains, key) -> (loss, metrics)`` with the chains as
        negative samples (e.g. :func:`gendiff.classic.pcd_loss`).
      tx: the model's optimiser.
      names: the players' names (chains, model), which key their entries in the params.

    Returns:
      ``(chains_player, model_player)``, in update order. Build the state with
      ``create_players_state({names[0]: initial_chains, names[1]: params},
      {p.name: p.tx for p in players})``. The chains player logs ``move``, half the squared
      distance the chains moved in the step (a mixing diagnostic).

    Example:
      >>> import optax
      >>> from gendiff.classic import pcd_loss, pcd_transition, rbm_init
      >>> from gendiff.classic import rbm_log_likelihood, rbm_log_partition
      >>> from gendiff.train import create_players_state, make_players_step
      >>> params = rbm_init(key, 6, 3, scale=0.5)
      >>> x = jnp.array([[1.0, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]]).repeat(8, axis=0)
      >>> players = persistent_chain_players(pcd_transition(1), pcd_loss(), optax.sgd(0.1))
      >>> state = create_players_state({"chains": x, "model": params},
      ...                              {p.name: p.tx for p in players})
      >>> step = jax.jit(make_players_step(players, ema_decay=0.0))  # or gendiff.train.fit
      >>> for i in range(200):
      ...     state, metrics = step(state, {"x": x}, jax.random.fold_in(key, i))
      >>> chains = state.params["chains"]  # moved by Gibbs sweeps, still binary
      >>> chains.shape, bool(jnp.all((chains == 0) | (chains == 1)))
      ((16, 6), True)
      >>> def log_likelihood(p):
      ...     return float(rbm_log_likelihood(p, x, rbm_log_partition(p)))
      >>> log_likelihood(params) < -4.0 and log_likelihood(state.params["model"]) > -2.0
      True
    """
    if len(names) != 2 or names[0] == names[1]:
        raise ValueError(f"names must be two different player names, got {names!r}.")
    chains_name, model_name = names

    def move_chains(params, batch, key):
        del batch
        chains = params[chains_name]
        new = transition(jax.lax.stop_gradient(params[model_name]), chains, key)
        if new.shape != chains.shape:
            raise ValueError(
                f"transition must keep the chains' shape {chains.shape}, got {new.shape}."
            )
        return new, {"move": 0.5 * jnp.sum(jnp.square(chains - new))}

    def model_loss(params, batch, key):
        chains = jax.lax.stop_gradient(params[chains_name])
        return loss(params[model_name], batch, chains, key)

    return assignment_player(chains_name, move_chains), Player(model_name, model_loss, tx)
