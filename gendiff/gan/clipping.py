"""WGAN weight clipping: a pure map applied to the critic's parameters after each update.

Clipping every weight to [-c, c] bounds the critic's Lipschitz constant (crudely) as WGAN
requires (Arjovsky et al. 2017, algorithm 1, line 7). It acts on the parameters after the
optimiser step (in training, ``gendiff.train.Player(..., post_update=lambda p: clip_weights(p, c))``),
and is not optax's clipping of the updates or gradients, which would leave the critic unconstrained.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def clip_weights(params, c: float = 0.01):
    """Clips every floating leaf of a parameter pytree to [-c, c].

    Args:
      params: a pytree of arrays (e.g. a Flax ``params`` dict); non-floating leaves pass
        through unchanged.
      c: the clipping bound, > 0 (WGAN's default is 0.01).

    Returns:
      A pytree of the same structure and dtypes.

    References:
      Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017, algorithm 1.

    Example:
      >>> clip_weights({"w": jnp.array([-1.0, 0.005, 2.0])}, 0.01)["w"].tolist()
      [-0.009999999776482582, 0.004999999888241291, 0.009999999776482582]
    """
    if not float(c) > 0:
        raise ValueError(f"c must be > 0, got {c}.")

    def clip(w):
        w = jnp.asarray(w)
        if not jnp.issubdtype(w.dtype, jnp.inexact):
            return w
        return jnp.clip(w, -c, c).astype(w.dtype)

    return jax.tree.map(clip, params)
