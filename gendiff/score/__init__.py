"""Score matching (explicit, implicit, sliced, denoising, NCSN, score-SDE) and Langevin samplers."""

from gendiff.score.denoising import denoising_score_matching, ncsn_loss, score_sde_loss
from gendiff.score.divergence import exact_divergence, hutchinson_divergence, sample_probes
from gendiff.score.explicit import explicit_score_matching
from gendiff.score.implicit import implicit_score_matching
from gendiff.score.langevin import annealed_langevin_dynamics, langevin_dynamics, langevin_step
from gendiff.score.sigmas import geometric_sigmas, noise_conditional_score
from gendiff.score.sliced import sliced_score_matching

__all__ = [
    "annealed_langevin_dynamics",
    "denoising_score_matching",
    "exact_divergence",
    "explicit_score_matching",
    "geometric_sigmas",
    "hutchinson_divergence",
    "implicit_score_matching",
    "langevin_dynamics",
    "langevin_step",
    "ncsn_loss",
    "noise_conditional_score",
    "sample_probes",
    "score_sde_loss",
    "sliced_score_matching",
]
