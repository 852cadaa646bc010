"""Classic models in pure JAX: Gaussian mixtures and EM, k-means, k-medoids, PCA and
probabilistic PCA, linear regression, a hand-written backprop MLP, and hidden Markov models."""

from gendiff.classic.backprop import mlp_backprop, mlp_forward, mlp_init, mlp_train
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
)
from gendiff.classic.kmeans import KMeansResult, kmeans, kmeans_plusplus
from gendiff.classic.kmedoids import KMedoidsResult, kmedoids
from gendiff.classic.pca import PCAResult, PPCAParams, pca, ppca, ppca_log_prob
from gendiff.classic.ppca_em import PPCAEMResult, ppca_em
from gendiff.classic.regression import LinearFit, lasso, lasso_duality_gap, ols, ridge

__all__ = [
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
    "baum_welch",
    "gmm_em",
    "gmm_joint_log_prob",
    "gmm_log_prob",
    "gmm_precisions",
    "gmm_sample",
    "hmm_emission_log_prob",
    "hmm_forward_backward",
    "hmm_log_prob",
    "hmm_viterbi",
    "kmeans",
    "kmeans_plusplus",
    "kmedoids",
    "lasso",
    "lasso_duality_gap",
    "mlp_backprop",
    "mlp_forward",
    "mlp_init",
    "mlp_train",
    "ols",
    "pca",
    "ppca",
    "ppca_em",
    "ppca_log_prob",
    "ridge",
]
