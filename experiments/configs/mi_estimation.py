"""Presets for experiments/mi_estimation.py (Poole et al. 2019's staircase of true MI).

python -m experiments.mi_estimation                          # d = 20, batch 128, 2..10 nats
python -m experiments.mi_estimation --config.num_steps=20000
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup


def cpu() -> ml_collections.ConfigDict:
    """Four separable critics (InfoNCE, NWJ, JS, MINE) trained side by side on one stream of
    correlated Gaussians whose MI steps through 2, 4, 6, 8, 10 nats."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dim = 20  # d of x and y
    c.batch_size = 128  # N: InfoNCE is at most log N = 4.85 nats
    c.mi_levels = (2.0, 4.0, 6.0, 8.0, 10.0)  # true MI of each stage, nats
    c.num_steps = 10000  # split evenly over the levels (Poole et al.: 4000 steps per level)
    c.estimators = ("infonce", "nwj", "js", "mine")
    c.mine_decay = 0.99  # MINE's moving average of E_Q[e^f] (Belghazi et al.: rate 0.01)
    c.tail_fraction = 0.25  # the table averages the last quarter of each stage
    c.score_clip = 100.0  # critic values pass through 100 tanh(f / 100) (e^f must not overflow)
    c.checkpoint_every = c.get_ref("num_steps")
    c.log_every = 5  # every 5th step's estimates go to metrics.jsonl (plot and table)
    c.progress = False

    c.critic = ml_collections.ConfigDict()
    c.critic.hidden = 256
    c.critic.depth = 2
    c.critic.embed_dim = 32
    c.critic.marginal_terms = False  # add a(x) + b(y) to g(x).h(y)

    c.optim = ml_collections.ConfigDict()
    c.optim.learning_rate = 2e-3  # peak of the cosine decay within each level
    c.optim.exp_learning_rate = 5e-4  # the peak for NWJ and MINE (Poole et al.'s rate)
    c.optim.restart_per_level = True
    c.optim.ema_decay = 0.0  # unused: the estimates are those of the trained critics

    c.distributed = distributed()
    return c


PRESETS = {"cpu": cpu}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
