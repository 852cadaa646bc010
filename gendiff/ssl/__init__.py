"""Self-supervised learning, pure math: NCE, contrastive losses, mutual-information bounds,
masked reconstruction, JEPA, collapse diagnostics and image augmentations.

- :mod:`~gendiff.ssl.nce`: noise-contrastive estimation with a learned log-normaliser and any
  noise/data ratio nu (F0:3312-3401).
- :mod:`~gendiff.ssl.nce_models`: a diagonal Gaussian and a Gaussian mixture written without
  their normalisers, with the closed-form log Z (the truth NCE is checked against).
- :mod:`~gendiff.ssl.contrastive`: InfoNCE with a temperature and a cosine or dot critic,
  SimCLR's NT-Xent (F0:3405-3441).
- :mod:`~gendiff.ssl.mi_bounds`: InfoNCE, NWJ, DV, JS-critic bounds on critic matrices and
  MINE's bias-corrected gradient as an (init, update) pair; :mod:`~gendiff.ssl.gaussian_mi`:
  correlated Gaussians with known MI and their optimal critic.
- :mod:`~gendiff.ssl.masking`: patches, random/block/span masks with an exact ratio, the
  reconstruction loss on the masked part (F0:3443-3489).
- :mod:`~gendiff.ssl.jepa`: the JEPA loss with a stop-gradient EMA target encoder and a
  predictor conditioned on target positions, the target EMA as an (init, update) pair
  (F0:3491-3569).
- :mod:`~gendiff.ssl.collapse`: per-dimension std and effective rank of embeddings;
  :mod:`~gendiff.ssl.variance_covariance`: VICReg's variance and covariance terms, the
  regulariser that keeps them spread (C-JEPA adds it to JEPA).
- :mod:`~gendiff.ssl.augment`: crop, shift, rotation, noise and cutout, per example with its
  own key.

Example:
  >>> from gendiff import ssl
  >>> loss, metrics = ssl.info_nce_loss(jnp.eye(4), jnp.eye(4), temperature=0.1)
  >>> bool(metrics["mi_lower_bound"] <= jnp.log(4.0) + 1e-6)
  True
"""

import jax.numpy as jnp  # noqa: F401  (for the docstring example)

from gendiff.ssl.augment import (
    augment_batch,
    augment_image,
    cutout,
    gaussian_noise,
    random_crop,
    random_rotation,
    random_shift,
)
from gendiff.ssl.collapse import collapse_metrics, effective_rank, embedding_std
from gendiff.ssl.contrastive import critic_scores, info_nce_loss, nt_xent_loss
from gendiff.ssl.gaussian_mi import (
    correlated_gaussian_mi,
    optimal_log_ratio_scores,
    rho_for_mi,
    sample_correlated_gaussians,
)
from gendiff.ssl.jepa import (
    TargetEma,
    TargetEmaState,
    gather_positions,
    jepa_loss,
    linear_momentum,
    sample_jepa_positions,
    target_ema,
)
from gendiff.ssl.masking import (
    apply_mask_token,
    block_patch_mask,
    masked_reconstruction_loss,
    num_masked,
    patchify,
    random_patch_mask,
    sample_masks,
    span_mask,
    unpatchify,
)
from gendiff.ssl.mi_bounds import (
    Mine,
    MineState,
    dv_bound,
    infonce_bound,
    js_critic_loss,
    mine,
    nwj_bound,
)
from gendiff.ssl.nce import nce_loss, nce_loss_from_log_ratios, with_log_normalizer
from gendiff.ssl.nce_models import (
    gaussian_log_normalizer,
    gaussian_log_phi,
    mixture_log_normalizer,
    mixture_log_phi,
    mixture_sample,
)
from gendiff.ssl.variance_covariance import (
    covariance_loss,
    variance_covariance_loss,
    variance_loss,
)

__all__ = [
    "Mine",
    "MineState",
    "TargetEma",
    "TargetEmaState",
    "apply_mask_token",
    "augment_batch",
    "augment_image",
    "block_patch_mask",
    "collapse_metrics",
    "correlated_gaussian_mi",
    "covariance_loss",
    "critic_scores",
    "cutout",
    "dv_bound",
    "effective_rank",
    "embedding_std",
    "gather_positions",
    "gaussian_log_normalizer",
    "gaussian_log_phi",
    "gaussian_noise",
    "info_nce_loss",
    "infonce_bound",
    "jepa_loss",
    "js_critic_loss",
    "linear_momentum",
    "masked_reconstruction_loss",
    "mine",
    "mixture_log_normalizer",
    "mixture_log_phi",
    "mixture_sample",
    "nce_loss",
    "nce_loss_from_log_ratios",
    "nt_xent_loss",
    "num_masked",
    "nwj_bound",
    "optimal_log_ratio_scores",
    "patchify",
    "random_crop",
    "random_patch_mask",
    "random_rotation",
    "random_shift",
    "rho_for_mi",
    "sample_correlated_gaussians",
    "sample_jepa_positions",
    "sample_masks",
    "span_mask",
    "target_ema",
    "unpatchify",
    "variance_covariance_loss",
    "variance_loss",
    "with_log_normalizer",
]
