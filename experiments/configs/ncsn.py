"""Presets for experiments/ncsn.py (noise-conditional score network + annealed Langevin).

python -m experiments.ncsn                       # 8x8 digits on a CPU
python -m experiments.ncsn --preset toy2d --config.dataset=toy2d/swiss_roll
"""

from __future__ import annotations

import ml_collections

from experiments.configs import ddpm, lookup


def cpu() -> ml_collections.ConfigDict:
    """NCSN on the 8x8 digits: sigma_1 = 10 (about the largest distance between two digits,
    Song & Ermon 2020, technique 1) down to sigma_L = 0.01 over L = 10 levels, K = 100
    Langevin steps per level with alpha_i = eps sigma_i^2 / sigma_L^2 (Song & Ermon 2019)."""
    c = ddpm.cpu()
    c.optim.ema_warmup = False  # as its README figures were measured (ddpm.cpu warms up)
    del c.diffusion, c.sample  # ddpm-only fields
    c.ncsn = ml_collections.ConfigDict()
    c.ncsn.sigma_max = 10.0
    c.ncsn.sigma_min = 0.01
    c.ncsn.num_levels = 10
    c.ncsn.eps = 2e-5
    c.ncsn.steps_per_level = 100
    c.ncsn.denoise = True  # final step x + sigma_L^2 s(x, sigma_L)
    c.eval.sample_batch = 500
    return c


def toy2d() -> ml_collections.ConfigDict:
    c = cpu()
    c.dataset = "toy2d/two_moons"
    c.model.name = "mlp"
    c.num_steps = 4000
    c.batch_size = 512
    c.optim.learning_rate = 1e-3
    c.ncsn.sigma_max = 5.0
    return c


PRESETS = {"cpu": cpu, "toy2d": toy2d}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
