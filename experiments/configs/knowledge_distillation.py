"""Presets for experiments/knowledge_distillation.py.

Override any field with ``--config.FIELD=VALUE``:

  python -m experiments.knowledge_distillation                  # 8x8 digits, 1-2 minutes
  python -m experiments.knowledge_distillation --config.kd.temperature=2.0
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup


def _classifier(channels: tuple[int, ...], feature_dim: int, dropout_rate: float):
    c = ml_collections.ConfigDict()
    c.channels = channels  # gendiff.nets.ImageClassifier convolution widths
    c.feature_dim = feature_dim
    c.dropout_rate = dropout_rate
    return c


def cpu() -> ml_collections.ConfigDict:
    """A 72k-parameter CNN teacher and a 2.5k-parameter student on sklearn's 8x8 digits."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dataset = "digits"  # a labelled image dataset, see gendiff.data.load
    c.data_dir = ""
    c.num_steps = 600  # per network: the teacher and each student
    c.batch_size = 64
    c.checkpoint_every = 600
    c.log_every = 100
    c.progress = False

    c.teacher = _classifier((16, 32), 128, 0.1)
    c.student = _classifier((4, 8), 16, 0.0)
    c.num_student_seeds = 3  # students per arm (with / without distillation), initialisations 0..
    # The students learn from the first this many training images (0 = all): with few
    # examples the soft targets act as a regulariser (Hinton et al. 2015, section 4).
    c.student_train_examples = 300

    # Hinton et al. (2015): the soft targets at temperature T, weighted by alpha (times T^2).
    c.kd = ml_collections.ConfigDict()
    c.kd.temperature = 4.0
    c.kd.alpha = 0.9

    c.optim = ml_collections.ConfigDict()
    c.optim.optimizer = "adamw"
    c.optim.learning_rate = 3e-3
    c.optim.warmup_steps = 20
    c.optim.schedule = "cosine"
    c.optim.num_steps = c.get_ref("num_steps")
    c.optim.grad_clip_norm = 1.0
    c.optim.weight_decay = 1e-4
    c.optim.b1 = 0.9
    c.optim.b2 = 0.999
    c.optim.eps = 1e-8
    c.optim.ema_decay = 0.99

    c.distributed = distributed()
    return c


PRESETS = {"cpu": cpu}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
