"""Presets for experiments/gmm.py.

Override any field with ``--config.FIELD=VALUE``:

  python -m experiments.gmm                               # ~1 minute on 2 CPU cores
  python -m experiments.gmm --config.num_inits=2000
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup


def cpu() -> ml_collections.ConfigDict:
    """Jin et al. (2016) on the notes' 1-D mixture (F3:190-249), 8 separations."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    # True centres -R, R, gamma R with unit variances and equal weights (F3:194).
    c.separations = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)  # R
    c.gamma = 10.0
    c.num_points = 3000  # n, a third from each component
    c.num_inits = 500  # random initialisations per R, run together by vmap
    c.init = "data"  # 'data' (each mean a random data point, Jin et al.) or 'gaussian'
    c.num_iters = 500  # EM on the means (weights and variances known), at most
    c.tol = 1e-9
    c.bad_gap = 0.01  # nats per point below EM from the true centres counts as a bad maximum
    c.distributed = distributed()
    return c


PRESETS = {"cpu": cpu}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
