"""Presets for experiments/gmm_density.py.

python -m experiments.gmm_density                      # the 8x8 digits, seconds
python -m experiments.gmm_density --config.covariance_type=diag
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup
from gendiff.eval import NUM_SAMPLES


def cpu() -> ml_collections.ConfigDict:
    """Full-covariance mixtures of 4-32 components on the dequantised 8x8 digits, the number of
    components picked on a validation fifth of the training split."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dataset = "digits"
    c.data_dir = ""
    c.num_components = (4, 8, 16, 32)  # candidates; the best on validation is refitted
    c.covariance_type = "full"  # 'full', 'tied', 'diag' or 'spherical'
    c.reg_covar = 1e-3  # added to every covariance's diagonal
    c.num_iters = 100  # EM iterations (at most)
    c.num_restarts = 3  # k-means++ initialisations, vmapped; the best training fit is kept
    c.num_copies = 4  # dequantised copies of every training image the mixture is fitted to
    c.val_fraction = 0.2

    c.eval = ml_collections.ConfigDict()
    c.eval.num_samples = NUM_SAMPLES
    c.eval.sample_batch = NUM_SAMPLES
    c.eval.inception_weights = ""
    c.eval.inception_reference = ""

    c.distributed = distributed()
    return c


PRESETS = {"cpu": cpu, "digits": cpu}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
