"""Presets for experiments/hmm.py.

Override any field with ``--config.FIELD=VALUE``:

  python -m experiments.hmm                               # under a minute on 2 CPU cores
  python -m experiments.hmm --config.num_sequences=100
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup


def cpu() -> ml_collections.ConfigDict:
    """A 3-state HMM in 2-D with 2-component GMM emissions (F0:3005-3029)."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.num_states = 3
    c.num_mixture_components = 2  # of the true HMM; the fit uses the same number
    c.self_transition = 0.9  # A = self_transition on the diagonal, the rest spread evenly
    c.state_spacing = 2.5  # state k's components sit around 2.5 (cos, sin)(2 pi k / K)
    c.component_offset = 1.0  # the two components of a state are +-1 apart along x0
    c.num_sequences = 40  # training sequences; as many again are held out
    c.length = 100
    c.num_iters = 200
    c.tol = 1e-7
    c.distributed = distributed()
    return c


PRESETS = {"cpu": cpu}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
