"""Presets for experiments/rbm.py.

Override any field with ``--config.FIELD=VALUE``:

  python -m experiments.rbm                          # 8x8 digits, 16 hidden units: ~1 minute
  # binarised MNIST t10k split (DIR: the IDX files), exact log Z: ~7 min train + ~25 min AIS
  python -m experiments.rbm --preset mnist16 --config.data_dir=DIR
  # 500 hidden units, log Z by AIS: ~50 min
  python -m experiments.rbm --preset mnist500 --config.data_dir=DIR
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup
from gendiff.eval import NUM_SAMPLES


def cpu() -> ml_collections.ConfigDict:
    """16 hidden units on sklearn's 8x8 digits binarised at mid-grey (64 visible units)."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dataset = "digits"  # images, binarised at mid-grey (pixel > 0.5)
    c.data_dir = ""
    c.num_hidden = 16
    # Training rules, each a separate RBM from the same initialisation: 'cdK' (contrastive
    # divergence with K Gibbs sweeps from the data) or 'pcdK' (persistent chains, K sweeps).
    c.methods = ("cd1", "cd10", "pcd1")
    c.num_steps = 3000
    c.batch_size = 100
    c.checkpoint_every = 3000
    c.log_every = 500
    c.progress = False
    c.init_scale = 0.01  # W ~ N(0, init_scale^2); visible biases at the data's base rates
    c.pcd_chains = 100  # persistent chains (started at training images)

    c.optim = ml_collections.ConfigDict()
    c.optim.optimizer = "adam"
    c.optim.learning_rate = 0.01
    c.optim.warmup_steps = 0
    c.optim.schedule = "cosine"  # decays to 0: PCD needs a falling learning rate
    c.optim.num_steps = c.get_ref("num_steps")
    c.optim.grad_clip_norm = 0.0
    c.optim.weight_decay = 0.0
    c.optim.b1 = 0.9
    c.optim.b2 = 0.999
    c.optim.eps = 1e-8
    c.optim.ema_decay = 0.0  # evaluate the last parameters

    c.eval = ml_collections.ConfigDict()
    c.eval.exact = True  # exact log Z when min(visible, hidden) <= 20
    c.eval.ais_chains = 100
    c.eval.ais_betas = 14_500  # Salakhutdinov & Murray (2008)
    c.eval.reverse_ais = True  # from exact samples (<= 16 hidden) or long Gibbs chains
    # Gibbs sweeps of the model samples (chains from the base-rate model) and of the reverse-AIS
    # start (chains from test images) when there are more than 16 hidden units.
    c.eval.gibbs_sweeps = 1000
    c.eval.num_samples = NUM_SAMPLES  # model samples, scored like every image experiment's
    c.eval.sample_batch = 1000

    c.distributed = distributed()
    return c


def mnist16() -> ml_collections.ConfigDict:
    """16 hidden units on the binarised MNIST t10k split (8,000 train / 2,000 test)."""
    c = cpu()
    c.dataset = "mnist_idx_t10k"
    c.data_dir = ""  # the directory of the t10k IDX files: --config.data_dir=DIR
    c.num_steps = 8000  # 100 epochs of the 8,000 training images
    c.checkpoint_every = 8000
    c.log_every = 1000
    # The PCD model is peaked, so its AIS weights are heavy-tailed: 400 chains x 14,500
    # temperatures left it 0.121 nats below the exact log Z; 1,000 x 29,000 gave 0.069 and
    # -0.004 with two keys (3 s.e. 0.15 and 0.13; measured), at ~8 min per model.
    c.eval.ais_chains = 1000
    c.eval.ais_betas = 29_000
    return c


def mnist500() -> ml_collections.ConfigDict:
    """500 hidden units on the binarised MNIST t10k split; log Z by AIS and reverse AIS."""
    c = mnist16()
    c.num_hidden = 500
    c.optim.learning_rate = 1e-3
    c.eval.ais_chains = 100
    c.eval.ais_betas = 14_500  # Salakhutdinov & Murray (2008)
    return c


PRESETS = {"cpu": cpu, "digits": cpu, "mnist16": mnist16, "mnist500": mnist500}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
