"""Denoising diffusion probabilistic models (Ho et al. 2020) on any Gaussian path."""

from gendiff.ddpm.ancestral import ancestral_sample, ancestral_step, predict_x0
from gendiff.ddpm.loss import denoising_loss, min_snr_weight
from gendiff.ddpm.posterior import (
    posterior,
    posterior_mean,
    posterior_variance,
    reverse_variance,
    transition_variance,
)
from gendiff.ddpm.vlb import prior_kl, variational_bound

__all__ = [
    "ancestral_sample",
    "ancestral_step",
    "predict_x0",
    "denoising_loss",
    "min_snr_weight",
    "posterior",
    "posterior_mean",
    "posterior_variance",
    "reverse_variance",
    "transition_variance",
    "prior_kl",
    "variational_bound",
]
