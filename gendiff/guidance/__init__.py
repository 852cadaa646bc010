"""Guidance of conditional diffusion models, and a diffusion model used as a classifier.

- classifier_free: label dropout (and its denoising loss) and classifier-free guidance (Ho & Salimans 2022).
- classifier: noisy-classifier training loss and classifier guidance (Dhariwal & Nichol 2021).
- diffusion_classifier: zero-shot classification by denoising error (Li et al. 2023).
"""

from gendiff.guidance.classifier import classifier_guidance, noisy_classifier_loss
from gendiff.guidance.classifier_free import (
    classifier_free_guidance,
    drop_labels,
    label_dropout_denoising_loss,
)
from gendiff.guidance.diffusion_classifier import diffusion_classifier_logits

__all__ = [
    "classifier_free_guidance",
    "classifier_guidance",
    "diffusion_classifier_logits",
    "drop_labels",
    "label_dropout_denoising_loss",
    "noisy_classifier_loss",
]
