"""Presets for experiments/fgan_gaussian.py.

Override any field with ``--config.FIELD=VALUE``:

  python -m experiments.fgan_gaussian                       # every divergence, a few minutes
  python -m experiments.fgan_gaussian --config.divergences='("kl", "reverse_kl")'
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup

DIVERGENCES = (
    "kl",
    "reverse_kl",
    "js",
    "gan",
    "tv",
    "pearson_chi2",
    "neyman_chi2",
    "squared_hellinger",
    "jeffreys",
)


def _optim(learning_rate: float, num_steps_ref) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.optimizer = "adam"  # gendiff.train.make_optimizer
    c.learning_rate = learning_rate
    c.b1 = 0.5
    c.b2 = 0.999
    c.eps = 1e-8
    c.warmup_steps = 0
    c.schedule = "constant"
    c.num_steps = num_steps_ref
    c.grad_clip_norm = 0.0
    c.weight_decay = 0.0
    c.ema_decay = 0.0  # not used: the fitted parameters and critics are the last iterates
    return c


def cpu() -> ml_collections.ConfigDict:
    """Both parts for the divergences of :data:`DIVERGENCES`; a minute or two per part."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.divergences = DIVERGENCES  # names in gendiff.divergences.F_DIVERGENCES
    c.num_steps = 3000  # part (a): generator updates per divergence (each after n_critic)
    c.batch_size = 256  # rows of P per step (and as many of Q_theta)
    c.checkpoint_every = 3000
    c.log_every = 500
    c.progress = False

    # Part (a): P = sum_k w_k N(mean_k, std_k^2); Q_theta = N(mean, exp(log_std)^2).
    c.mixture = ml_collections.ConfigDict()
    c.mixture.weights = (0.4, 0.6)
    c.mixture.means = (-2.0, 2.0)
    c.mixture.stds = (0.5, 0.5)
    c.init_mean = 0.0  # Q_theta at the start, between the modes
    c.init_log_std = -0.7  # std 0.5
    c.n_critic = 1  # critic updates per generator update
    c.generator_optim = _optim(1e-2, c.get_ref("num_steps"))
    c.critic_optim = _optim(2e-3, c.get_ref("num_steps"))

    # The critic V of both parts: gendiff.nets.MLPCritic on 1-D inputs.
    c.critic = ml_collections.ConfigDict()
    c.critic.hidden = 64
    c.critic.depth = 2

    # Part (b): the variational estimate of D_f(P || Q) between two Gaussians: the critic
    # alone maximises E_P[g_f(V)] - E_Q[f*(g_f(V))] (gendiff.gan.fgan_discriminator_loss).
    c.estimate = ml_collections.ConfigDict()
    c.estimate.p = (0.0, 1.0)  # (mean, std)
    c.estimate.q = (1.0, 1.2)
    c.estimate.num_steps = 3000
    c.estimate.batch_size = 512
    c.estimate.optim = _optim(2e-3, c.estimate.get_ref("num_steps"))
    c.estimate.optim.b1 = 0.9
    c.estimate.num_eval = 400_000  # fresh samples of each for the final estimate

    # Quadrature of the exact divergences (float64 trapezoid rule).
    c.grid = ml_collections.ConfigDict()
    c.grid.low = -20.0
    c.grid.high = 20.0
    c.grid.num_points = 8001

    c.distributed = distributed()
    return c


PRESETS = {"cpu": cpu}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
