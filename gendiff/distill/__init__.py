"""Distillation: of a classifier into a smaller one (Hinton et al. 2015), and of a diffusion
sampler into one taking half the steps, round after round (Salimans & Ho 2022)."""

from gendiff.distill.knowledge import distillation_loss
from gendiff.distill.progressive import (
    check_num_student_steps,
    progressive_distillation_loss,
    student_target,
)

__all__ = [
    "check_num_student_steps",
    "distillation_loss",
    "progressive_distillation_loss",
    "student_target",
]
