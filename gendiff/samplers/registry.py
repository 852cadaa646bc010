"""SAMPLERS: every sampler of the library by name, behind one signature.

  SAMPLERS[name](key, model_fn, path, shape, *, nfe, prediction="eps", x_init=None,
                 clip_x0=False, denoise_final=True, dtype=None, return_stats=False,
                 **options_and_cond)

- ``nfe`` is the budget of model evaluations; a sampler spends at most that many (the adaptive
  'ode_adaptive' stops with an error if its tolerance needs more).
- ``denoise_final=True`` returns the model's x_0 prediction at the last grid time t_min (the
  convention of score_sde, EDM and diffusers), which costs one of the nfe evaluations;
  ``False`` returns the state x at t_min and spends every evaluation on steps.
- The state is kept in ``x_init``'s dtype, else in ``dtype`` (default float32); the model's
  output is cast to it, so a bfloat16 model runs under a float32 state.
- ``return_stats=True`` returns ``(x, {"nfe": ..., "num_steps": ...})``: the evaluations the run
  used (a traced integer for 'ode_adaptive', whose steps are chosen at run time) and its steps.
- Each sampler's own options (``eta``, ``variance``, ``predictor``, ``corrector``, ``snr``,
  ``spacing``, ``rtol``, ``atol``, ``s_churn``, ...) are keywords; every other keyword is
  conditioning passed on to ``model_fn``.

The budget of each sampler (D = 1 with denoise_final, else 0) and the steps K it buys:

  ancestral, ancestral_large    K = nfe - D reverse steps (beta-tilde / beta variance)
  ddim                          K = nfe - D steps (eta as a keyword, 0 by default)
  euler_maruyama                K = nfe - D reverse-SDE steps
  pc                            K = (nfe - D) // (corrector_steps + 1) predictor-corrector steps
  ode_euler, ode_heun, ode_rk4  K = (nfe - D) // stages probability-flow steps (1, 2, 4 stages)
  ode_adaptive                  diffrax 'tsit5' (``solver=``), rtol/atol, at most nfe evaluations
  edm_heun                      N = (nfe + 1) // 2 levels (2N - 1 evaluations), nfe // 2 without D
  dpm_solver_1/2/3              DPM-Solver-fast with nfe - D evaluations
  dpm_solver_pp_2m/3m/2m_sde    K = nfe - D multistep steps

nfe below a sampler's smallest run (its order plus D) raises ValueError naming the minimum.

Example:
  >>> from gendiff.paths import VPPath
  >>> x = SAMPLERS["dpm_solver_pp_2m"](key, model_fn, VPPath(), (64, 2), nfe=10)
  >>> x, stats = SAMPLERS["ode_adaptive"](key, model_fn, VPPath(), (64, 2), nfe=500,
  ...                                     rtol=1e-4, atol=1e-4, return_stats=True)
  >>> x.shape
  (64, 2)
"""

from __future__ import annotations

import jax

from gendiff.ddim.sample import ddim_sample
from gendiff.ddpm.ancestral import ancestral_sample
from gendiff.paths.base import GaussianPath
from gendiff.samplers.dpm_solver import dpm_solver_sample
from gendiff.samplers.dpm_solver_pp import dpm_solver_pp_sample
from gendiff.samplers.edm_heun import edm_heun_sample
from gendiff.sampling import ModelFn, check_count, check_prediction, initial_state
from gendiff.sde.ode import ADAPTIVE_SOLVERS, TABLEAUX, check_solver, ode_sample
from gendiff.sde.pc_sampler import pc_sample


class UnknownSamplerError(KeyError, ValueError):
    """An unknown name looked up in :data:`SAMPLERS` (both a KeyError and a ValueError)."""

    def __str__(self) -> str:
        return str(self.args[0])


class SamplerRegistry(dict):
    """A dict of samplers whose unknown names raise a ValueError listing the known ones.

    Example:
      >>> from gendiff.samplers import SAMPLERS, SamplerRegistry
      >>> isinstance(SAMPLERS, SamplerRegistry), "ddim" in SAMPLERS
      (True, True)
      >>> registry = SamplerRegistry(euler=print)
      >>> registry["euler"] is print, isinstance(registry, dict)
      (True, True)
      >>> registry["heun"]
      Traceback (most recent call last):
      gendiff.samplers.registry.UnknownSamplerError: Unknown sampler 'heun'; expected one of ('euler',).
    """

    def __missing__(self, name):
        raise UnknownSamplerError(f"Unknown sampler {name!r}; expected one of {tuple(self)}.")


