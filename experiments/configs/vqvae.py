"""Presets for experiments/vqvae.py.

python -m experiments.vqvae                     # 8x8 digits, 4x4 code grid, K = 64
python -m experiments.vqvae --preset mnist --config.data_dir=DIR  # MNIST t10k, 7x7 code grid
python -m experiments.vqvae --config.vq.num_codes=128
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup


def digits() -> ml_collections.ConfigDict:
    """VQ-VAE (EMA codebook, K = 64, D = 16) on the 8x8 digits and a 2-block causal prior."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dataset = "digits"
    c.data_dir = ""
    c.num_steps = 3000  # per VQ-VAE (with and without restarts)
    c.batch_size = 64
    c.checkpoint_every = 3000
    c.log_every = 50
    c.progress = False

    c.model = ml_collections.ConfigDict()
    c.model.channels = (64,)  # encoder widths; one stride-2 halving each (8x8 -> 4x4)
    c.model.num_res_blocks = 1

    c.vq = ml_collections.ConfigDict()
    c.vq.num_codes = 64  # K
    c.vq.code_dim = 16  # D
    c.vq.commitment_cost = 0.25  # beta
    c.vq.decay = 0.99  # EMA decay of the codebook
    c.vq.epsilon = 1e-5  # Laplace smoothing of the counts
    c.vq.init_scale = 1.0  # the codebook starts uniform in [-s/K, s/K]
    # Codes with EMA count below this (vectors per batch) are restarted at encoder outputs.
    c.vq.restart_threshold = 0.5
    c.compare_no_restarts = True  # also train a twin without restarts

    c.optim = ml_collections.ConfigDict()
    c.optim.optimizer = "adam"
    c.optim.learning_rate = 1e-3
    c.optim.warmup_steps = 100
    c.optim.schedule = "cosine"
    c.optim.num_steps = c.get_ref("num_steps")
    c.optim.grad_clip_norm = 100.0
    c.optim.b1 = 0.9
    c.optim.b2 = 0.999
    c.optim.eps = 1e-8
    c.optim.ema_decay = 0.0  # evaluate the trained weights with their own codebook

    c.prior = ml_collections.ConfigDict()
    c.prior.num_steps = 3000
    c.prior.batch_size = 64
    c.prior.features = 64
    c.prior.depth = 2
    c.prior.num_heads = 4
    c.prior.dropout = 0.1
    c.prior.checkpoint_every = 3000
    c.prior.log_every = 250
    c.prior.progress = False
    c.prior.optim = ml_collections.ConfigDict()
    c.prior.optim.optimizer = "adamw"
    c.prior.optim.learning_rate = 1e-3
    c.prior.optim.weight_decay = 1e-2
    c.prior.optim.warmup_steps = 100
    c.prior.optim.schedule = "cosine"
    c.prior.optim.num_steps = c.prior.get_ref("num_steps")
    c.prior.optim.grad_clip_norm = 1.0
    c.prior.optim.ema_decay = 0.99
    c.prior.temperature = 1.0

    c.eval = ml_collections.ConfigDict()
    c.eval.score_samples = True  # fd_digits of the prior's samples, with floor and noise
    c.eval.num_samples = 1000  # gendiff.eval.NUM_SAMPLES
    c.eval.sample_batch = 500

    c.distributed = distributed()
    return c


def mnist() -> ml_collections.ConfigDict:
    """The same on 28x28 MNIST (the t10k split: 8,000 train / 2,000 test), 7x7 code grid."""
    c = digits()
    c.dataset = "mnist_idx_t10k"
    c.data_dir = ""  # the directory of the t10k IDX files: --config.data_dir=DIR
    c.model.channels = (32, 64)  # 28 -> 14 -> 7
    c.eval.score_samples = False  # no digit features for 28x28; see prior_samples.png
    return c


PRESETS = {"cpu": digits, "digits": digits, "mnist": mnist}


def get_config(preset: str = "digits") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
