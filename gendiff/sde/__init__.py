"""SDEs and ODEs of Gaussian paths: forward, reverse-time and probability flow."""

from gendiff.sde.drifts import (
    diffusion,
    forward_drift,
    probability_flow_drift,
    reverse_drift,
    score_fn_from_model,
)

__all__ = [
    "diffusion",
    "forward_drift",
    "probability_flow_drift",
    "reverse_drift",
    "score_fn_from_model",
]
