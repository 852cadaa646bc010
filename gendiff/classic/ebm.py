"""Energy-based models p(x) = exp(-E(x)) / Z trained with Langevin negative samples, and their
KL to the data on a normalising grid (2-D).

The log-likelihood gradient is -E_data[grad_theta E] + E_p[grad_theta E] (F2:820-850 with
f = exp(-E); F4:132). The model expectation is estimated with samples of unadjusted Langevin
dynamics x' = x - alpha grad_x E(x) + sqrt(2 alpha) z (:func:`gendiff.score.langevin_dynamics`
with the score -grad_x E; the score needs no Z, F4:146-150), from noise (short-run) or from
persistent chains (Tieleman 2008; Du & Mordatch 2019, who also restart a few chains from noise
each step and add alpha_reg (E(x+)^2 + E(x-)^2) to keep energies near 0).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.classic._checks import check_positive
from gendiff.divergences import kl_divergence
from gendiff.score.langevin import langevin_dynamics

EnergyFn = Callable  # energy_fn(params, x) -> (batch,)


def ebm_score(energy_fn: EnergyFn, params) -> Callable[[jax.Array], jax.Array]:
    """The score s(x) = grad_x log p(x) = -grad_x E(x), batched: (batch, d) -> (batch, d).

    Example:
      >>> from gendiff.classic import ebm_score
      >>> s = ebm_score(lambda p, x: 0.5 * jnp.sum(x**2, -1), None)  # N(0, I): s(x) = -x
      >>> s(jnp.array([[1.0, -2.0]])).tolist()
      [[-1.0, 2.0]]
    """
    return lambda x: -jax.grad(lambda x: jnp.sum(energy_fn(params, x)))(x)


def ebm_contrastive_loss(
    energy_fn: EnergyFn, params, x_data: jax.Array, x_model: jax.Array, *, alpha: float = 0.0
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """mean E(x_data) - mean E(stop_gradient(x_model)) + alpha (mean E(x_data)^2 + mean
    E(x_model)^2): its gradient is the contrastive estimate of the negative log-likelihood
    gradient (plus Du & Mordatch's regulariser).

    Example:
      >>> from gendiff.classic import ebm_contrastive_loss
      >>> energy_fn = lambda mu, x: 0.5 * jnp.sum((x - mu) ** 2, -1)
      >>> mu, x_data, x_model = jnp.zeros(2), jnp.zeros((4, 2)), jnp.ones((4, 2))  # E: 0 and 1
      >>> loss, metrics = ebm_contrastive_loss(energy_fn, mu, x_data, x_model, alpha=0.1)
      >>> float(metrics["energy_gap"]), round(float(loss), 6)  # -1 + 0.1 (0^2 + 1^2)
      (-1.0, -0.9)
    """
    if not float(alpha) >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}.")
    e_data = energy_fn(params, x_data)
    e_model = energy_fn(params, jax.lax.stop_gradient(x_model))
    gap = jnp.mean(e_data) - jnp.mean(e_model)
    reg = jnp.mean(jnp.square(e_data)) + jnp.mean(jnp.square(e_model))
    metrics = {
        "energy_data": jnp.mean(e_data),
        "energy_model": jnp.mean(e_model),
        "energy_gap": gap,
    }
    return gap + alpha * reg, metrics


def langevin_transition(
    energy_fn: EnergyFn,
    *,
    step_size: float,
    num_steps: int,
    reinit_prob: float = 0.0,
    bounds: tuple[float, float] = (-4.0, 4.0),
) -> Callable:
    """``transition(params, chains, key) -> chains``: restart each chain with probability
    ``reinit_prob`` from uniform noise on ``bounds`` (per coordinate), then ``num_steps``
    Langevin steps on p ∝ exp(-E). For :func:`gendiff.train.persistent_chain_players`.

    Example:
      >>> from gendiff.classic import langevin_transition
      >>> energy_fn = lambda mu, x: 0.5 * jnp.sum((x - mu) ** 2, -1)  # N(mu, I)
      >>> transition = langevin_transition(energy_fn, step_size=0.05, num_steps=200)
      >>> chains = transition(jnp.zeros(2), jnp.zeros((2000, 2)), key)
      >>> chains.shape, round(float(chains.std()), 1)
      ((2000, 2), 1.0)
      >>> restart = langevin_transition(energy_fn, step_size=1e-6, num_steps=1, reinit_prob=1.0,
      ...                               bounds=(2.0, 3.0))(jnp.zeros(2), jnp.zeros((5, 2)), key)
      >>> bool(jnp.all((restart > 1.9) & (restart < 3.1)))  # every chain restarted on [2, 3]
      True
    """
    check_positive("step_size", step_size)
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}.")
    if not 0.0 <= float(reinit_prob) <= 1.0:
        raise ValueError(f"reinit_prob must lie in [0, 1], got {reinit_prob}.")
    low, high = bounds
    if not float(low) < float(high):
        raise ValueError(f"bounds must be (low, high) with low < high, got {bounds}.")

    def transition(params, chains, key):
        key_restart, key_noise, key_run = jax.random.split(key, 3)
        noise = jax.random.uniform(key_noise, chains.shape, chains.dtype, low, high)
        restart = jax.random.bernoulli(key_restart, reinit_prob, chains.shape[:1])
        x = jnp.where(restart.reshape(-1, *([1] * (chains.ndim - 1))), noise, chains)
        score = ebm_score(energy_fn, params)
        return langevin_dynamics(key_run, score, x, step_size=step_size, num_steps=int(num_steps))

    return transition


def ebm_loss(energy_fn: EnergyFn, *, alpha: float = 0.0, data_key: str = "x") -> Callable:
    """``loss(params, batch, chains, key)``: :func:`ebm_contrastive_loss` with the chains as
    negative samples, for :func:`gendiff.train.persistent_chain_players`.

    Example:
      >>> from gendiff.classic import ebm_loss
      >>> energy_fn = lambda mu, x: 0.5 * jnp.sum((x - mu) ** 2, -1)
      >>> x, chains = jnp.zeros((4, 2)), jnp.ones((4, 2))  # energies 0 and 1
      >>> loss, metrics = ebm_loss(energy_fn, alpha=0.1)(jnp.zeros(2), {"x": x}, chains, key)
      >>> round(float(loss), 6), sorted(metrics)
      (-0.9, ['energy_data', 'energy_gap', 'energy_model'])
    """

    def loss_fn(params, batch, chains, key):
        del key
        return ebm_contrastive_loss(energy_fn, params, batch[data_key], chains, alpha=alpha)

    return loss_fn


def short_run_ebm_loss(
    energy_fn: EnergyFn,
    *,
    step_size: float,
    num_steps: int,
    alpha: float = 0.0,
    bounds: tuple[float, float] = (-4.0, 4.0),
    data_key: str = "x",
) -> Callable:
    """``loss_fn(params, batch, key)`` for :func:`gendiff.train.make_train_step`: negative
    samples from ``num_steps`` Langevin steps started at uniform noise on ``bounds``
    (short-run MCMC, Nijkamp et al. 2019), one per data row.

    Example:
      >>> from gendiff.classic import short_run_ebm_loss
      >>> energy_fn = lambda mu, x: 0.5 * jnp.sum((x - mu) ** 2, -1)
      >>> loss_fn = short_run_ebm_loss(energy_fn, step_size=0.05, num_steps=20)
      >>> loss, metrics = loss_fn(jnp.zeros(2), {"x": jnp.zeros((8, 2))}, key)
      >>> float(metrics["energy_data"]), bool(loss < 0)  # data at the minimum, negatives above
      (0.0, True)
      >>> jax.grad(lambda mu: loss_fn(mu, {"x": jnp.zeros((8, 2))}, key)[0])(jnp.zeros(2)).shape
      (2,)
    """
    transition = langevin_transition(
        energy_fn, step_size=step_size, num_steps=num_steps, reinit_prob=1.0, bounds=bounds
    )

    def loss_fn(params, batch, key):
        x = jnp.asarray(batch[data_key])
        x_model = transition(jax.lax.stop_gradient(params), x, key)
        return ebm_contrastive_loss(energy_fn, params, x, x_model, alpha=alpha)

    return loss_fn


def grid_points(bounds: tuple[float, float], num_cells: int) -> jax.Array:
    """Centres of a num_cells x num_cells grid of square cells on [low, high]^2, (n^2, 2),
    row-major in (x0, x1).

    Example:
      >>> from gendiff.classic import grid_points
      >>> grid_points((-1.0, 1.0), 2).tolist()
      [[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]]
      >>> grid_points((-4.0, 4.0), 16).shape
      (256, 2)
    """
    low, high = bounds
    if not float(low) < float(high) or int(num_cells) != num_cells or num_cells < 1:
        raise ValueError(
            f"need bounds (low, high) with low < high and num_cells >= 1, got {bounds}, {num_cells}."
        )
    width = (high - low) / num_cells
    centres = low + width * (jnp.arange(num_cells) + 0.5)
    return jnp.stack(jnp.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2)


def grid_log_probs(energy_fn: EnergyFn, params, bounds, num_cells: int) -> jax.Array:
    """Cell log-probabilities log softmax(-E(centres)) of the model restricted to the grid,
    (num_cells^2,): the density normalised on the grid (Z by the midpoint rule).

    Example:
      >>> from gendiff.classic import grid_log_probs
      >>> energy_fn = lambda mu, x: 0.5 * jnp.sum((x - mu) ** 2, -1)
      >>> log_q = grid_log_probs(energy_fn, jnp.zeros(2), (-4.0, 4.0), 16)
      >>> log_q.shape, round(float(jnp.sum(jnp.exp(log_q))), 5)  # cell probabilities sum to 1
      ((256,), 1.0)
      >>> log_q = grid_log_probs(energy_fn, jnp.zeros(2), (-1.0, 1.0), 2)  # 4 cells, symmetric
      >>> [round(float(v), 4) for v in jnp.exp(log_q)]
      [0.25, 0.25, 0.25, 0.25]
    """
    return jax.nn.log_softmax(-energy_fn(params, grid_points(bounds, num_cells)))


def histogram_probs(points: jax.Array, bounds, num_cells: int) -> tuple[jax.Array, jax.Array]:
    """Fractions of the 2-D ``points`` in each cell of the grid of :func:`grid_points`
    (points outside are dropped), and the fraction of points that fell inside.

    Example:
      >>> from gendiff.classic import histogram_probs
      >>> points = jnp.array([[0.1, 0.1], [-0.5, 0.5], [5.0, 5.0]])  # the last one is outside
      >>> p, inside = histogram_probs(points, (-1.0, 1.0), 2)  # the cells of grid_points
      >>> p.tolist(), round(float(inside), 4)
      ([0.0, 0.5, 0.0, 0.5], 0.6667)
    """
    points = jnp.asarray(points)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (num_points, 2), got {points.shape}.")
    low, high = bounds
    grid_points(bounds, num_cells)  # checks
    index = jnp.floor((points - low) / (high - low) * num_cells).astype(jnp.int32)
    inside = jnp.all((index >= 0) & (index < num_cells), axis=1)
    flat = jnp.where(inside, index[:, 0] * num_cells + index[:, 1], 0)
    counts = jnp.zeros(num_cells * num_cells).at[flat].add(inside.astype(jnp.float32))
    total = jnp.sum(counts)
    return counts / jnp.maximum(total, 1.0), total / points.shape[0]


def grid_kl(
    points: jax.Array, energy_fn: EnergyFn, params, bounds=(-4.0, 4.0), num_cells: int = 128
) -> tuple[jax.Array, jax.Array]:
    """KL(data || model) in nats between the histogram of the data ``points`` and the model
    normalised on the same grid (both as cell probabilities). The histogram's own sampling
    noise makes this a biased estimate of the continuous KL (its floor: the KL between two
    histograms of data samples); compare models at one grid and sample size.

    Returns:
      ``(kl, fraction_inside)``: the KL and the fraction of points inside the grid.

    Example:
      >>> from gendiff.classic import grid_kl
      >>> energy_fn = lambda mu, x: 0.5 * jnp.sum((x - mu) ** 2, -1)  # N(mu, I)
      >>> x = jax.random.normal(key, (100_000, 2))  # data from N(0, I)
      >>> kl, inside = grid_kl(x, energy_fn, jnp.zeros(2), (-4.0, 4.0), 16)
      >>> bool(kl < 0.01), round(float(inside), 3)  # the data's own density: ~0
      (True, 1.0)
      >>> kl, _ = grid_kl(x, energy_fn, jnp.array([1.0, 0.0]), (-4.0, 4.0), 16)
      >>> round(float(kl), 1)  # KL(N(0, I) || N((1, 0), I)) = 1/2
      0.5
    """
    p, inside = histogram_probs(points, bounds, num_cells)
    q = jnp.exp(grid_log_probs(energy_fn, params, bounds, num_cells))
    return kl_divergence(p, q, validate=False), inside
