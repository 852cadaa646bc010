"""Linear state-space sequence models: HiPPO, discretisation, kernels and the selective scan."""

from gendiff.ssm.discretize import DISCRETIZATIONS, discretize
from gendiff.ssm.dplr import kernel_dplr, nplr_legs
from gendiff.ssm.hippo import hippo_legs
from gendiff.ssm.kernels import causal_conv, kernel_naive, kernel_vandermonde, scan_ssm
from gendiff.ssm.selective_scan import METHODS, resolve_method, selective_scan

__all__ = [
    "DISCRETIZATIONS",
    "discretize",
    "hippo_legs",
    "causal_conv",
    "kernel_naive",
    "kernel_vandermonde",
    "kernel_dplr",
    "nplr_legs",
    "scan_ssm",
    "METHODS",
    "resolve_method",
    "selective_scan",
]
