"""Presets for experiments/dann.py.

Override any field with ``--config.FIELD=VALUE``:

  python -m experiments.dann --preset moons           # rotated two moons, about a minute
  python -m experiments.dann --preset digits          # digits -> textured digits, a few minutes
  python -m experiments.dann --preset mnist --config.data_dir=DIR  # MNIST -> textured MNIST
  python -m experiments.dann --preset moons --config.dann.schedule=constant
"""

from __future__ import annotations

import ml_collections

from experiments.configs import distributed, lookup

DOMAINS = ("moons", "digits")
ARMS = ("source_only", "dann", "oracle")
IMAGE_DATASETS = ("digits", "mnist_idx_t10k")
SCHEDULES = ("ganin", "constant")


def _optim(learning_rate: float, num_steps_ref) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.optimizer = "adam"  # gendiff.train.make_optimizer
    c.learning_rate = learning_rate
    c.b1 = 0.9
    c.b2 = 0.999
    c.eps = 1e-8
    c.warmup_steps = 0
    c.schedule = "constant"
    c.num_steps = num_steps_ref
    c.grad_clip_norm = 0.0
    c.weight_decay = 0.0
    c.ema_decay = 0.99  # the scored parameters are the EMA
    return c


def _common(domain: str) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.domain = domain  # one of DOMAINS
    c.seed = 0  # training seeds are seed, seed + 1, ... (initialisation and batch order)
    c.num_seeds = 5
    c.data_seed = 0  # the data (moons samples, textures) are the same for every seed
    c.arms = ARMS  # which of source_only, dann, oracle to train
    c.checkpoint_every = 1_000_000  # only at the end
    c.log_every = 200
    c.progress = False

    # DANN: loss = CE(source labels) + domain_weight * BCE(domain | R_lambda(features)),
    # lambda = lambda_max * (2 / (1 + exp(-gamma p)) - 1) at training progress p ("ganin",
    # Ganin et al. 2016, section 5.2.2, gamma = 10) or lambda_max throughout ("constant").
    c.dann = ml_collections.ConfigDict()
    c.dann.lambda_max = 1.0
    c.dann.schedule = "ganin"
    c.dann.gamma = 10.0
    c.dann.domain_weight = 1.0
    c.distributed = distributed()
    return c


def moons() -> ml_collections.ConfigDict:
    """Two moons; the target domain rotated by 30 degrees (Ganin et al. 2016, section 5.1)."""
    c = _common("moons")
    c.degrees = 30.0
    c.num_train = 1000  # per domain (target labels are used by the oracle only)
    c.num_test = 2000
    c.num_steps = 6000
    c.batch_size = 64  # per domain: a step sees 64 source and 64 target rows
    c.model = ml_collections.ConfigDict()
    c.model.widths = (64, 64)  # gendiff.nets.FeatureMLP
    # Measured on 2 seeds (target accuracy of DANN): domain classifier (64,), lr 1e-3, 3000
    # steps: 0.86 +- 0.07; constant lambda: 0.88; (64, 64), lr 3e-4, 6000 steps: 0.97.
    c.model.domain_widths = (64, 64)
    c.model.label_widths = ()  # a linear label classifier on the features
    c.optim = _optim(3e-4, c.get_ref("num_steps"))
    return c


def digits() -> ml_collections.ConfigDict:
    """sklearn digits (grey, 3 channels) -> the same digits blended onto colour textures."""
    c = _common("digits")
    c.dataset = "digits"  # one of IMAGE_DATASETS; the target is the same images on textures
    c.data_dir = ""  # the IDX files' directory, for 'mnist_idx_t10k'
    c.texture_max_level = 0.6  # texture colours in [0, max]^3 (gendiff.data.domains)
    c.num_steps = 2000
    c.batch_size = 64
    c.model = ml_collections.ConfigDict()
    # "conv": gendiff.nets.ConvFeatures (conv + max pool per entry of channels, flattened),
    # after Ganin et al.'s MNIST network; "image_classifier": gendiff.nets.ImageClassifier's
    # features (conv, strided conv, dense).
    # Measured on one seed (target accuracy, source-only / DANN): image_classifier (16, 32)
    # with a linear label classifier 0.627 / 0.624 (also with lambda_max 0.3 or 3, a deeper,
    # linear or no-hidden domain classifier, cosine learning rate: DANN 0.58-0.63); conv
    # (32, 48) with label classifier (100, 100): 0.652 / 0.663. This preset over 5 seeds:
    # source-only 0.669 +- 0.020, DANN 0.666 +- 0.013, oracle 0.862 +- 0.008 (no gain).
    c.model.extractor = "conv"
    c.model.channels = (32, 48)
    c.model.feature_dim = 128  # image_classifier only
    c.model.dropout_rate = 0.0  # image_classifier only
    c.model.domain_widths = (100,)
    c.model.label_widths = (100, 100)
    c.optim = _optim(1e-3, c.get_ref("num_steps"))
    return c


def mnist() -> ml_collections.ConfigDict:
    """MNIST (the t10k split: 8,000 train / 2,000 test) -> the same digits on colour textures,
    closest to Ganin et al.'s MNIST -> MNIST-M (their 5x5 convolutions; 3x3 here).

    python -m experiments.dann --preset mnist --config.data_dir=/path/to/mnist
    """
    c = digits()
    c.dataset = "mnist_idx_t10k"
    return c


# "cpu" is the preset the command line picks without --preset: the moons.
PRESETS = {"moons": moons, "digits": digits, "mnist": mnist, "cpu": moons}


def get_config(preset: str = "moons") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
