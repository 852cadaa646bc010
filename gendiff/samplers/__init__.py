"""Every sampler of the library behind one signature (:data:`SAMPLERS`), and the fast PF-ODE
samplers that live here: EDM's Heun sampler (Karras et al. 2022), singlestep DPM-Solver-1/2/3
(Lu et al. 2022a) and multistep DPM-Solver++(2M), (3M) and (2M)-SDE (Lu et al. 2022b).

Example:
  >>> from gendiff.paths import VPPath
  >>> x = SAMPLERS["dpm_solver_3"](key, model_fn, VPPath(), (64, 2), nfe=20)
  >>> x = SAMPLERS["ddim"](key, model_fn, VPPath(), (64, 2), nfe=50, eta=0.5)
  >>> x.shape
  (64, 2)
"""

from __future__ import annotations

from gendiff.paths.grid import SPACINGS, karras_sigmas, time_grid
from gendiff.samplers.dpm_solver import dpm_solver_sample, dpm_solver_update, singlestep_orders
from gendiff.samplers.dpm_solver_pp import METHODS, dpm_solver_pp_sample, dpm_solver_pp_update
from gendiff.samplers.edm_heun import edm_heun_sample
from gendiff.samplers.registry import DETERMINISTIC, SAMPLERS, SamplerRegistry

__all__ = [
    "DETERMINISTIC",
    "METHODS",
    "SAMPLERS",
    "SPACINGS",
    "SamplerRegistry",
    "dpm_solver_pp_sample",
    "dpm_solver_pp_update",
    "dpm_solver_sample",
    "dpm_solver_update",
    "edm_heun_sample",
    "karras_sigmas",
    "singlestep_orders",
    "time_grid",
]
