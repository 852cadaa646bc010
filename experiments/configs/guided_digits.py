"""Presets for experiments/guided_digits.py.

python -m experiments.guided_digits                       # cpu: 8x8 digits, about 6 minutes
python -m experiments.guided_digits --config.eval.cfg_scales="(0, 1, 3)"
python -m experiments.guided_digits --preset tiny         # a minute: the tests' run
"""

from __future__ import annotations

import ml_collections

from experiments.configs import ddpm, lookup


def cpu() -> ml_collections.ConfigDict:
    """A class-conditional DDPM (the ddpm cpu preset's U-Net, T = 100) and a noisy classifier.

    The denoiser sees the null label instead of the true one with probability 0.1, so it is
    also the unconditional model; the noisy classifier p(y | x_t, t) is a 0.17M-parameter
    convolutional net trained on the same path.
    """
    c = ddpm.cpu()
    c.optim.ema_warmup = False  # as its README figures were measured (ddpm.cpu warms up)
    del c.sample, c.diffusion.weighting, c.diffusion.snr_gamma  # ddpm-only fields
    c.guidance = ml_collections.ConfigDict()
    c.guidance.label_dropout = 0.1  # p of classifier-free guidance training

    c.classifier = ml_collections.ConfigDict()
    c.classifier.num_steps = 1500
    c.classifier.batch_size = 128
    c.classifier.channels = (32, 64)
    c.classifier.feature_dim = 128
    c.classifier.time_dim = 64
    c.classifier.dropout_rate = 0.1
    c.classifier.optim = ml_collections.ConfigDict(c.optim.to_dict())
    c.classifier.optim.num_steps = c.classifier.get_ref("num_steps")
    c.classifier.optim.ema_decay = 0.99

    c.eval = ml_collections.ConfigDict()
    # Reverse steps of the ancestral sampler on the T = 100 path (0 = all T): 20 steps of 5
    # DDPM steps each keep the nine guided runs of 1000 samples within about two minutes.
    c.eval.num_sampling_steps = 20
    c.eval.samples_per_class = 100
    c.eval.sample_batch = 1000  # samples per compiled sampler call (a multiple of 10 classes)
    c.eval.cfg_scales = (0.0, 0.5, 1.0, 2.0, 4.0)  # classifier-free guidance w
    c.eval.classifier_scales = (0.0, 1.0, 4.0, 10.0)  # classifier guidance s
    return c


def tiny() -> ml_collections.ConfigDict:
    """A few hundred training steps and 100 samples per scale, with EMAs that follow such short
    runs: a minute on a CPU, enough for the tests to check that training beats its baselines
    (noise, guidance scale 0, chance), not to show the figures."""
    c = cpu()
    c.num_steps = 200
    c.checkpoint_every = 100
    c.log_every = 50
    c.progress = False
    c.optim.warmup_steps = 5
    c.optim.ema_decay = 0.5
    c.model.name = "mlp"
    c.model.hidden = 64
    c.model.depth = 1
    c.diffusion.num_diffusion_steps = 25
    c.classifier.channels = (8, 16)
    c.classifier.feature_dim = 32
    c.classifier.time_dim = 16
    c.classifier.num_steps = 200
    c.classifier.optim.warmup_steps = 5
    c.classifier.optim.ema_decay = 0.5
    c.eval.num_sampling_steps = 0
    c.eval.samples_per_class = 10
    c.eval.sample_batch = 100
    c.eval.cfg_scales = (0.0, 2.0)
    c.eval.classifier_scales = (0.0, 4.0)
    return c


PRESETS = {"cpu": cpu, "tiny": tiny}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
