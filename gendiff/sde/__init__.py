"""SDEs and ODEs of Gaussian paths: forward, reverse-time and probability flow."""

from gendiff.sde.drifts import (
    diffusion,
    forward_drift,
    probability_flow_drift,
    reverse_drift,
    score_fn_from_model,
)
from gendiff.sde.euler_maruyama import simulate_forward
from gendiff.sde.likelihood import (
    bits_per_dim,
    dequantize,
    discrete_nll_bound,
    log_likelihood,
    prior_log_prob,
    velocity_and_divergence,
)
from gendiff.sde.ode import SOLVERS, ode_sample, solve_ode, solve_probability_flow
from gendiff.sde.pc_sampler import CORRECTORS, PREDICTORS, pc_sample, tweedie_denoise

__all__ = [
    "bits_per_dim",
    "dequantize",
    "discrete_nll_bound",
    "log_likelihood",
    "prior_log_prob",
    "velocity_and_divergence",
    "diffusion",
    "forward_drift",
    "probability_flow_drift",
    "reverse_drift",
    "score_fn_from_model",
    "simulate_forward",
    "SOLVERS",
    "ode_sample",
    "solve_probability_flow",
    "solve_ode",
    "CORRECTORS",
    "PREDICTORS",
    "pc_sample",
    "tweedie_denoise",
]
