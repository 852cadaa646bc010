"""Presets for experiments/sequential_digits.py (the 8x8 digits as sequences of 64 pixels).

python -m experiments.sequential_digits                                # cpu: all models
python -m experiments.sequential_digits --config.model.pooling=last    # last-position readout
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup


def cpu() -> ml_collections.ConfigDict:
    """Mamba, S4D and a transformer with d_model 32, 2 layers (state size 8), mean pooling, the
    same 2000 steps of 32 sequences (about 45 epochs). Measured on 2 heavily shared CPU cores:
    17 minutes wall (14 of them Mamba's), 3.7 minutes of CPU time; test accuracy Mamba 0.944,
    S4D 0.950, transformer 0.964."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.models = "mamba,s4,transformer"  # comma-separated subset of these
    c.num_steps = 2000
    c.batch_size = 32
    c.checkpoint_every = c.get_ref("num_steps")
    c.log_every = 100
    c.progress = True

    c.model = ml_collections.ConfigDict()
    c.model.d_model = 32
    c.model.num_layers = 2
    c.model.d_state = 8  # Mamba and S4D
    c.model.d_conv = 4  # Mamba
    c.model.expand = 2  # Mamba
    c.model.lambda_init = "lin"  # S4D: 'lin' or 'real'
    c.model.discretization = "zoh"  # S4D: 'zoh' or 'bilinear'
    c.model.num_heads = 4  # transformer
    c.model.pooling = "mean"  # 'mean' over positions or the 'last' position

    c.optim = ml_collections.ConfigDict()
    c.optim.optimizer = "adamw"
    c.optim.learning_rate = 3e-3
    c.optim.warmup_steps = 100
    c.optim.schedule = "cosine"
    c.optim.num_steps = c.get_ref("num_steps")
    c.optim.grad_clip_norm = 1.0
    c.optim.weight_decay = 0.01
    c.optim.ema_decay = 0.99

    c.eval = ml_collections.ConfigDict()
    c.eval.batch = 512  # the test split (359 sequences) in batches of this size

    c.distributed = distributed()
    return c


PRESETS = {"cpu": cpu}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
