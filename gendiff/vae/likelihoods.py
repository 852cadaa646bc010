"""Decoder likelihoods p(x | z): Gaussian, Bernoulli, discretised Gaussian and discretised logistic.

A likelihood is a small frozen dataclass (hashable, so it can be a static argument of ``jit``)
with two methods:

- ``log_prob(x, params)``: elementwise log p(x | z), the shape of ``x``, where ``params`` is what
  the decoder returned for z (``decode_fn(z)``); sum it over the data axes for log p(x | z).
- ``check_data(x)``: raises (or warns) when concrete data lie outside the likelihood's support.
  The bounds in :mod:`gendiff.vae.elbo` and :mod:`gendiff.vae.iwae` call it on concrete inputs;
  traced inputs (inside ``jit``) are not inspected, so check a dataset once before training.

Decoder outputs expected by each family:

===========================  =============================================================
``Gaussian(variance=v)``     ``mean`` (fixed variance v)
``Gaussian()``               ``(mean, log_var)`` (learned variance)
``Bernoulli()``              ``logits``
``DiscretizedGaussian(L)``   ``(mean, log_scale)``, data on L levels in [-1, 1]
``DiscretizedLogistic(L)``   ``(mean, log_scale)``, data on L levels in [-1, 1]
===========================  =============================================================

The Gaussian log-density (F1:239-241) is -||x - mean||^2 / (2 sigma^2) - d/2 log(2 pi sigma^2):
the reconstruction term is *minus* a squared error (F0:1004 writes it with a plus sign). The
PyTorch-style loss ``MSE(reduction='sum') + KLD`` of F1:309-318 is the negative ELBO of a
Gaussian decoder with sigma^2 = 1/2, up to the constant d/2 log(pi).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.distributions import discretized_gaussian_log_likelihood
from gendiff.vae._checks import check_like, is_concrete

_LOG_2PI = float(np.log(2.0 * np.pi))


class Likelihood(Protocol):
    """What the bounds need from a decoder family.

    :class:`Gaussian`, :class:`Bernoulli`, :class:`DiscretizedGaussian` and
    :class:`DiscretizedLogistic` implement it; any class with these two methods serves.

    Example:
      >>> from gendiff.vae import elbo
      >>> class Laplace:  # p(x | z) = exp(-|x - mean|) / 2
      ...     def log_prob(self, x, params):
      ...         return -jnp.abs(x - params) - jnp.log(2.0)
      ...     def check_data(self, x):
      ...         pass
      >>> encode_fn = lambda x: (jnp.zeros((x.shape[0], 2)), jnp.zeros((x.shape[0], 2)))
      >>> decode_fn = lambda z: jnp.zeros((z.shape[0], 3))
      >>> t = elbo(key, encode_fn, decode_fn, jnp.zeros((4, 3)), likelihood=Laplace())
      >>> round(float(t.reconstruction[0]), 5), float(t.kl[0])  # 3 log 1/2, q = p(z)
      (-2.07944, 0.0)
    """

    def log_prob(self, x: jax.Array, params: Any) -> jax.Array:
        """Elementwise log p(x | z) given the decoder's output ``params``."""
        ...

    def check_data(self, x: jax.Array) -> None:
        """Raises ValueError (or warns) for concrete data outside the support."""
        ...


def _check_finite(x) -> None:
    if is_concrete(x) and not np.all(np.isfinite(np.asarray(x))):
        raise ValueError("the data x contain NaN or inf values; expected finite numbers.")


def _unpack_pair(params, what: str):
    if not (isinstance(params, (tuple, list)) and len(params) == 2):
        raise ValueError(
            f"{what} expects the decoder to return a pair (mean, {what.split()[-1]}), "
            f"got {type(params).__name__}."
        )
    return params


