"""Divergences and distances: discrete f-divergences (with conjugates for f-GAN), Gaussian
closed forms, any f-divergence between 1-D densities by quadrature, exact 1-D Wasserstein
distances and the Fisher divergence of two scores."""

from gendiff.divergences.discrete import (
    chi2_divergence,
    f_divergence,
    hellinger_distance,
    js_divergence,
    kl_divergence,
    tv_distance,
)
from gendiff.divergences.f_divergences import (
    F_DIVERGENCES,
    FDivergence,
    alpha_divergence,
    get_f_divergence,
)
from gendiff.divergences.fisher import fisher_divergence
from gendiff.divergences.gaussian import (
    gaussian_js_1d,
    gaussian_kl,
    gaussian_kl_diag,
    gaussian_w2,
    gaussian_w2_diag,
)
from gendiff.divergences.quadrature import f_divergence_on_grid
from gendiff.divergences.wasserstein import wasserstein_1d

__all__ = [
    "F_DIVERGENCES",
    "FDivergence",
    "alpha_divergence",
    "chi2_divergence",
    "f_divergence",
    "f_divergence_on_grid",
    "fisher_divergence",
    "gaussian_js_1d",
    "gaussian_kl",
    "gaussian_kl_diag",
    "gaussian_w2",
    "gaussian_w2_diag",
    "get_f_divergence",
    "hellinger_distance",
    "js_divergence",
    "kl_divergence",
    "tv_distance",
    "wasserstein_1d",
]
