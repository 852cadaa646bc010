"""Gaussian paths x_t = alpha(t) x_0 + sigma(t) eps (DESIGN.md §2)."""

from gendiff.paths.base import GaussianPath
from gendiff.paths.continuous import LinearBetaPath, SubVPPath, VEPath, VPPath
from gendiff.paths.discrete import DiscreteVPPath
from gendiff.paths.grid import SPACINGS, time_grid
from gendiff.paths.linear import EDMPath, RectifiedFlowPath
from gendiff.paths.schedules import cosine_betas, linear_betas, make_betas

__all__ = [
    "GaussianPath",
    "DiscreteVPPath",
    "LinearBetaPath",
    "VPPath",
    "SubVPPath",
    "VEPath",
    "EDMPath",
    "RectifiedFlowPath",
    "linear_betas",
    "cosine_betas",
    "make_betas",
    "SPACINGS",
    "time_grid",
]