@dataclasses.dataclass(frozen=True)
class Gaussian:
    """p(x | z) = N(x; mean, sigma^2 I), with sigma^2 fixed or predicted per dimension.

    Args:
      variance: the fixed variance sigma^2 > 0; the decoder then returns ``mean``. None
        (default) means a learned variance: the decoder returns ``(mean, log_var)``.

    References:
      Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014, appendix C.2.

    Example:
      >>> lik = Gaussian(variance=1.0)
      >>> round(float(lik.log_prob(jnp.zeros(()), jnp.zeros(()))), 6)  # -1/2 log 2 pi
      -0.918939
      >>> lp = Gaussian().log_prob(jnp.ones(3), (jnp.ones(3), jnp.zeros(3)))  # learned log_var
      >>> lp.shape
      (3,)
    """

    variance: float | None = None

    def __post_init__(self):
        if self.variance is not None and not (np.isfinite(self.variance) and self.variance > 0):
            raise ValueError(
                f"Gaussian variance must be a positive number or None, got {self.variance}."
            )

    def log_prob(self, x, params):
        if self.variance is None:
            mean, log_var = _unpack_pair(params, "Gaussian() with learned log_var")
            check_like("log_var", log_var, x)
        else:
            mean, log_var = params, jnp.log(jnp.asarray(self.variance, jnp.result_type(x, float)))
        check_like("mean", mean, x)
        return -0.5 * (_LOG_2PI + log_var + (x - mean) ** 2 * jnp.exp(-log_var))

    def check_data(self, x) -> None:
        _check_finite(x)


@dataclasses.dataclass(frozen=True)
class Bernoulli:
    """p(x | z) = prod_i Bern(x_i; sigmoid(logits_i)) for binary data.

    log p = x * logits - softplus(logits), i.e. log sigmoid(logits) where x = 1 and
    log sigmoid(-logits) where x = 0: minus the binary cross-entropy (F0:1006-1016,
    F1:284-296), computed from logits so it never takes the log of 0.

    Data must be in {0, 1}. Values in [0, 1] that are not binary (grey levels) give a warning:
    the formula is then a cross-entropy, not a normalised likelihood, so bounds computed with it
    are not log-likelihoods. Values outside [0, 1] are an error.

    Example:
      >>> lp = Bernoulli().log_prob(jnp.array([1.0, 0.0]), jnp.array([0.0, 0.0]))
      >>> [round(float(v), 6) for v in lp]  # log 1/2 twice
      [-0.693147, -0.693147]
    """

    def log_prob(self, x, logits):
        check_like("logits", logits, x)
        return x * logits - jax.nn.softplus(logits)

    def check_data(self, x) -> None:
        _check_finite(x)
        if not is_concrete(x):
            return
        x = np.asarray(x)
        if np.any((x < 0) | (x > 1)):
            raise ValueError(
                f"Bernoulli likelihood expects data in {{0, 1}}, got values in "
                f"[{x.min():.4g}, {x.max():.4g}]; rescale the data or use a Gaussian or "
                "discretised likelihood."
            )
        if np.any((x != 0) & (x != 1)):
            warnings.warn(
                "Bernoulli likelihood got non-binary data in [0, 1]; the bound is then a "
                "cross-entropy, not a log-likelihood. Binarise the data (e.g. dynamic "
                "binarisation) or use a Gaussian or discretised likelihood.",
                UserWarning,
                stacklevel=3,
            )


def _check_grid(x, num_levels: int, name: str) -> None:
    _check_finite(x)
    if not is_concrete(x):
        return
    x = np.asarray(x)
    if np.any((x < -1) | (x > 1)):
        raise ValueError(
            f"{name} expects data in [-1, 1] on {num_levels} levels, got values in "
            f"[{x.min():.4g}, {x.max():.4g}]."
        )
    k = (x + 1) * (num_levels - 1) / 2
    if np.any(np.abs(k - np.round(k)) > 1e-3):
        warnings.warn(
            f"{name} got data off the grid of {num_levels} levels in [-1, 1]; each value is "
            "assigned the mass of the bin around it, so the result is not a likelihood of the data.",
            UserWarning,
            stacklevel=3,
        )


def _check_levels(num_levels) -> None:
    if (
        isinstance(num_levels, bool)
        or not isinstance(num_levels, (int, np.integer))
        or num_levels < 2
    ):
        raise ValueError(f"num_levels must be an integer >= 2, got {num_levels!r}.")


