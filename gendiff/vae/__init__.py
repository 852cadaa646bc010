"""Variational autoencoders, pure math: bounds, decoder likelihoods, InfoVAE's MMD.

- :mod:`~gendiff.vae.gaussian`: reparameterisation, closed-form and Monte Carlo KL to N(0, I),
  active units.
- :mod:`~gendiff.vae.likelihoods`: Gaussian (fixed or learned variance), Bernoulli (logits),
  discretised Gaussian and discretised logistic decoders.
- :mod:`~gendiff.vae.elbo`: the ELBO and its terms (reconstruction, KL = rate, distortion),
  the beta-VAE loss with free bits, KL warm-up.
- :mod:`~gendiff.vae.iwae`: importance-weighted bounds and k = 5000 log-likelihood estimates,
  chunked over samples.
- :mod:`~gendiff.vae.infovae`: MMD between the aggregated posterior and the prior, InfoVAE loss.
"""

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
from gendiff.vae.likelihoods import (
    Bernoulli,
    DiscretizedGaussian,
    DiscretizedLogistic,
    Gaussian,
    Likelihood,
)
__all__ = [
    "Bernoulli",
    "DiscretizedGaussian",
    "DiscretizedLogistic",
    "ElboTerms",
    "Gaussian",
    "Likelihood",
    "active_units",
    "beta_vae_objective",
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
    "reparameterize",
    "vae_loss",
]
