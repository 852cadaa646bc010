"""Forward simulation of a path's SDE dx = f(t) x dt + g(t) dW by Euler-Maruyama."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gendiff.paths.base import GaussianPath
from gendiff.sampling import check_count
from gendiff.sde.drifts import diffusion, forward_drift
from gendiff.utils import right_broadcast


def simulate_forward(
    key: jax.Array,
    path: GaussianPath,
    x0: jax.Array,
    num_steps: int,
    *,
    t_start: float = 0.0,
    t_end: float | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Simulates the forward SDE from x(t_start) = x0 to t_end with the Euler-Maruyama scheme.

    On the grid t_0 = t_start < ... < t_N = t_end with dt = (t_end - t_start) / N,
    x_{n+1} = x_n + f(t_n) x_n dt + g(t_n) sqrt(dt) z_n, z_n ~ N(0, I). If x0 is drawn from the
    path's marginal at t_start, x_n is (to O(dt)) distributed as the marginal at t_n; started
    from a fixed x0 it has mean alpha(t_n)/alpha(t_start) x0 and variance sigma_{t_n|t_start}^2.

    Args:
      key: PRNG key; step n uses ``fold_in(key, n)``.
      path: the Gaussian path whose SDE is simulated.
      x0: the initial state, (batch, ...).
      num_steps: N >= 1.
      t_start: the initial time.
      t_end: the final time; defaults to ``path.t_max``.

    Returns:
      (ts, xs): the grid (N + 1,) and the trajectory (N + 1, batch, ...), xs[0] = x0.

    Example:
      >>> from gendiff.paths import VPPath
      >>> ts, xs = simulate_forward(jax.random.key(0), VPPath(), jnp.ones((1000, 2)), 500)
      >>> xs.shape
      (501, 1000, 2)
    """
    t_end = path.t_max if t_end is None else t_end
    check_count("num_steps", num_steps)
    ts = jnp.linspace(t_start, t_end, num_steps + 1, dtype=x0.dtype)
    dt = ts[1] - ts[0]
    batch = x0.shape[0]

    def step(x, inputs):
        n, t = inputs
        t = jnp.full((batch,), t)
        dw = jnp.sqrt(dt) * jax.random.normal(jax.random.fold_in(key, n), x.shape, x.dtype)
        x = x + forward_drift(path, x, t) * dt + right_broadcast(diffusion(path, t), x) * dw
        return x, x

    _, xs = jax.lax.scan(step, x0, (jnp.arange(num_steps), ts[:-1]))
    return ts, jnp.concatenate([x0[None], xs], axis=0)
