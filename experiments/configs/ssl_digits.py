"""Presets for experiments/ssl_digits.py (SimCLR, MAE, JEPA on a conv or ViT encoder; one linear probe).

python -m experiments.ssl_digits --config.method=simclr            # 8x8 digits
python -m experiments.ssl_digits --preset mnist --config.data_dir=DIR --config.method=jepa
for m in pixels random simclr mae jepa jepa_joint supervised; do
  python -m experiments.ssl_digits --config.method=$m --workdir runs/ssl_digits/$m; done
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup


def cpu() -> ml_collections.ConfigDict:
    """The convolutional encoder (16 tokens of 2x2 pixels: 8 -> 4, 32/64 channels, width 64;
    ``encoder.kind='vit'`` gives a ViT with the same tokens) on sklearn's 8x8 digits, 800
    steps at batch 128 (71 epochs)."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dataset = "digits"
    c.data_dir = ""
    # 'pixels' and 'random' are the baselines (no training), 'supervised' the upper bound;
    # 'jepa_joint' is the lecture notes' JEPA (all networks trained jointly, no EMA).
    c.method = "simclr"
    c.num_steps = 800
    c.batch_size = 128
    c.checkpoint_every = c.get_ref("num_steps")
    c.log_every = 100
    c.progress = False

    c.encoder = ml_collections.ConfigDict()
    c.encoder.kind = "conv"  # or "vit" (gendiff.nets.ViTEncoder)
    c.encoder.channels = 32  # conv only: filters of the first convolution
    c.encoder.patch_size = 2
    c.encoder.width = 64  # the embedding size E: features are the mean of the tokens
    c.encoder.depth = 1  # conv: 3x3 convolutions on the patch grid; vit: transformer blocks
    c.encoder.num_heads = 4

    c.predictor = ml_collections.ConfigDict()  # MAE's decoder and JEPA's predictor
    c.predictor.width = 64
    c.predictor.depth = 2
    c.predictor.num_heads = 4

    c.augment = ml_collections.ConfigDict()  # SimCLR's views and the supervised baseline
    c.augment.crop_min_scale = 0.6
    c.augment.max_shift = 1
    c.augment.max_degrees = 15.0
    c.augment.cutout_size = 0
    c.augment.noise_std = 0.1

    c.simclr = ml_collections.ConfigDict()
    c.simclr.temperature = 0.2
    c.simclr.projection_dim = 64
    c.simclr.projection_hidden = 128

    c.mae = ml_collections.ConfigDict()
    c.mae.mask_ratio = 0.5
    c.mae.mask_kind = "random"
    c.mae.normalize_target = False  # MAE's normalised-pixel target (per-patch standardised)

    c.jepa = ml_collections.ConfigDict()
    c.jepa.target_ratio = 0.25
    c.jepa.context_ratio = 0.5
    c.jepa.momentum_start = 0.996  # I-JEPA's EMA momentum, ramped linearly to momentum_end
    c.jepa.momentum_end = 1.0
    c.jepa.normalize_targets = True
    # C-JEPA's regulariser on the pooled features (gendiff.ssl.variance_covariance_loss);
    # 0 and 0 give plain I-JEPA. Not applied to 'jepa_joint' (the notes' loss alone).
    # Digits, 800 steps (measured): effective rank of the test features / probe accuracy
    # 6.7 / 95.5% plain, 30.1 / 96.7% at (25, 50), 38.4 / 96.4% at (50, 500), 42.2 / 95.3%
    # at (100, 2000) of 64 dimensions.
    c.jepa.variance_weight = 50.0
    c.jepa.covariance_weight = 500.0
    # True: the terms on the features over their root mean variance (scale_free of
    # variance_covariance_loss), which act whatever the features' scale. Measured: digits
    # (50, 5) 49.1 / 96.1%, (50, 20) 52.3 / 95.3%; on MNIST (50, 2) and (50, 5) flatten the
    # features (rank at the bound, probe 77.9% and 73.8%, below the random encoder).
    c.jepa.scale_free = False

    c.probe = ml_collections.ConfigDict()
    c.probe.l2_grid = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
    c.probe.val_fraction = 0.2
    c.probe.max_iter = 1000

    c.optim = ml_collections.ConfigDict()
    c.optim.optimizer = "adamw"
    c.optim.learning_rate = 1e-3
    c.optim.warmup_steps = 100
    c.optim.schedule = "cosine"
    c.optim.num_steps = c.get_ref("num_steps")
    c.optim.grad_clip_norm = 1.0
    c.optim.weight_decay = 0.05
    c.optim.b1 = 0.9
    c.optim.b2 = 0.999
    c.optim.eps = 1e-8
    c.optim.ema_decay = 0.0  # the probe uses the last iterate

    c.distributed = distributed()
    return c


def mnist() -> ml_collections.ConfigDict:
    """The local MNIST split (the t10k IDX files: 8,000 train / 2,000 test by a fixed
    permutation): the convolutional encoder on a 7x7 grid of 4x4-pixel patches (28 -> 14 -> 7,
    16/32/64 channels, then three 3x3 convolutions on the grid, so that a token sees the whole
    digit), 64-dimensional tokens, 600 steps at batch 256 (19 epochs).

    The three grid convolutions decide the probe (measured, 600 steps, 128-dimensional
    tokens): the supervised encoder probes at 96.6% with one and 98.3% with three, SimCLR at
    94.6% and 97.0%. The tokens are 64-dimensional because the grid has 64 channels: wider
    tokens span no more dimensions (gendiff.nets.ConvTokenEncoder), so that 128-dimensional
    features had an effective rank of at most 64 (JEPA's reached 43.0 at weights (50, 500),
    58.1 at (200, 5,000) and 62.9 at (200, 20,000), with probes of 90.5%, 86.7% and 86.0%)."""
    c = cpu()
    c.dataset = "mnist_idx_t10k"
    c.data_dir = ""  # the directory of the t10k IDX files: --config.data_dir=DIR
    c.num_steps = 600
    c.batch_size = 256
    c.encoder.kind = "conv"
    c.encoder.patch_size = 4
    c.encoder.width = 64  # the grid's channels: channels * 2^2
    c.encoder.channels = 16
    c.encoder.depth = 3
    c.augment.max_shift = 2
    c.augment.crop_min_scale = 0.5
    c.mae.normalize_target = True
    return c


PRESETS = {"cpu": cpu, "mnist": mnist}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