@dataclasses.dataclass(frozen=True)
class DiscretizedGaussian:
    """A Gaussian discretised into ``num_levels`` bins on [-1, 1], outer bins open-ended.

    Data take the values -1 + 2k/(L - 1); the mass of the bin [x - delta, x + delta],
    delta = 1/(L - 1), is Phi((x + delta - mean)/s) - Phi((x - delta - mean)/s), with the first
    and last bins extended to -inf and +inf, so the masses over the grid sum to 1. Reuses
    :func:`gendiff.distributions.discretized_gaussian_log_likelihood`. Decoder output:
    ``(mean, log_scale)`` with s = exp(log_scale).

    Args:
      num_levels: L >= 2 (256 for 8-bit images, 17 for the scikit-learn digits).

    References:
      Ho, Jain & Abbeel, Denoising Diffusion Probabilistic Models, NeurIPS 2020, eq. 13.

    Example:
      >>> lik = DiscretizedGaussian(num_levels=2)  # two bins split at 0
      >>> lp = lik.log_prob(jnp.array([1.0]), (jnp.zeros(1), jnp.zeros(1)))
      >>> round(float(lp[0]), 6)  # log 1/2
      -0.693147
    """

    num_levels: int

    def __post_init__(self):
        _check_levels(self.num_levels)

    def log_prob(self, x, params):
        mean, log_scale = _unpack_pair(params, "DiscretizedGaussian log_scale")
        check_like("mean", mean, x)
        check_like("log_scale", log_scale, x)
        return discretized_gaussian_log_likelihood(x, mean, log_scale, self.num_levels)

    def check_data(self, x) -> None:
        _check_grid(x, self.num_levels, "DiscretizedGaussian")


@dataclasses.dataclass(frozen=True)
class DiscretizedLogistic:
    """A logistic distribution discretised into ``num_levels`` bins on [-1, 1].

    With a = (x + delta - mean)/s and b = (x - delta - mean)/s (delta = 1/(L - 1)) the bin mass
    is sigmoid(a) - sigmoid(b), the first bin's sigmoid(a) and the last bin's 1 - sigmoid(b).
    The interior mass is evaluated as

        log(sigmoid(a) - sigmoid(b)) = log sigmoid(a) + log sigmoid(-b) + log(1 - exp(-(a - b))),

    an identity in which a - b = 2 delta / s > 0, so no two nearly equal numbers are subtracted,
    however far the bin lies in the tail. Decoder output: ``(mean, log_scale)``.

    Args:
      num_levels: L >= 2.

    References:
      Kingma et al., Improved Variational Inference with Inverse Autoregressive Flow, NeurIPS 2016;
      Salimans et al., PixelCNN++, ICLR 2017, section 2.1.

    Example:
      >>> lik = DiscretizedLogistic(num_levels=2)  # two bins split at 0
      >>> lp = lik.log_prob(jnp.array([-1.0, 1.0]), (jnp.zeros(2), jnp.zeros(2)))
      >>> [round(float(v), 6) for v in lp]  # log 1/2 each
      [-0.693147, -0.693147]
    """

    num_levels: int

    def __post_init__(self):
        _check_levels(self.num_levels)

    def log_prob(self, x, params):
        mean, log_scale = _unpack_pair(params, "DiscretizedLogistic log_scale")
        check_like("mean", mean, x)
        check_like("log_scale", log_scale, x)
        delta = 1.0 / (self.num_levels - 1)
        inv_scale = jnp.exp(-log_scale)
        a = (x - mean + delta) * inv_scale
        b = (x - mean - delta) * inv_scale
        log_cdf_upper = jax.nn.log_sigmoid(a)  # log P(X <= x + delta)
        log_sf_lower = jax.nn.log_sigmoid(-b)  # log P(X > x - delta)
        interior = log_cdf_upper + log_sf_lower + jnp.log(-jnp.expm1(-2.0 * delta * inv_scale))
        first, last = x < -1.0 + 0.5 * delta, x > 1.0 - 0.5 * delta
        return jnp.where(first, log_cdf_upper, jnp.where(last, log_sf_lower, interior))

    def check_data(self, x) -> None:
        _check_grid(x, self.num_levels, "DiscretizedLogistic")


def binarize(key: jax.Array, x: jax.Array) -> jax.Array:
    """Stochastic binarisation of images in [-1, 1]: pixel i is 1 with probability (x_i + 1)/2.

    Drawn afresh at every training step this is dynamic binarisation (Salakhutdinov & Murray
    2008; Burda et al. 2016), the data of the binary-MNIST likelihoods; with one fixed key it
    gives a fixed binary test set.

    Args:
      key: PRNG key.
      x: values in [-1, 1].

    Returns:
      float array of x's shape and dtype with values in {0, 1}.

    Example:
      >>> binarize(jax.random.key(0), jnp.array([-1.0, 1.0, 1.0])).tolist()
      [0.0, 1.0, 1.0]
    """
    _check_finite(x)
    if is_concrete(x) and np.size(x) and (np.min(x) < -1 or np.max(x) > 1):
        raise ValueError(
            f"binarize expects values in [-1, 1], got [{np.min(x):.4g}, {np.max(x):.4g}]."
        )
    x = jnp.asarray(x)
    return jax.random.bernoulli(key, (x + 1.0) / 2.0).astype(x.dtype)
