"""Flow matching (Lipman et al. 2023) and rectified flow (Liu et al. 2023) on any Gaussian path.

A network v(x, t) is regressed on the velocity d x_t / dt of the path x_t = alpha(t) x_0 +
sigma(t) x_1 between data x_0 and noise x_1 (:func:`flow_matching_loss`); samples integrate
dx/dt = v(x, t) from noise at t_max down to t_min (:func:`flow_sample`). Reflow retrains on the
(data, noise) pairs a trained flow produces (:func:`reflow_pairs`,
:func:`coupled_flow_matching_loss`), which straightens the flow (:func:`straightness`).
"""

from gendiff.flow_matching.loss import coupled_flow_matching_loss, flow_matching_loss
from gendiff.flow_matching.reflow import reflow_pairs, straightness
from gendiff.flow_matching.sample import flow_sample

__all__ = [
    "coupled_flow_matching_loss",
    "flow_matching_loss",
    "flow_sample",
    "reflow_pairs",
    "straightness",
]
