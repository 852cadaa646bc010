"""Denoising diffusion implicit models (Song et al. 2021) on any Gaussian path."""

from gendiff.ddim.inversion import ddim_invert
from gendiff.ddim.respacing import SPACINGS, end_time, timesteps
from gendiff.ddim.sample import ddim_sample
from gendiff.ddim.step import check_eta, ddim_mean, ddim_noise_std, ddim_step, predict_x0_eps

__all__ = [
    "ddim_invert",
    "SPACINGS",
    "end_time",
    "timesteps",
    "ddim_sample",
    "check_eta",
    "ddim_mean",
    "ddim_noise_std",
    "ddim_step",
    "predict_x0_eps",
]
