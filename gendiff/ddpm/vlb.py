"""DDPM's variational bound -log p(x_0) <= L_T + sum_{t>=2} L_{t-1} + L_0, in nats and bits/dim.

Ho et al. (2020), eq. 5:
  L_T     = KL(q(x_T | x_0) || N(0, I))                        (prior matching)
  L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t))  (t = 2..T)
  L_0     = -log p_theta(x_0 | x_1)                              (discretised Gaussian decoder)

Each L_{t-1} is estimated with one draw x_t ~ q(x_t | x_0) per example (the standard unbiased
estimator); every step t is visited, so no Monte Carlo over t is involved.

Bits/dim convention: the data take ``num_levels`` equally spaced values in [-1, 1]
(256 for 8-bit images, 17 for scikit-learn's digits), the decoder assigns each value the
Gaussian mass of its bin, and bits/dim = total nats / (D ln 2) with D the number of
dimensions. This is a bound on the discrete data's negative log-likelihood, so no
dequantisation is involved and a uniform model scores log2(num_levels) bits/dim.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.ddpm.ancestral import predict_x0
from gendiff.ddpm.posterior import posterior, posterior_mean, posterior_variance, reverse_variance
from gendiff.distributions import discretized_gaussian_log_likelihood, normal_kl
from gendiff.paths.discrete import DiscreteVPPath
from gendiff.utils import right_broadcast, sum_over_non_batch

ModelFn = Callable[..., jax.Array]


def prior_kl(path: DiscreteVPPath, x0: jax.Array) -> jax.Array:
    """L_T = KL(q(x_T | x_0) || N(0, I)) per example, in nats.

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_betas([0.1, 0.2, 0.3])  # alpha_bar_T = 0.504
      >>> # x_0 = 0, two dims: 2 * KL(N(0, 0.496) || N(0, 1)) = -log 0.496 + 0.496 - 1
      >>> prior_kl(path, jnp.zeros((1, 2)))
      Array([0.197179], dtype=float32)
      >>> # T = 1000 linear steps: q(x_T | x_0) is N(0, 1) to 4e-5 for |x_0| <= 1
      >>> float(prior_kl(DiscreteVPPath.from_schedule("linear", 1000), jnp.ones((1, 2)))[0]) < 1e-4
      True
    """
    t = jnp.ones((x0.shape[0],))
    mean = right_broadcast(path.alpha(t), x0) * x0
    logvar = right_broadcast(2.0 * jnp.log(path.sigma(t)), x0)
    return sum_over_non_batch(normal_kl(mean, logvar, 0.0, 0.0))


def variational_bound(
    key: jax.Array,
    model_fn: ModelFn,
    path: DiscreteVPPath,
    x0: jax.Array,
    *,
    num_levels: int,
    variance: str = "small",
    prediction: str = "eps",
    clip_x0: bool = True,
    **cond,
) -> dict[str, jax.Array]:
    """The full variational bound per example.

    Args:
      key: PRNG key; step t uses ``fold_in(key, t)`` for its draw of x_t.
      model_fn: ``model_fn(x_t, t, **cond)``.
      path: a DiscreteVPPath (the bound is defined over its T steps).
      x0: data on the grid of ``num_levels`` values in [-1, 1], (batch, ...).
      num_levels: number of discrete data values (256 for 8-bit images).
      variance: the reverse-process variance, 'small' or 'large'.
      prediction: what ``model_fn`` outputs.
      clip_x0: clip predicted x_0 to [-1, 1] in the reverse mean (as when sampling).
      **cond: conditioning for ``model_fn``.

    Returns:
      Dict of (batch,) arrays: 'prior' (L_T), 'diffusion' (sum of L_1..L_{T-1}), 'decoder' (L_0),
      'total' (nats) and 'bpd' (bits/dim).

    Example:
      >>> from gendiff.paths import DiscreteVPPath
      >>> path = DiscreteVPPath.from_schedule("linear", 1000)
      >>> x0 = jnp.zeros((2, 4))
      >>> bound = variational_bound(key, model_fn, path, x0, num_levels=256)
      >>> bound["bpd"].shape
      (2,)
    """
    if not isinstance(path, DiscreteVPPath):
        raise TypeError(f"variational_bound needs a DiscreteVPPath, got {type(path).__name__}.")
    if num_levels < 2:
        raise ValueError(f"num_levels must be >= 2, got {num_levels}.")
    batch, T = x0.shape[0], path.num_steps
    full = lambda v: jnp.full((batch,), v, jnp.float32)

    def sample_x_t(i):
        t = full(i / T)
        x_t, _ = path.sample_marginal(jax.random.fold_in(key, i), x0, t)
        x0_hat = predict_x0(model_fn, path, x_t, t, prediction=prediction, clip_x0=clip_x0, **cond)
        return t, x_t, x0_hat

    def diffusion_term(total, i):  # L_{i-1}, i = 2..T
        t, x_t, x0_hat = sample_x_t(i)
        s = full((i - 1) / T)
        true_mean, true_var = posterior(path, x0, x_t, s, t)
        model_logvar = jnp.log(reverse_variance(path, s, t, variance))
        kl = normal_kl(
            true_mean,
            right_broadcast(jnp.log(true_var), x0),
            posterior_mean(path, x0_hat, x_t, s, t),
            right_broadcast(model_logvar, x0),
        )
        return total + sum_over_non_batch(kl), None

    diffusion, _ = jax.lax.scan(diffusion_term, jnp.zeros((batch,)), jnp.arange(2, T + 1))

    # L_0: the decoder's variance at step 1 is clipped to beta-tilde_2 for both choices of
    # `variance`, since beta-tilde_1 = 0 (Ho et al.'s posterior_log_variance_clipped).
    t1, x1, x0_hat = sample_x_t(1)
    decoder_mean = posterior_mean(path, x0_hat, x1, full(0.0), t1)
    log_scale = 0.5 * jnp.log(posterior_variance(path, full(1.0 / T), full(2.0 / T)))
    decoder = -sum_over_non_batch(
        discretized_gaussian_log_likelihood(
            x0, decoder_mean, right_broadcast(log_scale, x0), num_levels
        )
    )

    prior = prior_kl(path, x0)
    total = prior + diffusion + decoder
    dims = x0[0].size
    return {
        "prior": prior,
        "diffusion": diffusion,
        "decoder": decoder,
        "total": total,
        "bpd": total / (dims * jnp.log(2.0)),
    }
