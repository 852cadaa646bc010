"""Presets for experiments/diffusion_classifier.py.

python -m experiments.diffusion_classifier --config.denoiser_workdir=runs/guided_digits
python -m experiments.diffusion_classifier              # trains its own guided_digits model
python -m experiments.diffusion_classifier --preset tiny
"""

from __future__ import annotations

import ml_collections

from experiments.configs import guided_digits, lookup


def _with_classification(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    # Where a finished guided_digits run keeps its denoiser; "" = train one in this workdir.
    # The model and diffusion fields must be those of that run.
    c.denoiser_workdir = ""
    c.classify = ml_collections.ConfigDict()
    c.classify.num_test = 300  # test images classified (the first ones of the test split)
    c.classify.num_samples = (8, 32, 128)  # (t, eps) draws per image, multiples of draws_per_call
    c.classify.draws_per_call = 8  # draws per compiled call; the estimates are running means
    c.classify.image_batch = 50  # images per call (the network sees image_batch * 10 rows)
    return c


def cpu() -> ml_collections.ConfigDict:
    """The guided_digits cpu model, classifying 300 test digits with up to 128 draws each."""
    return _with_classification(guided_digits.cpu())


def tiny() -> ml_collections.ConfigDict:
    """guided_digits' tiny model and 100 test images: for the tests."""
    c = _with_classification(guided_digits.tiny())
    c.classify.num_test = 100
    c.classify.num_samples = (2, 4)
    c.classify.draws_per_call = 2
    c.classify.image_batch = 10
    return c


PRESETS = {"cpu": cpu, "tiny": tiny}


def get_config(preset: str = "cpu") -> ml_collections.ConfigDict:
    """The config of a named preset; raises ValueError listing the presets otherwise."""
    return lookup(PRESETS, preset)
