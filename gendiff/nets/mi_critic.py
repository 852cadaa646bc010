"""Critics f(x, y) for mutual-information bounds, evaluated on every pair of a batch.

The bounds of :mod:`gendiff.ssl.mi_bounds` take the (N, N) matrix s_ij = f(x_i, y_j) of a batch
of N pairs. A separable critic f(x, y) = g(x) . h(y) (Poole et al. 2019, section 5) gives that
matrix with 2N network evaluations, s = G H^T, with g and h MLPs of the same output width.
"""

from __future__ import annotations

import flax.linen as nn
import jax

__all__ = ["MLP", "SeparableCritic"]


class MLP(nn.Module):
    """``depth`` hidden Dense layers of width ``hidden`` with ReLU, then Dense(``features``).

    Example:
      >>> mlp = MLP(hidden=8, depth=2, features=3)
      >>> mlp.apply(mlp.init(jax.random.key(0), jax.numpy.zeros((1, 5))), jax.numpy.zeros((4, 5))).shape
      (4, 3)
    """

    hidden: int
    depth: int
    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(self.depth):
            x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(self.features)(x)


class SeparableCritic(nn.Module):
    """s_ij = g(x_i) . h(y_j) [+ a(x_i) + b(y_j)], with g, h MLPs (Poole et al. 2019).

    The optional scalar terms a(x) and b(y) are in the same separable family (g and h with
    one more coordinate, held at 1 in g or in h), written out so that a critic need not learn
    a constant coordinate: the log density ratio of correlated Gaussians is x.y times a
    constant plus such terms (:func:`gendiff.ssl.optimal_log_ratio_scores`).

    Attributes:
      hidden: width of the hidden layers of g and h.
      depth: number of hidden layers of each.
      embed_dim: output width of g and h.
      marginal_terms: add a(x_i) + b(y_j), each the last output of the MLP g or h.

    Example:
      >>> critic = SeparableCritic(hidden=16, depth=1, embed_dim=4)
      >>> x = y = jax.numpy.zeros((5, 3))
      >>> critic.apply(critic.init(jax.random.key(0), x, y), x, y).shape
      (5, 5)
    """

    hidden: int = 256
    depth: int = 2
    embed_dim: int = 32
    marginal_terms: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        if x.ndim != 2 or y.ndim != 2:
            raise ValueError(f"x and y must be (batch, dim) arrays, got {x.shape} and {y.shape}.")
        extra = int(self.marginal_terms)
        g = MLP(self.hidden, self.depth, self.embed_dim + extra, name="g")(x)
        h = MLP(self.hidden, self.depth, self.embed_dim + extra, name="h")(y)
        if not self.marginal_terms:
            return g @ h.T
        return g[:, :-1] @ h[:, :-1].T + g[:, -1:] + h[:, -1][None, :]