def _budget(name: str, nfe: int, denoise_final: bool, per_step: int = 1, minimum_steps: int = 1):
    """Steps K = (nfe - D) // per_step, after checking nfe >= minimum_steps * per_step + D."""
    extra = int(bool(denoise_final))
    least = minimum_steps * per_step + extra
    reason = f" for {name!r} (its smallest run, with denoise_final={bool(denoise_final)})"
    check_count("nfe", nfe, least, reason=reason)
    return (nfe - extra) // per_step


def _validate(key, path: GaussianPath, shape, x_init, prediction: str, dtype):
    """Checks common to every sampler, before any tracing: prediction, shape, x_init."""
    check_prediction(prediction)
    if len(tuple(shape)) < 2:
        raise ValueError(f"shape must be (batch, ...) with at least one data axis, got {shape}.")
    jax.eval_shape(lambda k, x: initial_state(k, path, shape, x, dtype), key, x_init)


def _stats(x, nfe, num_steps, return_stats):
    return (x, {"nfe": nfe, "num_steps": num_steps}) if return_stats else x


def ancestral(
    key, model_fn, path, shape, *, nfe, prediction="eps", x_init=None, clip_x0=False,
    denoise_final=True, dtype=None, return_stats=False, variance="small", spacing="time", **cond,
):  # fmt: skip
    """DDPM's ancestral sampler (:func:`gendiff.ddpm.ancestral_sample`), one evaluation a step."""
    _validate(key, path, shape, x_init, prediction, dtype)
    steps = _budget("ancestral", nfe, denoise_final)
    x = ancestral_sample(
        key, model_fn, path, shape, num_steps=steps + int(bool(denoise_final)), variance=variance,
        prediction=prediction, clip_x0=clip_x0, x_init=x_init, spacing=spacing,
        denoise_final=denoise_final, dtype=dtype, **cond,
    )  # fmt: skip
    return _stats(x, steps + int(bool(denoise_final)), steps, return_stats)


def ancestral_large(key, model_fn, path, shape, **kwargs):
    """:func:`ancestral` with the 'large' reverse variance beta (Ho et al. 2020, §3.2)."""
    return ancestral(key, model_fn, path, shape, variance="large", **kwargs)


def ddim(
    key, model_fn, path, shape, *, nfe, prediction="eps", x_init=None, clip_x0=False,
    denoise_final=True, dtype=None, return_stats=False, eta=0.0, spacing="time", rho=7.0, **cond,
):  # fmt: skip
    """DDIM (:func:`gendiff.ddim.ddim_sample`) on ``time_grid(path, K, spacing)``, eta keyword."""
    _validate(key, path, shape, x_init, prediction, dtype)
    steps = _budget("ddim", nfe, denoise_final)
    x = ddim_sample(
        key, model_fn, path, shape, num_steps=steps + int(bool(denoise_final)), eta=eta,
        spacing=spacing, prediction=prediction, clip_x0=clip_x0, x_init=x_init,
        denoise_final=bool(denoise_final), rho=rho, dtype=dtype, **cond,
    )  # fmt: skip
    return _stats(x, steps + int(bool(denoise_final)), steps, return_stats)


def _pc(name, predictor, corrector):
    def sample(
        key, model_fn, path, shape, *, nfe, prediction="eps", x_init=None, clip_x0=False,
        denoise_final=True, dtype=None, return_stats=False, predictor=predictor,
        corrector=corrector, snr=0.16, corrector_steps=1, step_rule="noise", spacing="time",
        **cond,
    ):  # fmt: skip
        _validate(key, path, shape, x_init, prediction, dtype)
        check_count("corrector_steps", corrector_steps)
        per_step = (corrector_steps if corrector == "langevin" else 0) + int(predictor != "none")
        steps = _budget(name, nfe, denoise_final, max(per_step, 1))
        x = pc_sample(
            key, model_fn, path, shape, num_steps=steps, predictor=predictor,
            corrector=corrector, snr=snr, corrector_steps=corrector_steps, step_rule=step_rule,
            denoise=bool(denoise_final), prediction=prediction, spacing=spacing, x_init=x_init,
            clip_x0=clip_x0, dtype=dtype, **cond,
        )  # fmt: skip
        return _stats(x, steps * per_step + int(bool(denoise_final)), steps, return_stats)

    sample.__name__ = name
    sample.__doc__ = (
        f"The predictor-corrector sampler (:func:`gendiff.sde.pc_sample`), predictor={predictor!r}"
        f", corrector={corrector!r} by default."
    )
    return sample


