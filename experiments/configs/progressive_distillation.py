"""Presets for experiments/progressive_distillation.py.

Pick one with ``--preset NAME`` and override any field with ``--config.FIELD=VALUE``:

  python -m experiments.progressive_distillation                 # cpu: 8x8 digits, several minutes
  python -m experiments.progressive_distillation --config.distill.final_sampling_steps=1
  python -m experiments.progressive_distillation --preset mnist --config.data_dir=/path/to/idx
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup
from gendiff.eval import NUM_SAMPLES


def _optim(learning_rate: float, warmup_steps: int, ema_decay: float) -> ml_collections.ConfigDict:
    o = ml_collections.ConfigDict()
    o.optimizer = "adam"
    o.learning_rate = learning_rate
    o.warmup_steps = warmup_steps
    o.schedule = "cosine"
    o.num_steps = 0  # set to the run's length (a reference) by the caller
    o.grad_clip_norm = 1.0
    o.weight_decay = 0.0
    o.b1 = 0.9
    o.b2 = 0.999
    o.eps = 1e-8
    o.ema_decay = ema_decay
    return o


def base() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dataset = "digits"  # see gendiff.data.load
    c.data_dir = ""
    # The teacher's training run (the fields gendiff's train harness reads).
    c.num_steps = 1500
    c.batch_size = 128
    c.checkpoint_every = 500
    c.log_every = 100
    c.progress = True

    c.model = ml_collections.ConfigDict()
    c.model.name = "unet"  # 'unet' (images) or 'mlp' (vectors)
    c.model.preset = "tiny"
    c.model.dtype = "float32"
    c.model.hidden = 256  # for 'mlp'
    c.model.depth = 4  # for 'mlp'

    # Salimans & Ho's setting: v-prediction on a cosine schedule. T = 1024 keeps every grid
    # i / 2N with 2N a power of two up to 1024 on an integer step.
    c.diffusion = ml_collections.ConfigDict()
    c.diffusion.schedule = "cosine"
    c.diffusion.num_diffusion_steps = 1024
    c.diffusion.prediction = "v"

    c.optim = _optim(learning_rate=2e-3, warmup_steps=100, ema_decay=0.999)
    c.optim.num_steps = c.get_ref("num_steps")

    # Rounds: the teacher samples with teacher_sampling_steps DDIM steps (N_0); round k trains
    # a student for N_0 / 2^k steps, initialised from the previous model, down to
    # final_sampling_steps.
    c.distill = ml_collections.ConfigDict()
    c.distill.teacher_sampling_steps = 64
    c.distill.final_sampling_steps = 4
    c.distill.steps_per_round = 250
    c.distill.optim = _optim(learning_rate=5e-4, warmup_steps=20, ema_decay=0.99)
    c.distill.optim.num_steps = c.distill.get_ref("steps_per_round")

    c.eval = ml_collections.ConfigDict()
    c.eval.num_samples = NUM_SAMPLES  # behind every headline figure, in every experiment
    c.eval.sample_batch = 500
    c.eval.inception_weights = ""  # local Inception-v3 weights: adds fid, is, kid, ...
    c.eval.inception_reference = ""  # .npz of mu, sigma for FID; empty = the test split

    c.distributed = distributed()
    return c


def cpu() -> ml_collections.ConfigDict:
    """The default: sklearn's 8x8 digits, a 0.18M-parameter U-Net, 64 -> 4 steps on a CPU.

    1500 teacher steps, then four rounds (32, 16, 8, 4 steps) of 250 steps each.
    """
    return base()


def mnist() -> ml_collections.ConfigDict:
    """28x28 MNIST with the larger U-Net, 128 -> 1 steps; meant for an accelerator."""
    c = base()
    c.dataset = "mnist"
    c.model.preset = "mnist"
    c.num_steps = 20_000
    c.checkpoint_every = 2000
    c.optim.learning_rate = 2e-4
    c.optim.ema_decay = 0.9995
    c.distill.teacher_sampling_steps = 128
    c.distill.final_sampling_steps = 1
    c.distill.steps_per_round = 4000
    c.distill.optim.learning_rate = 1e-4
    c.distill.optim.ema_decay = 0.999
    return c


PRESETS = {"cpu": cpu, "mnist": mnist}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
