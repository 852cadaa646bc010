"""Presets for experiments/induction_heads.py (Mamba vs S4D on induction heads).

python -m experiments.induction_heads                 # cpu: trained at L = 32, a few minutes
python -m experiments.induction_heads --preset paper  # the Mamba paper's sizes, for a GPU
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup


def cpu() -> ml_collections.ConfigDict:
    """Sequences of L = 32 tokens over 16 symbols plus the trigger, evaluated at 32, 64 (2x)
    and 128 (4x); both models have d_model 32, 2 layers, state size 8, and train for the same
    1000 steps of 32 sequences. Measured on 2 heavily shared CPU cores: 9 minutes wall, 1.5
    minutes of CPU time; held-out accuracy at L = 32 / 64 / 128: Mamba 1.00 / 1.00 / 0.96,
    S4D 0.13 / 0.10 / 0.10 (chance 1/16)."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.models = "mamba,s4"  # comma-separated subset of 'mamba', 's4'
    c.num_steps = 1000
    c.batch_size = 32
    c.checkpoint_every = c.get_ref("num_steps")
    c.log_every = 100
    c.progress = True

    c.task = ml_collections.ConfigDict()
    c.task.seq_len = 32  # L: training length, trigger and answer included
    c.task.num_symbols = 16  # ordinary tokens; the trigger is one more

    c.model = ml_collections.ConfigDict()
    c.model.d_model = 32
    c.model.num_layers = 2
    c.model.d_state = 8
    c.model.d_conv = 4  # Mamba
    c.model.expand = 2  # Mamba
    c.model.lambda_init = "lin"  # S4D: 'lin' or 'real'
    c.model.discretization = "zoh"  # S4D: 'zoh' or 'bilinear'

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
    c.eval.lengths = (64, 128)  # besides the training length: 2x and 4x
    c.eval.num_sequences = 1024  # held out: drawn from keys never used in training
    c.eval.batch = 256

    c.distributed = distributed()
    return c


def paper() -> ml_collections.ConfigDict:
    """Gu & Dao (2023), induction heads: 2 layers of width 64, 16 symbols, trained at L = 256,
    evaluated up to 2^14 here (the paper goes to 2^20)."""
    c = cpu()
    c.task.seq_len = 256
    c.model.d_model = 64
    c.model.d_state = 16
    c.batch_size = 64
    c.num_steps = 20000
    c.eval.lengths = tuple(2**k for k in range(6, 15))
    c.eval.batch = 32
    return c


PRESETS = {"cpu": cpu, "paper": paper}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