def _ode(solver_name):
    def sample(
        key, model_fn, path, shape, *, nfe, prediction="eps", x_init=None, clip_x0=False,
        denoise_final=True, dtype=None, return_stats=False, spacing="time", **cond,
    ):  # fmt: skip
        _validate(key, path, shape, x_init, prediction, dtype)
        tableau = TABLEAUX[solver_name]
        steps = _budget(f"ode_{solver_name}", nfe, denoise_final, tableau.stages)
        x, stats = ode_sample(
            key, model_fn, path, shape, prediction=prediction, solver=solver_name,
            num_steps=steps, spacing=spacing, x_init=x_init, dtype=dtype, clip_x0=clip_x0,
            denoise_final=denoise_final, return_stats=True, **cond,
        )  # fmt: skip
        return _stats(x, stats["nfe"], steps, return_stats)

    sample.__name__ = f"ode_{solver_name}"
    sample.__doc__ = (
        f"The probability-flow ODE by the fixed-step {solver_name!r} tableau "
        "(:func:`gendiff.sde.ode_sample`)."
    )
    return sample


def ode_adaptive(
    key, model_fn, path, shape, *, nfe, prediction="eps", x_init=None, clip_x0=False,
    denoise_final=True, dtype=None, return_stats=False, solver="tsit5", rtol=1e-5, atol=1e-5,
    **cond,
):  # fmt: skip
    """The probability-flow ODE by diffrax's adaptive ``solver`` (tsit5, dopri5, dopri8).

    The budget nfe caps the solver's steps at (nfe - D - 1) // (evaluations per step); diffrax
    raises at run time if the tolerances need more. ``return_stats=True`` reports the evaluations
    actually used.
    """
    _validate(key, path, shape, x_init, prediction, dtype)
    check_solver(solver, tuple(ADAPTIVE_SOLVERS))
    per_step = ADAPTIVE_SOLVERS[solver][1]
    max_steps = _budget("ode_adaptive", nfe - 1, denoise_final, per_step)
    x, stats = ode_sample(
        key, model_fn, path, shape, prediction=prediction, solver=solver, rtol=rtol, atol=atol,
        max_steps=max_steps, x_init=x_init, dtype=dtype, clip_x0=clip_x0,
        denoise_final=denoise_final, return_stats=True, **cond,
    )  # fmt: skip
    return _stats(x, stats["nfe"], stats["num_steps"], return_stats)


def edm_heun(
    key, model_fn, path, shape, *, nfe, prediction="eps", x_init=None, clip_x0=False,
    denoise_final=True, dtype=None, return_stats=False, rho=7.0, spacing="karras",
    s_churn=0.0, s_tmin=0.0, s_tmax=float("inf"), s_noise=1.0, **cond,
):  # fmt: skip
    """EDM's Heun sampler (:func:`gendiff.samplers.edm_heun_sample`): N = (nfe + 1) // 2 levels,
    2N - 1 evaluations with denoise_final (EDM's Algorithm 1), N = nfe // 2 Heun steps without.

    With very few levels on a path whose noise-to-signal ratio spans several decades (``VPPath``:
    sigma / alpha from about 150 to 0.01) the first Karras steps are huge and Heun's corrector
    overshoots: at nfe <= 8 the samples can be far worse than Euler's (measured on two moons in
    notebooks/03_samplers.ipynb). That is the method on that grid, not an error."""
    _validate(key, path, shape, x_init, prediction, dtype)
    if denoise_final:
        check_count("nfe", nfe, 1, reason=" for 'edm_heun'")
        steps, used = (nfe + 1) // 2, 2 * ((nfe + 1) // 2) - 1
    else:
        steps = _budget("edm_heun", nfe, False, 2)
        used = 2 * steps
    x = edm_heun_sample(
        key, model_fn, path, shape, num_steps=steps, rho=rho, prediction=prediction,
        s_churn=s_churn, s_tmin=s_tmin, s_tmax=s_tmax, s_noise=s_noise, x_init=x_init,
        clip_x0=clip_x0, denoise_final=bool(denoise_final), spacing=spacing, dtype=dtype, **cond,
    )  # fmt: skip
    return _stats(x, used, steps, return_stats)


