"""Presets for experiments/score_sde.py (score-based generative modelling with SDEs).

python -m experiments.score_sde                                   # VP SDE on 8x8 digits
python -m experiments.score_sde --config.sde.path=subvp           # or 've'
python -m experiments.score_sde --preset toy2d --config.sde.path=ve
python -m experiments.score_sde --preset mnist --config.dataset=mnist_idx --config.data_dir=DIR
"""

from __future__ import annotations

import ml_collections

from experiments.configs import ddpm, lookup


def cpu() -> ml_collections.ConfigDict:
    """The VP SDE (beta from 0.1 to 20) on the 8x8 digits with the tiny U-Net; PC sampling with
    the reverse-diffusion predictor and a Langevin corrector (Song et al. 2021)."""
    c = ddpm.cpu()
    c.optim.ema_warmup = False  # as its README figures were measured (ddpm.cpu warms up)
    del c.diffusion, c.sample  # ddpm-only fields
    c.sde = ml_collections.ConfigDict()
    c.sde.path = "vp"  # 'vp', 'subvp' or 've'
    c.sde.ve_sigma_max = 10.0  # about the largest distance between two digits
    c.sde.num_steps = 200
    c.sde.predictor = "reverse_diffusion"
    c.sde.corrector = "langevin"
    c.sde.snr = 0.16
    c.sde.step_rule = "noise"  # Langevin step per example: "noise" (2 r (snr sigma_t)^2) or "norms"
    c.sde.likelihood_rtol = 1e-4
    c.eval.sample_batch = 500
    c.eval.vlb_examples = 100  # test digits whose PF-ODE bits/dim are computed (Hutchinson)
    c.eval.vlb_batch = 100
    return c


def toy2d() -> ml_collections.ConfigDict:
    c = cpu()
    c.dataset = "toy2d/two_moons"
    c.model.name = "mlp"
    c.num_steps = 4000
    c.batch_size = 512
    c.optim.learning_rate = 1e-3
    c.sde.ve_sigma_max = 5.0
    c.sde.num_steps = 500
    return c


def mnist() -> ml_collections.ConfigDict:
    c = cpu()
    c.dataset = "mnist"
    c.model.preset = "mnist"
    c.num_steps = 20_000
    c.optim.learning_rate = 2e-4
    c.checkpoint_every = 2000
    c.sde.ve_sigma_max = 30.0
    c.sde.num_steps = 1000
    return c


PRESETS = {"cpu": cpu, "toy2d": toy2d, "mnist": mnist}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
