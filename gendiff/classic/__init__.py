"""Classic models in pure JAX: Gaussian mixtures and EM, k-means, k-medoids, PCA and
probabilistic PCA, linear regression, a hand-written backprop MLP, hidden Markov models, and
restricted Boltzmann machines (CD-k, PCD, exact and AIS partition functions), and energy-based
models trained with Langevin negative samples."""

from gendiff.classic.backprop import mlp_backprop, mlp_forward, mlp_init, mlp_train
from gendiff.classic.ebm import (
    ebm_contrastive_loss,
    ebm_loss,
    ebm_score,
    grid_kl,
    grid_log_probs,
    grid_points,
    histogram_probs,
    langevin_transition,
    short_run_ebm_loss,
)
from gendiff.classic.em import GMMResult, gmm_em
from gendiff.classic.gmm import (
    COVARIANCE_TYPES,
    GMMParams,
    gmm_joint_log_prob,
    gmm_log_prob,
    gmm_precisions,
    gmm_sample,
)
from gendiff.classic.hmm import HMMPosterior, hmm_forward_backward, hmm_viterbi
from gendiff.classic.hmm_em import (
    BaumWelchResult,
    HMMParams,
    baum_welch,
    hmm_emission_log_prob,
    hmm_log_prob,
    hmm_sample,
)
from gendiff.classic.kmeans import KMeansResult, kmeans, kmeans_plusplus
from gendiff.classic.kmedoids import KMedoidsResult, kmedoids
from gendiff.classic.pca import PCAResult, PPCAParams, pca, ppca, ppca_log_prob
from gendiff.classic.ppca_em import PPCAEMResult, ppca_em
from gendiff.classic.rbm import (
    VISIBLE_TYPES,
    RBMParams,
    base_rate_bias,
    rbm_energy,
    rbm_free_energy,
    rbm_gibbs,
    rbm_hidden_logits,
    rbm_hidden_probs,
    rbm_init,
    rbm_sample_hidden,
    rbm_sample_visible,
    rbm_visible_mean,
)
from gendiff.classic.rbm_partition import (
    AISResult,
    ais_betas,
    all_states,
    rbm_ais,
    rbm_log_likelihood,
    rbm_log_partition,
    rbm_reverse_ais,
    rbm_sample_exact,
)
from gendiff.classic.rbm_train import cd_loss, pcd_loss, pcd_transition, rbm_contrastive_loss
from gendiff.classic.regression import LinearFit, lasso, lasso_duality_gap, ols, ridge

__all__ = [
    "AISResult",
    "BaumWelchResult",
    "COVARIANCE_TYPES",
    "GMMParams",
    "GMMResult",
    "HMMParams",
    "HMMPosterior",
    "KMeansResult",
    "KMedoidsResult",
    "LinearFit",
    "PCAResult",
    "PPCAEMResult",
    "PPCAParams",
    "RBMParams",
    "VISIBLE_TYPES",
    "ais_betas",
    "all_states",
    "base_rate_bias",
    "baum_welch",
    "cd_loss",
    "ebm_contrastive_loss",
    "ebm_loss",
    "ebm_score",
    "gmm_em",
    "gmm_joint_log_prob",
    "gmm_log_prob",
    "gmm_precisions",
    "gmm_sample",
    "grid_kl",
    "grid_log_probs",
    "grid_points",
    "histogram_probs",
    "hmm_emission_log_prob",
    "hmm_forward_backward",
    "hmm_log_prob",
    "hmm_sample",
    "hmm_viterbi",
    "kmeans",
    "kmeans_plusplus",
    "kmedoids",
    "langevin_transition",
    "lasso",
    "lasso_duality_gap",
    "mlp_backprop",
    "mlp_forward",
    "mlp_init",
    "mlp_train",
    "ols",
    "pca",
    "pcd_loss",
    "pcd_transition",
    "ppca",
    "ppca_em",
    "ppca_log_prob",
    "rbm_ais",
    "rbm_contrastive_loss",
    "rbm_energy",
    "rbm_free_energy",
    "rbm_gibbs",
    "rbm_hidden_logits",
    "rbm_hidden_probs",
    "rbm_init",
    "rbm_log_likelihood",
    "rbm_log_partition",
    "rbm_reverse_ais",
    "rbm_sample_exact",
    "rbm_sample_hidden",
    "rbm_sample_visible",
    "rbm_visible_mean",
    "ridge",
    "short_run_ebm_loss",
]
