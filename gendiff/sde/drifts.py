"""The forward SDE, the reverse-time SDE and the probability-flow ODE of any Gaussian path.

A path x_t = alpha(t) x_0 + sigma(t) eps is the marginal of the linear SDE
dx = f(t) x dt + g(t) dW with f = d log alpha / dt and g^2 = d sigma^2 / dt - 2 f sigma^2
(gendiff.paths.GaussianPath). Given the score s(x, t) = grad log p_t(x):

  reverse SDE (Anderson 1982):  dx = [f(t) x - g(t)^2 s(x, t)] dt + g(t) dW-bar,  t from 1 to 0,
  probability-flow ODE (Song et al. 2021, eq. 13):  dx/dt = f(t) x - 1/2 g(t)^2 s(x, t).

Everything here is written once for every path, with no branching on the path's type.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.parameterization import check_prediction, convert
from gendiff.paths.base import GaussianPath
from gendiff.utils import right_broadcast

ModelFn = Callable[..., jax.Array]


def score_fn_from_model(path: GaussianPath, model_fn: ModelFn, prediction: str = "eps") -> ModelFn:
    """Wraps a model of any parameterisation ('eps', 'x0', 'v', 'score', 'velocity') as a score.

    Example:
        >>> from gendiff.paths import VPPath
        >>> path, x_t, t = VPPath(), jnp.ones((3, 2)), jnp.full((3,), 0.5)
        >>> score_fn = score_fn_from_model(path, model_fn, "eps")  # s = -eps / sigma
        >>> score_fn(x_t, t).shape == x_t.shape
        True
    """

    check_prediction(prediction)

    def score_fn(x: jax.Array, t: jax.Array, **cond) -> jax.Array:
        pred = jnp.asarray(model_fn(x, t, **cond)).astype(x.dtype)  # e.g. a bfloat16 model
        if prediction == "score":
            return pred
        return convert(path, pred, x, t, prediction, "score")

    return score_fn


def forward_drift(path: GaussianPath, x: jax.Array, t: jax.Array) -> jax.Array:
    """f(t) x, the drift of the forward SDE; t has shape (batch,).

    Example:
      >>> from gendiff.paths import VPPath
      >>> from gendiff.sde import forward_drift
      >>> forward_drift(VPPath(), jnp.ones((1, 2)), jnp.array([0.5])).round(4).tolist()  # -beta(1/2) / 2
      [[-5.025, -5.025]]
    """
    return right_broadcast(path.drift_coeff(t), x) * x


def diffusion(path: GaussianPath, t: jax.Array) -> jax.Array:
    """g(t), the diffusion coefficient of the forward (and reverse) SDE, shape (batch,).

    Example:
      >>> from gendiff.paths import VEPath, VPPath
      >>> from gendiff.sde import diffusion
      >>> diffusion(VPPath(), jnp.array([0.0, 1.0])).round(5).tolist()  # sqrt(beta(t))
      [0.31623, 4.47214]
      >>> path, t = VEPath(), jnp.array([0.5])  # g^2 = d sigma^2 / dt
      >>> bool(jnp.allclose(diffusion(path, t) ** 2, jax.grad(lambda u: path.sigma(u) ** 2)(0.5), rtol=1e-4))
      True
    """
    return path.diffusion_sq(t) ** 0.5


def reverse_drift(
    path: GaussianPath, score_fn: ModelFn, x: jax.Array, t: jax.Array, **cond
) -> jax.Array:
    """f(t) x - g(t)^2 s(x, t): the drift of the reverse-time SDE (in forward time t).

    Example:
      >>> from gendiff.paths import VPPath
      >>> from gendiff.sde import reverse_drift
      >>> score_fn = lambda x, t: -x  # data N(0, I) stay N(0, I) on a VP path
      >>> reverse_drift(VPPath(), score_fn, jnp.ones((1, 2)), jnp.array([0.5])).round(4).tolist()
      [[5.025, 5.025]]
    """
    g2 = right_broadcast(path.diffusion_sq(t), x)
    return forward_drift(path, x, t) - g2 * score_fn(x, t, **cond)


def probability_flow_drift(
    path: GaussianPath, score_fn: ModelFn, x: jax.Array, t: jax.Array, **cond
) -> jax.Array:
    """f(t) x - 1/2 g(t)^2 s(x, t): the velocity of the probability-flow ODE.

    Example:
      >>> from gendiff.paths import VPPath
      >>> from gendiff.sde import probability_flow_drift
      >>> score_fn = lambda x, t: -x  # data N(0, I): p_t does not move, nor does the ODE
      >>> probability_flow_drift(VPPath(), score_fn, jnp.ones((1, 2)), jnp.array([0.5])).tolist()
      [[0.0, 0.0]]
    """
    g2 = right_broadcast(path.diffusion_sq(t), x)
    return forward_drift(path, x, t) - 0.5 * g2 * score_fn(x, t, **cond)
