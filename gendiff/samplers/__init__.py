"""Fast deterministic samplers of the probability-flow ODE on any Gaussian path.

EDM's Heun sampler on Karras's noise levels (Karras et al. 2022), singlestep DPM-Solver-1/2/3
(Lu et al. 2022a) and multistep DPM-Solver++(2M) (Lu et al. 2022b). Each takes the model in any
parameterisation and starts from a prior draw or a given x_T (``x_init=``).

:data:`SAMPLERS` maps a name to a function with the common signature
``(key, model_fn, path, shape, *, nfe, prediction="eps", **kwargs)`` that spends at most ``nfe``
model evaluations:

  'edm_heun'             num_steps = (nfe + 1) // 2, i.e. 2 num_steps - 1 <= nfe evaluations;
  'dpm_solver_1/2/3'     exactly nfe evaluations, DPM-Solver-fast of that order (nfe >= order);
  'dpm_solver_pp_2m'     num_steps = nfe.

Example:
  >>> x = SAMPLERS["dpm_solver_3"](key, model_fn, VPPath(), (64, 2), nfe=20)
"""

from __future__ import annotations

import functools

from gendiff.samplers._common import check_count
from gendiff.samplers.dpm_solver import dpm_solver_sample, dpm_solver_update, singlestep_orders
from gendiff.samplers.dpm_solver_pp import dpm_solver_pp_sample
from gendiff.samplers.edm_heun import edm_heun_sample
from gendiff.samplers.grid import SPACINGS, time_steps
from gendiff.samplers.karras import karras_sigmas, karras_times


def _edm_heun_with_nfe(key, model_fn, path, shape, *, nfe: int, prediction="eps", **kwargs):
    check_count("nfe", nfe)
    num_steps = (nfe + 1) // 2
    return edm_heun_sample(
        key, model_fn, path, shape, num_steps=num_steps, prediction=prediction, **kwargs
    )


def _dpm_solver_pp_with_nfe(key, model_fn, path, shape, *, nfe: int, prediction="eps", **kwargs):
    return dpm_solver_pp_sample(
        key, model_fn, path, shape, num_steps=nfe, prediction=prediction, **kwargs
    )


SAMPLERS = {
    "edm_heun": _edm_heun_with_nfe,
    "dpm_solver_1": functools.partial(dpm_solver_sample, order=1),
    "dpm_solver_2": functools.partial(dpm_solver_sample, order=2),
    "dpm_solver_3": functools.partial(dpm_solver_sample, order=3),
    "dpm_solver_pp_2m": _dpm_solver_pp_with_nfe,
}

__all__ = [
    "SAMPLERS",
    "SPACINGS",
    "dpm_solver_pp_sample",
    "dpm_solver_sample",
    "dpm_solver_update",
    "edm_heun_sample",
    "karras_sigmas",
    "karras_times",
    "singlestep_orders",
    "time_steps",
]
