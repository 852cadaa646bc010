"""Variational autoencoders, pure math: bounds, decoder likelihoods, InfoVAE's MMD, quantisation.

- :mod:`~gendiff.vae.gaussian`: reparameterisation, closed-form and Monte Carlo KL to N(0, I),
  active units.
- :mod:`~gendiff.vae.likelihoods`: Gaussian (fixed or learned variance), Bernoulli (logits),
  discretised Gaussian and discretised logistic decoders.
- :mod:`~gendiff.vae.elbo`: the ELBO and its terms (reconstruction, KL = rate, distortion),
  the beta-VAE loss with free bits, KL warm-up.
- :mod:`~gendiff.vae.iwae`: importance-weighted bounds and k = 5000 log-likelihood estimates,
  chunked over samples.
- :mod:`~gendiff.vae.ladder`: the two-layer hierarchical VAE's bound (ladder posterior).
- :mod:`~gendiff.vae.infovae`: MMD between the aggregated posterior and the prior, InfoVAE loss.
- :mod:`~gendiff.vae.quantize` and :mod:`~gendiff.vae.codebook_ema`: VQ-VAE's nearest-code
  lookup, straight-through gradient, codebook and commitment losses, EMA codebook, restarts,
  perplexity and dead codes.
"""

from gendiff.vae.codebook_ema import CodebookEma, CodebookEmaState, codebook_ema
from gendiff.vae.codebook_ema import restart_dead_codes as restart_dead_codes_ema
from gendiff.vae.elbo import (
    ElboTerms,
    beta_vae_objective,
    elbo,
    elbo_from_posterior,
    kl_warmup,
    vae_loss,
)
from gendiff.vae.gaussian import (
    active_units,
    diag_normal_log_prob,
    kl_monte_carlo,
    kl_sample_per_dim,
    kl_to_standard_normal,
    kl_to_standard_normal_per_dim,
    reparameterize,
)
from gendiff.vae.infovae import infovae_loss, mmd_to_prior
from gendiff.vae.iwae import importance_weighted_bound, iwae_bound, log_likelihood
from gendiff.vae.ladder import LadderTerms, ladder_terms, precision_weighted
from gendiff.vae.likelihoods import (
    Bernoulli,
    DiscretizedGaussian,
    DiscretizedLogistic,
    Gaussian,
    Likelihood,
    binarize,
)
from gendiff.vae.quantize import (
    QuantizeOutput,
    codebook_perplexity,
    codebook_usage,
    dead_code_count,
    nearest_code,
    quantize,
    restart_dead_codes,
    straight_through,
    vq_losses,
)

__all__ = [
    "LadderTerms",
    "ladder_terms",
    "precision_weighted",
    "Bernoulli",
    "CodebookEma",
    "CodebookEmaState",
    "DiscretizedGaussian",
    "DiscretizedLogistic",
    "ElboTerms",
    "Gaussian",
    "Likelihood",
    "QuantizeOutput",
    "active_units",
    "beta_vae_objective",
    "binarize",
    "codebook_ema",
    "codebook_perplexity",
    "codebook_usage",
    "dead_code_count",
    "diag_normal_log_prob",
    "elbo",
    "elbo_from_posterior",
    "importance_weighted_bound",
    "infovae_loss",
    "iwae_bound",
    "kl_monte_carlo",
    "kl_sample_per_dim",
    "kl_to_standard_normal",
    "kl_to_standard_normal_per_dim",
    "kl_warmup",
    "log_likelihood",
    "mmd_to_prior",
    "nearest_code",
    "quantize",
    "reparameterize",
    "restart_dead_codes",
    "restart_dead_codes_ema",
    "straight_through",
    "vae_loss",
    "vq_losses",
]