def _dpm_solver(order):
    def sample(
        key, model_fn, path, shape, *, nfe, prediction="eps", x_init=None, clip_x0=False,
        denoise_final=True, dtype=None, return_stats=False, spacing="logsnr", rho=7.0, **cond,
    ):  # fmt: skip
        _validate(key, path, shape, x_init, prediction, dtype)
        budget = _budget(f"dpm_solver_{order}", nfe, denoise_final, 1, order)
        x = dpm_solver_sample(
            key, model_fn, path, shape, nfe=budget, order=order, spacing=spacing, rho=rho,
            prediction=prediction, x_init=x_init, clip_x0=clip_x0,
            denoise_final=bool(denoise_final), dtype=dtype, **cond,
        )  # fmt: skip
        return _stats(x, budget + int(bool(denoise_final)), budget, return_stats)

    sample.__name__ = f"dpm_solver_{order}"
    sample.__doc__ = f"Singlestep DPM-Solver-{order} (:func:`gendiff.samplers.dpm_solver_sample`)."
    return sample


def _dpm_solver_pp(method):
    def sample(
        key, model_fn, path, shape, *, nfe, prediction="eps", x_init=None, clip_x0=False,
        denoise_final=True, dtype=None, return_stats=False, spacing="logsnr", rho=7.0, **cond,
    ):  # fmt: skip
        _validate(key, path, shape, x_init, prediction, dtype)
        steps = _budget(f"dpm_solver_pp_{method}", nfe, denoise_final)
        x = dpm_solver_pp_sample(
            key, model_fn, path, shape, num_steps=steps, method=method, spacing=spacing,
            rho=rho, prediction=prediction, clip_x0=clip_x0, x_init=x_init,
            denoise_final=bool(denoise_final), dtype=dtype, **cond,
        )  # fmt: skip
        return _stats(x, steps + int(bool(denoise_final)), steps, return_stats)

    sample.__name__ = f"dpm_solver_pp_{method}"
    sample.__doc__ = (
        f"Multistep DPM-Solver++({method.upper()}) (:func:`gendiff.samplers.dpm_solver_pp_sample`)."
    )
    return sample


SAMPLERS: dict[str, ModelFn] = SamplerRegistry(
    ancestral=ancestral,
    ancestral_large=ancestral_large,
    ddim=ddim,
    euler_maruyama=_pc("euler_maruyama", "euler_maruyama", "none"),
    pc=_pc("pc", "reverse_diffusion", "langevin"),
    ode_euler=_ode("euler"),
    ode_heun=_ode("heun"),
    ode_rk4=_ode("rk4"),
    ode_adaptive=ode_adaptive,
    edm_heun=edm_heun,
    dpm_solver_1=_dpm_solver(1),
    dpm_solver_2=_dpm_solver(2),
    dpm_solver_3=_dpm_solver(3),
    dpm_solver_pp_2m=_dpm_solver_pp("2m"),
    dpm_solver_pp_3m=_dpm_solver_pp("3m"),
    dpm_solver_pp_2m_sde=_dpm_solver_pp("2m_sde"),
)
# Samplers with no randomness after the prior draw: the map from x_init to the sample is the
# probability-flow ODE's, up to discretisation.
DETERMINISTIC = (
    "ddim", "ode_euler", "ode_heun", "ode_rk4", "ode_adaptive", "edm_heun",
    "dpm_solver_1", "dpm_solver_2", "dpm_solver_3", "dpm_solver_pp_2m", "dpm_solver_pp_3m",
)  # fmt: skip
