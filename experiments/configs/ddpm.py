"""Presets for experiments/ddpm.py.

Pick one with ``--preset NAME`` and override any field with ``--config.FIELD=VALUE``:

  python -m experiments.ddpm                                  # cpu: 8x8 digits, a few minutes
  python -m experiments.ddpm --preset toy2d --config.dataset=toy2d/swiss_roll
  python -m experiments.ddpm --preset mnist --config.data_dir=/path/to/mnist_idx
  python -m experiments.ddpm --preset cifar10                 # Ho et al.'s 35.7M model, for a GPU
  python -m experiments.ddpm --preset tpu_pod                 # cifar10 over many hosts
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup
from gendiff.eval import NUM_SAMPLES


def base() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dataset = "digits"  # see gendiff.data.load
    c.data_dir = ""  # local data (MNIST IDX files) or a TFDS data_dir; "" = default
    c.num_steps = 2000
    c.batch_size = 128
    c.checkpoint_every = 1000
    c.log_every = 100
    c.progress = True

    c.model = ml_collections.ConfigDict()
    c.model.name = "unet"  # 'unet' (images) or 'mlp' (vectors)
    c.model.preset = "tiny"  # gendiff.nets.unet_config name, for 'unet'
    c.model.dtype = "float32"  # computation dtype: 'float32' or 'bfloat16'
    c.model.hidden = 256  # for 'mlp'
    c.model.depth = 4  # for 'mlp'

    c.diffusion = ml_collections.ConfigDict()
    c.diffusion.schedule = "linear"
    c.diffusion.num_diffusion_steps = 1000
    c.diffusion.prediction = "eps"
    c.diffusion.variance = "small"  # reverse variance: 'small' (beta-tilde) or 'large' (beta)
    c.diffusion.weighting = "uniform"  # loss weighting: 'uniform' or 'min_snr' (Hang et al. 2023)
    c.diffusion.snr_gamma = 5.0  # the cap of 'min_snr'

    c.sample = ml_collections.ConfigDict()
    c.sample.sampler = ""  # "": ancestral over all T steps, else a gendiff.samplers.SAMPLERS name
    c.sample.nfe = 0  # that sampler's budget of network evaluations (ignored for "")

    c.optim = ml_collections.ConfigDict()
    c.optim.optimizer = "adam"
    c.optim.learning_rate = 2e-3
    c.optim.warmup_steps = 100
    c.optim.schedule = "cosine"
    c.optim.num_steps = c.get_ref("num_steps")  # length of the cosine decay
    c.optim.grad_clip_norm = 1.0
    c.optim.weight_decay = 0.0
    c.optim.b1 = 0.9
    c.optim.b2 = 0.999
    c.optim.eps = 1e-8
    c.optim.ema_decay = 0.999
    c.optim.ema_warmup = False  # decay min(ema_decay, (1 + n) / (10 + n)) at step n

    c.eval = ml_collections.ConfigDict()
    c.eval.num_samples = NUM_SAMPLES  # behind every headline figure, in every experiment
    c.eval.sample_batch = 1000
    c.eval.vlb_batch = 400
    c.eval.vlb_examples = 0  # 0 = the whole test split
    # Also the probability-flow ODE bits/dim of the same network on the first N test images
    # (next to the bound on the same images); 0 = off. Adaptive solve with tolerance ode_rtol.
    c.eval.ode_bpd_examples = 0
    c.eval.ode_rtol = 1e-4
    # Paper-comparable fid/is/kid/precision/recall: a local Inception-v3 weights file (.npz, or
    # pytorch-fid's pt_inception-2015-12-05-6726825d.pth; nothing is downloaded); empty = off.
    c.eval.inception_weights = ""
    c.eval.inception_reference = ""  # .npz of mu, sigma FID is measured against; empty = test split

    c.distributed = distributed()
    return c


def cpu() -> ml_collections.ConfigDict:
    """The default: DDPM on scikit-learn's 8x8 digits in under 5 minutes on a 2-core CPU.

    A 0.18M-parameter U-Net, 2000 steps at batch 128, and T = 100 diffusion steps (the linear
    schedule rescaled by 1000 / T), so that sampling 1000 digits and the test-set bound each
    take seconds. Two choices come from the study in the README ("How the default run was
    chosen"): the EMA warms up (decay min(0.999, (1 + n) / (10 + n)): a plain 0.999 still
    holds 0.999^2000 = 13.5% of the initial weights after 2000 steps), and the samples come
    from DPM-Solver++(2M)-SDE at 20 network evaluations instead of 100 ancestral steps.
    """
    c = base()
    c.diffusion.num_diffusion_steps = 100
    c.optim.ema_warmup = True
    c.sample.sampler = "dpm_solver_pp_2m_sde"
    c.sample.nfe = 20
    return c


def toy2d() -> ml_collections.ConfigDict:
    c = base()
    c.dataset = "toy2d/two_moons"
    c.model.name = "mlp"
    c.num_steps = 4000
    c.batch_size = 512
    c.optim.learning_rate = 1e-3
    c.eval.vlb_examples = 0
    return c


def mnist() -> ml_collections.ConfigDict:
    c = base()
    c.dataset = "mnist"
    c.model.preset = "mnist"
    c.num_steps = 20_000
    c.optim.learning_rate = 2e-4
    c.optim.ema_decay = 0.9995
    c.checkpoint_every = 2000
    c.eval.sample_batch = 500
    c.eval.vlb_examples = 1000
    return c


def cifar10() -> ml_collections.ConfigDict:
    """Ho et al. (2020): 35.7M-parameter U-Net, batch 128, lr 2e-4, 800k steps, EMA 0.9999."""
    c = base()
    c.dataset = "cifar10"
    c.model.preset = "cifar10"
    c.num_steps = 800_000
    c.optim.learning_rate = 2e-4
    c.optim.warmup_steps = 5000
    c.optim.schedule = "constant"
    c.optim.ema_decay = 0.9999
    c.checkpoint_every = 10_000
    c.log_every = 500
    c.eval.num_samples = 10_000
    c.eval.sample_batch = 500
    c.eval.vlb_batch = 200
    c.eval.vlb_examples = 1000
    # FID as papers report it: --config.eval.inception_weights=pt_inception-...pth and training-set
    # statistics made once with `python -m gendiff.eval.inception --weights ... --dataset cifar10
    # --split train --out cifar10_train_stats.npz`, passed as --config.eval.inception_reference.
    # Papers use 50,000 samples (--config.eval.num_samples=50000).
    return c


def tpu_pod() -> ml_collections.ConfigDict:
    """cifar10 over every host of a TPU pod: jax.distributed.initialize() reads the topology."""
    c = cifar10()
    c.distributed.initialize = True
    c.batch_size = 2048
    c.optim.learning_rate = 1e-3
    return c


PRESETS = {"cpu": cpu, "toy2d": toy2d, "mnist": mnist, "cifar10": cifar10, "tpu_pod": tpu_pod}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
