"""Presets for experiments/nce.py (NCE of unnormalised densities against maximum likelihood).

python -m experiments.nce
python -m experiments.nce --config.num_data=20000 --config.num_seeds=10
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup


def cpu() -> ml_collections.ConfigDict:
    """A 2-D diagonal Gaussian and a 3-component 2-D mixture, each written without its
    normaliser, fitted by NCE for nu in {1, 5, 20, 100} and by maximum likelihood on the same
    2000 data points, over 3 seeds (trained side by side, full batch)."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.num_seeds = 3  # independent data sets per nu (one parameter set each, trained together)
    c.num_data = 2000  # T_d; the noise sample has T_n = nu T_d points
    c.nus = (1, 5, 20, 100)
    c.cases = ("gaussian", "mixture")

    c.gaussian = ml_collections.ConfigDict()
    c.gaussian.mean = (1.0, -0.5)
    c.gaussian.scale = (0.8, 1.2)
    c.gaussian.noise_mean = (0.0, 0.0)
    c.gaussian.noise_scale = 2.0  # isotropic Gaussian noise p_n

    c.mixture = ml_collections.ConfigDict()
    c.mixture.means = ((-2.0, 0.0), (2.0, 0.0), (0.0, 2.5))
    c.mixture.scales = (0.6, 0.8, 0.5)
    c.mixture.weights = (
        0.3,
        0.3,
        0.4,
    )  # softmax(a) of phi; phi / Z weighs component k by w_k s_k^2
    c.mixture.noise_mean = (0.0, 0.8)
    c.mixture.noise_scale = 2.5
    c.init_noise = 0.5  # the fit starts at the truth plus this much Gaussian perturbation

    c.num_steps = 800  # full-batch Adam steps per fit
    c.batch_size = c.get_ref("num_data")  # full batch: every step sees all data and noise
    c.checkpoint_every = c.get_ref("num_steps")
    c.log_every = 200
    c.progress = False

    c.optim = ml_collections.ConfigDict()
    c.optim.optimizer = "adam"
    c.optim.learning_rate = 0.03
    c.optim.schedule = "cosine"
    c.optim.num_steps = c.get_ref("num_steps")
    c.optim.warmup_steps = 0
    c.optim.ema_decay = 0.0  # the estimate is the last iterate

    c.distributed = distributed()
    return c


PRESETS = {"cpu": cpu}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
