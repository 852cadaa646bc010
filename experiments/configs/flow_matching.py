"""Presets for experiments/flow_matching.py (flow matching, rectified flow and one reflow round).

python -m experiments.flow_matching                              # OT path on 8x8 digits
python -m experiments.flow_matching --config.path=vp             # Lipman et al.'s VP path
python -m experiments.flow_matching --preset toy2d               # two moons, with reflow
python -m experiments.flow_matching --preset toy2d --config.reflow_steps=0
"""

from __future__ import annotations

import ml_collections

from experiments.configs import ddpm, lookup


def cpu() -> ml_collections.ConfigDict:
    """Flow matching on the 8x8 digits with the tiny U-Net predicting the velocity.

    The optimal-transport path x_t = (1 - t) x_0 + (sigma_min + (1 - sigma_min) t) x_1
    (Lipman et al. 2023; rectified flow when sigma_min = 0), 2000 steps at batch 128; samples at
    several numbers of network evaluations (NFE) with Euler and RK4.
    """
    c = ddpm.cpu()
    c.optim.ema_warmup = False  # as its README figures were measured (ddpm.cpu warms up)
    del c.diffusion, c.sample  # ddpm-only fields
    c.path = "ot"  # 'ot' (RectifiedFlowPath with sigma_min) or 'vp' (VPPath, beta 0.1 to 20)
    c.sigma_min = 1e-3  # of the 'ot' path; 0 gives rectified flow's straight lines
    # Samplers as 'solver:num_steps' (solver in gendiff.sde.ode.SOLVERS, fixed-step ones here);
    # each gets a quality figure. `eval.sampler` makes samples.png and the headline figure.
    c.eval.samplers = "euler:1,euler:2,euler:4,euler:10,euler:20,euler:100,rk4:5,rk4:25"
    c.eval.sampler = "rk4:25"
    c.eval.sample_batch = 500
    c.eval.straightness_samples = 500  # trajectories over which straightness is averaged

    c.reflow_steps = 0  # training steps of the reflow model; 0 skips reflow
    c.reflow = ml_collections.ConfigDict()
    c.reflow.num_pairs = 10_000  # (generated data, noise) pairs from the first model
    c.reflow.pair_batch = 2000
    c.reflow.sampler = "rk4:25"  # the ODE solver of the pairs and of straightness
    c.reflow.samplers = "euler:1,euler:2,euler:4"  # the reflowed model's quality figures
    return c


def toy2d() -> ml_collections.ConfigDict:
    """Two moons with a residual MLP; one reflow round on 10,000 pairs (Liu et al. 2023)."""
    c = cpu()
    c.dataset = "toy2d/two_moons"
    c.model.name = "mlp"
    c.model.hidden = 128
    c.model.depth = 3
    c.num_steps = 3000
    c.reflow_steps = 3000
    c.batch_size = 512
    c.optim.learning_rate = 1e-3
    c.eval.straightness_samples = 2000
    return c


PRESETS = {"cpu": cpu, "toy2d": toy2d}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
