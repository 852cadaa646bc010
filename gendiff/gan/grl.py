"""The gradient reversal layer of domain-adversarial training (DANN).

R_lambda(x) = x in the forward pass; in the backward pass the incoming gradient is multiplied
by -lambda (Ganin & Lempitsky 2015, eq. (9)-(10)). Placed between a feature extractor and a
domain classifier, it lets one minimisation train the classifier to tell the domains apart
while pushing the features to make them indistinguishable (F0:759-894).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.custom_vjp
def _reverse(x, lam):
    return x


def _reverse_fwd(x, lam):
    return x, lam


def _reverse_bwd(lam, g):
    flipped = jax.tree.map(lambda gi: (-lam * gi).astype(gi.dtype), g)
    return flipped, jnp.zeros_like(lam)


_reverse.defvjp(_reverse_fwd, _reverse_bwd)


def gradient_reversal(x, lam=1.0):
    """Identity forward, gradient times -lam backward.

    Args:
      x: an array (or a pytree of arrays), e.g. features (batch, dim).
      lam: the reversal weight lambda >= 0; may be a traced scalar (DANN ramps it from 0
        to 1 over training, lambda_p = 2 / (1 + exp(-10 p)) - 1). No gradient flows into it.

    Returns:
      x unchanged; its cotangent is -lam times the incoming one.

    References:
      Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML 2015,
      section 3.3.

    Example:
      >>> f = lambda x: jnp.sum(3.0 * gradient_reversal(x, 0.5))
      >>> jax.grad(f)(jnp.ones(2)).tolist()
      [-1.5, -1.5]
    """
    lam = jnp.asarray(lam, dtype=jnp.result_type(float))
    if lam.ndim:
        raise ValueError(f"lam must be a scalar, got shape {lam.shape}.")
    return _reverse(x, lam)
