"""Spectral normalisation for critics, on Flax's own ``nn.SpectralNorm``.

A spectrally normalised layer uses W / sigma(W), where sigma(W) is the largest singular value
of the kernel, so each layer is 1-Lipschitz (Miyato et al. 2018). A conv kernel
(kh, kw, c_in, c_out) is treated as the (kh kw c_in, c_out) matrix, as in the paper (this
bounds the matrix, not exactly the conv operator). sigma is estimated by power iteration from
a vector u that persists between calls: ``nn.SpectralNorm`` runs ``n_steps`` iterations from
the stored u on every call and, with ``update_stats=True`` and the collection mutable, stores
the new u (and sigma).

How training carries the state. The critic's variables are ``{"params": ..., "spectral":
...}`` (the collection :data:`SPECTRAL_COLLECTION`), and that whole dict is the critic's entry
of the players' parameters (:func:`gendiff.train.create_players_state`). The losses apply the
critic with the default ``update_stats=False``: the u vectors are read, never written, and
their gradients are exactly zero (``nn.SpectralNorm`` stops the gradient through u, and the
stored sigma is not read), so the optimiser leaves them alone. After every critic update the
player's ``post_update`` hook (:func:`gendiff.train.Player`) calls the refresh that
:func:`spectral_refresh` builds, which runs the critic once on a constant example input with
``update_stats=True`` and writes the new u and sigma back. Power iteration does not depend on
the input, so the example's values do not matter, only its shape.

Note that ``init`` returns the kernels already divided by their first sigma estimate (Flax's
``map_variables`` writes the transformed kernel back at initialisation), so a fresh critic's
kernels have sigma close to 1.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp  # noqa: F401  (used by the examples)

__all__ = ["SPECTRAL_COLLECTION", "spectral_layer", "spectral_refresh"]

SPECTRAL_COLLECTION = "spectral"
"""The Flax collection holding the power-iteration vectors u and the estimates sigma."""

Variables = Any


def spectral_layer(layer: nn.Module, enabled: bool, n_steps: int = 1) -> Callable[..., jax.Array]:
    """``layer`` wrapped in ``nn.SpectralNorm`` when ``enabled``, else ``layer`` itself.

    Call the result as ``f(inputs, update_stats=...)``; the flag is dropped when not enabled.
    Use inside an ``nn.compact`` method.

    Args:
      layer: an unbound layer with a 2-D or higher kernel (``nn.Dense``, ``nn.Conv``,
        ``nn.Embed``); 1-D parameters (biases) are left as they are.
      enabled: wrap or not.
      n_steps: power iterations per call.

    Returns:
      A callable ``(inputs, *, update_stats) -> outputs``.

    Example:
      >>> class Net(nn.Module):
      ...     @nn.compact
      ...     def __call__(self, x, update_stats=False):
      ...         return spectral_layer(nn.Dense(3), True)(x, update_stats=update_stats)
      >>> variables = jax.jit(Net().init)(jax.random.key(0), jnp.ones((1, 4)))
      >>> sorted(variables)
      ['params', 'spectral']
    """
    if not enabled:
        return lambda *args, update_stats=False, **kwargs: layer(*args, **kwargs)
    if int(n_steps) < 1:
        raise ValueError(f"n_steps must be >= 1 power iterations, got {n_steps}.")
    return nn.SpectralNorm(layer, n_steps=int(n_steps), collection_name=SPECTRAL_COLLECTION)


def spectral_refresh(model: nn.Module, *example_args, **example_kwargs) -> Callable:
    """A ``variables -> variables`` update of a critic's power-iteration state.

    Runs ``model.apply(variables, *example_args, update_stats=True, **example_kwargs)`` with
    the spectral collection mutable and returns the variables with the new u and sigma. Give
    it as the critic's ``post_update`` (see the module docstring), e.g. through
    ``gendiff.train.gan_players(..., spectral_update=spectral_refresh(critic, x0))``.

    Args:
      model: the critic module; its ``__call__`` takes ``update_stats``.
      *example_args: inputs of the right shape (a batch of one, or of m for a packed critic);
        their values are irrelevant.
      **example_kwargs: keyword inputs, likewise.

    Returns:
      ``refresh(variables) -> variables``; variables without a spectral collection come back
      unchanged.

    Example:
      >>> from gendiff.nets.gan import MLPCritic
      >>> critic = MLPCritic(hidden=8, depth=1, spectral_norm=True)
      >>> x0 = jnp.zeros((1, 2))
      >>> variables = jax.jit(critic.init)(jax.random.key(0), x0)
      >>> # as if trained: the stored kernels no longer have sigma near 1
      >>> variables = {**variables, "params": jax.tree.map(lambda w: 3 * w, variables["params"])}
      >>> refresh = jax.jit(spectral_refresh(critic, x0))  # 50 calls of one compiled program
      >>> for _ in range(50):
      ...     variables = refresh(variables)
      >>> w = variables["params"]["Dense_0"]["kernel"]
      >>> sigma = variables["spectral"]["SpectralNorm_0"]["Dense_0/kernel/sigma"]
      >>> bool(abs(sigma - jnp.linalg.norm(w, ord=2)) < 1e-4), bool(sigma > 2)
      (True, True)
    """

    def refresh(variables: Variables) -> Variables:
        if SPECTRAL_COLLECTION not in variables:
            return variables
        _, updates = model.apply(
            variables,
            *example_args,
            update_stats=True,
            mutable=[SPECTRAL_COLLECTION],
            **example_kwargs,
        )
        return {**variables, SPECTRAL_COLLECTION: updates[SPECTRAL_COLLECTION]}

    return refresh
