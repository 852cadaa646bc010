"""Presets for experiments/ebm.py.

Override any field with ``--config.FIELD=VALUE``:

  python -m experiments.ebm                                   # three 2-D toys
  python -m experiments.ebm --config.sampler=short_run
  python -m experiments.ebm --preset digits                   # 8x8 digits, FD of Langevin samples
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup
from gendiff.eval import NUM_SAMPLES


def cpu() -> ml_collections.ConfigDict:
    """A small energy MLP per 2-D toy, negatives from persistent Langevin chains."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.data_dir = ""  # for an image dataset
    # gendiff.data 'toy2d/<name>' names, or an image dataset ('digits': see the digits preset)
    c.datasets = ("eight_gaussians", "two_moons", "pinwheel")
    c.num_steps = 1500
    c.batch_size = 256
    c.checkpoint_every = 1500
    c.log_every = 250
    c.progress = False

    c.model = ml_collections.ConfigDict()
    c.model.hidden = 64
    c.model.depth = 3

    c.sampler = "persistent"  # 'persistent' (chains kept in the state) or 'short_run' (from noise)
    c.num_chains = 512  # persistent chains
    c.langevin_steps = 20  # per training step
    c.step_size = 0.005
    c.reinit_prob = 0.05  # persistent chains restarted from uniform noise per step (Du & Mordatch)
    c.alpha = 0.1  # energy-magnitude regulariser alpha (E(x+)^2 + E(x-)^2)
    c.bounds = (-4.0, 4.0)  # the square of the noise starts and of the normalising grid

    c.optim = ml_collections.ConfigDict()
    c.optim.optimizer = "adam"
    c.optim.learning_rate = 1e-3
    c.optim.warmup_steps = 0
    c.optim.schedule = "constant"
    c.optim.num_steps = c.get_ref("num_steps")
    c.optim.grad_clip_norm = 0.0
    c.optim.weight_decay = 0.0
    c.optim.b1 = 0.0  # Du & Mordatch use beta1 = 0 for the energy
    c.optim.b2 = 0.999
    c.optim.eps = 1e-8
    c.optim.ema_decay = 0.0

    c.eval = ml_collections.ConfigDict()
    c.eval.num_cells = 64  # grid of num_cells^2 cells on bounds^2
    c.eval.num_samples = 2000  # fresh Langevin samples from noise for the scatter plot
    c.eval.langevin_steps = 500

    c.distributed = distributed()
    return c


def digits() -> ml_collections.ConfigDict:
    """An energy MLP on the 8x8 digits (64 dimensions in [-1, 1]), scored by its samples:
    persistent Langevin chains with restarts for training, chains from noise for sampling."""
    c = cpu()
    c.datasets = ("digits",)
    c.num_steps = 3000
    c.checkpoint_every = 1000
    c.log_every = 250
    c.batch_size = 128
    c.model.hidden = 256
    c.model.depth = 3
    c.num_chains = 1000
    c.langevin_steps = 30
    c.step_size = 0.001  # Langevin noise std sqrt(2 * 0.001) = 0.045 per step
    # A weaker energy regulariser than the toys': 64 dimensions need energy gaps of tens of
    # nats. Measured after 1,500 steps: alpha 0.1, FD no better than noise (the chains never
    # reach the data's energies); 1e-3, FD 98.0; 1e-4, FD 222 (samples of 8 of 10 classes).
    c.alpha = 1e-3
    c.bounds = (-1.0, 1.0)
    c.eval.num_samples = NUM_SAMPLES
    c.eval.sample_batch = 1000
    c.eval.langevin_steps = 200
    return c


PRESETS = {"cpu": cpu, "digits": digits}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
