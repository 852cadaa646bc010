"""The f-divergence table: generator f, its conjugate f*, and the f-GAN output activation.

An f-divergence is D_f(P || Q) = E_Q[f(p / q)] for a convex, lower semi-continuous f on
[0, inf) with f(1) = 0. Its convex conjugate f*(t) = sup_{u >= 0} (t u - f(u)) gives the
variational bound of Nguyen, Wainwright & Jordan (2010) that f-GAN trains on,

    D_f(P || Q) >= sup_T  E_P[T(x)] - E_Q[f*(T(x))],                                 (1)

with equality at T*(x) = f'(p(x) / q(x)). f-GAN writes the critic as T(x) = g_f(V(x)): a raw
network output V passed through an output activation g_f whose range lies in dom f*
(Nowozin, Cseke & Tomioka 2016, Tables 2 and 6). A sample is classified as real when
T(x) > f'(1), the threshold column of Table 6.

Departures from the paper's tables, each deliberate:

- ``js`` is the Jensen-Shannon divergence with its usual 1/2 normalisation,
  JS = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q) / 2, whose maximum is ln 2:
  f(u) = 1/2 [u log u - (u + 1) log((u + 1) / 2)]. Table 2 lists the JS value with the 1/2 but
  the generator and conjugate without it, which give 2 JS (as does the generator of the
  lecture notes, F0:190); ``js_unnormalized`` is that entry, f*(t) = -log(2 - e^t).
- ``gan`` keeps the paper's f(u) = u log u - (u + 1) log(u + 1), which has f(1) = -log 4, not
  0: its "divergence" is 2 JS - log 4 and equals -log 4 at P = Q.
- Conjugates are exact suprema over u >= 0, the domain of the f-divergence. For Pearson chi^2
  the paper's f*(t) = t + t^2 / 4 is the supremum over all real u; it agrees with the exact one
  for t >= -2 and exceeds it below (where the exact value is -1). Likewise total variation is
  extended by f*(t) = -1/2 for t < -1/2 and the alpha-divergence with alpha > 1 by
  f*(t) = -1/alpha below t = -1/(alpha - 1). Outside dom f* the conjugate is +inf.
- ``squared_hellinger`` is the paper's f(u) = (sqrt(u) - 1)^2, whose divergence is
  sum (sqrt p - sqrt q)^2 = 2 H^2 for the Hellinger distance H of
  :func:`~gendiff.divergences.hellinger_distance`.

References:
  Nowozin, Cseke & Tomioka, "f-GAN: Training Generative Neural Samplers using Variational
  Divergence Minimization", NeurIPS 2016, Tables 1, 2 and 6.
  Nguyen, Wainwright & Jordan, "Estimating divergence functionals and the likelihood ratio by
  convex risk minimization", IEEE Trans. Inf. Theory 2010.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp

from gendiff.divergences._checks import safe_log, safe_sqrt

Fn = Callable[[jax.Array], jax.Array]
INF = math.inf
LOG2 = math.log(2.0)


@dataclasses.dataclass(frozen=True)
class FDivergence:
    """One f-divergence with what f-GAN needs of it.

    Attributes:
      name: key in :data:`F_DIVERGENCES`.
      f: the generator f(u), u >= 0; finite at u = 0 where its limit is, else +inf, with a
        finite gradient there.
      f_prime: its derivative f'(u), u > 0 (the optimal critic is T*(x) = f'(p(x) / q(x))).
      conjugate: f*(t) = sup_{u >= 0} t u - f(u); +inf outside dom f*.
      activation: the output activation g_f mapping a raw output v in R into dom f*.
      conjugate_of_activation: f*(g_f(v)), written to stay finite where the composition
        would round to inf - inf or log(0).
      domain: (low, high), the open interval g_f maps onto (inside dom f*).
      threshold: f'(1); the critic calls x real when g_f(V(x)) > f'(1).
      slope_at_infinity: lim_{u -> inf} f(u) / u, the cost per unit of P-mass where q = 0.

    Example:
      >>> from gendiff.divergences import F_DIVERGENCES, FDivergence
      >>> kl = F_DIVERGENCES["kl"]  # f(u) = u log u, f*(t) = e^(t - 1)
      >>> isinstance(kl, FDivergence), kl.threshold, kl.slope_at_infinity
      (True, 1.0, inf)
      >>> u = jnp.array(2.0)  # Fenchel equality: f*(f'(u)) = u f'(u) - f(u) = 2
      >>> round(float(kl.conjugate(kl.f_prime(u))), 5), round(float(u * kl.f_prime(u) - kl.f(u)), 5)
      (2.0, 2.0)
    """

    name: str
    f: Fn
    f_prime: Fn
    conjugate: Fn
    activation: Fn
    conjugate_of_activation: Fn
    domain: tuple[float, float]
    threshold: float
    slope_at_infinity: float


def _xlogx(u):
    # u log u with 0 log 0 = 0 and a zero gradient at u = 0.
    pos = u > 0
    return jnp.where(pos, u * jnp.log(jnp.where(pos, u, 1.0)), 0.0)


def _outside(t, inside, value):
    # value where `inside`, +inf elsewhere; `value` must already be safe to evaluate there.
    return jnp.where(inside, value, jnp.inf)


# --- Lambert W for the Jeffreys conjugate ----------------------------------------------------
@jax.custom_jvp
def _log_lambertw_of_exp(L):
    """y = log W(e^L): the root of e^y + y = L (W the principal Lambert function)."""
    y = jnp.where(L > 1.0, jnp.log(jnp.maximum(L - jnp.log(jnp.maximum(L, 1.0)), 1e-30)), L)
    y = jnp.where(L > 1.0, y, L - jax.nn.softplus(L))
    for _ in range(30):  # Newton on the convex, increasing map y -> e^y + y
        e = jnp.exp(y)
        y = y - (e + y - L) / (e + 1.0)
    return y


@_log_lambertw_of_exp.defjvp
def _log_lambertw_of_exp_jvp(primals, tangents):
    (L,), (dL,) = primals, tangents
    y = _log_lambertw_of_exp(L)
    return y, dL / (jnp.exp(y) + 1.0)


def _jeffreys_conjugate(t):
    # Stationarity t = log u + 1 - 1/u; with w = 1/u: w + log w = 1 - t, w = W(e^{1 - t}),
    # and f*(t) = w + 1/w + t - 2 (Table 2), here with y = log w.
    y = _log_lambertw_of_exp(1.0 - t)
    return jnp.exp(y) + jnp.exp(-y) + t - 2.0


# --- the entries ------------------------------------------------------------------------------
KL = FDivergence(
    name="kl",
    f=_xlogx,
    f_prime=lambda u: jnp.log(u) + 1.0,
    conjugate=lambda t: jnp.exp(t - 1.0),
    activation=lambda v: v,
    conjugate_of_activation=lambda v: jnp.exp(v - 1.0),
    domain=(-INF, INF),
    threshold=1.0,
    slope_at_infinity=INF,
)

REVERSE_KL = FDivergence(
    name="reverse_kl",
    f=lambda u: -safe_log(u),
    f_prime=lambda u: -1.0 / u,
    conjugate=lambda t: _outside(t, t < 0, -1.0 - jnp.log(jnp.where(t < 0, -t, 1.0))),
    activation=lambda v: -jnp.exp(-v),
    conjugate_of_activation=lambda v: v - 1.0,  # f*(-e^{-v}) = -1 + v
    domain=(-INF, 0.0),
    threshold=-1.0,
    slope_at_infinity=0.0,
)

JS = FDivergence(
    name="js",
    f=lambda u: 0.5 * (_xlogx(u) - (u + 1.0) * jnp.log((u + 1.0) / 2.0)),
    f_prime=lambda u: 0.5 * jnp.log(2.0 * u / (u + 1.0)),
    # (f / 2)*(t) = f_2*(2 t) / 2 with f_2*(s) = -log(2 - e^s) the conjugate of 2 x this f.
    conjugate=lambda t: _outside(
        t, t < 0.5 * LOG2, -0.5 * jnp.log(2.0 - jnp.exp(2.0 * jnp.where(t < 0.5 * LOG2, t, 0.0)))
    ),
    activation=lambda v: 0.5 * (LOG2 - jax.nn.softplus(-v)),
    # e^{2 g} = 2 sigmoid(v), so f*(g(v)) = -1/2 log(2 sigmoid(-v)) = (softplus(v) - log 2) / 2.
    conjugate_of_activation=lambda v: 0.5 * (jax.nn.softplus(v) - LOG2),
    domain=(-INF, 0.5 * LOG2),
    threshold=0.0,
    slope_at_infinity=0.5 * LOG2,
)

JS_UNNORMALIZED = FDivergence(
    name="js_unnormalized",
    f=lambda u: _xlogx(u) - (u + 1.0) * jnp.log((u + 1.0) / 2.0),
    f_prime=lambda u: jnp.log(2.0 * u / (u + 1.0)),
    conjugate=lambda t: _outside(t, t < LOG2, -jnp.log(2.0 - jnp.exp(jnp.where(t < LOG2, t, 0.0)))),
    activation=lambda v: LOG2 - jax.nn.softplus(-v),
    conjugate_of_activation=lambda v: jax.nn.softplus(v) - LOG2,
    domain=(-INF, LOG2),
    threshold=0.0,
    slope_at_infinity=LOG2,
)

GAN = FDivergence(
    name="gan",
    f=lambda u: _xlogx(u) - (u + 1.0) * jnp.log1p(u),
    f_prime=lambda u: jnp.log(u / (u + 1.0)),
    conjugate=lambda t: _outside(t, t < 0, -jnp.log(-jnp.expm1(jnp.where(t < 0, t, -1.0)))),
    activation=lambda v: -jax.nn.softplus(-v),  # log sigmoid(v)
    conjugate_of_activation=jax.nn.softplus,  # -log(1 - sigmoid(v))
    domain=(-INF, 0.0),
    threshold=-LOG2,
    slope_at_infinity=0.0,
)

TV = FDivergence(
    name="tv",
    f=lambda u: 0.5 * jnp.abs(u - 1.0),
    f_prime=lambda u: 0.5 * jnp.sign(u - 1.0),
    conjugate=lambda t: _outside(t, t <= 0.5, jnp.maximum(t, -0.5)),
    activation=lambda v: 0.5 * jnp.tanh(v),
    conjugate_of_activation=lambda v: 0.5 * jnp.tanh(v),
    domain=(-0.5, 0.5),
    threshold=0.0,
    slope_at_infinity=0.5,
)

PEARSON_CHI2 = FDivergence(
    name="pearson_chi2",
    f=lambda u: (u - 1.0) ** 2,
    f_prime=lambda u: 2.0 * (u - 1.0),
    conjugate=lambda t: jnp.where(t >= -2.0, t + 0.25 * t**2, -1.0),
    activation=lambda v: v,
    conjugate_of_activation=lambda v: jnp.where(v >= -2.0, v + 0.25 * v**2, -1.0),
    domain=(-INF, INF),
    threshold=0.0,
    slope_at_infinity=INF,
)


def _neyman_f(u):
    pos = u > 0
    return jnp.where(pos, (1.0 - u) ** 2 / jnp.where(pos, u, 1.0), jnp.inf)


NEYMAN_CHI2 = FDivergence(
    name="neyman_chi2",
    f=_neyman_f,
    f_prime=lambda u: 1.0 - 1.0 / u**2,
    conjugate=lambda t: _outside(t, t <= 1.0, 2.0 - 2.0 * safe_sqrt(1.0 - t)),
    activation=lambda v: -jnp.expm1(-v),  # 1 - e^{-v}
    conjugate_of_activation=lambda v: 2.0 - 2.0 * jnp.exp(-0.5 * v),
    domain=(-INF, 1.0),
    threshold=0.0,
    slope_at_infinity=1.0,
)

SQUARED_HELLINGER = FDivergence(
    name="squared_hellinger",
    f=lambda u: (safe_sqrt(u) - 1.0) ** 2,
    f_prime=lambda u: 1.0 - 1.0 / jnp.sqrt(u),
    conjugate=lambda t: _outside(t, t < 1.0, t / (1.0 - jnp.where(t < 1.0, t, 0.0))),
    activation=lambda v: -jnp.expm1(-v),
    conjugate_of_activation=jnp.expm1,  # g / (1 - g) = e^v - 1
    domain=(-INF, 1.0),
    threshold=0.0,
    slope_at_infinity=1.0,
)


def _jeffreys_f(u):
    pos = u > 0
    return jnp.where(pos, (u - 1.0) * jnp.log(jnp.where(pos, u, 1.0)), jnp.inf)


JEFFREYS = FDivergence(
    name="jeffreys",
    f=_jeffreys_f,
    f_prime=lambda u: jnp.log(u) + 1.0 - 1.0 / u,
    conjugate=_jeffreys_conjugate,
    activation=lambda v: v,
    conjugate_of_activation=_jeffreys_conjugate,
    domain=(-INF, INF),
    threshold=0.0,
    slope_at_infinity=INF,
)


def alpha_divergence(alpha: float) -> FDivergence:
    """The alpha-divergence f(u) = (u^alpha - 1 - alpha (u - 1)) / (alpha (alpha - 1)).

    alpha = 2 gives Pearson chi^2 / 2, alpha = -1 Neyman chi^2 / 2, alpha = 1/2 twice the
    squared-Hellinger entry; alpha -> 1 and alpha -> 0 tend to KL and reverse KL.

    Args:
      alpha: a Python number other than 0 and 1.

    Returns:
      The :class:`FDivergence`; f*(t) = (1/alpha) (1 + (alpha - 1) t)^(alpha / (alpha - 1))
      - 1/alpha (Table 2). For alpha > 1, g_f(v) = v on R (f* = -1/alpha where the base is
      <= 0); for alpha < 1, g_f(v) = 1/(1 - alpha) - log(1 + e^{-v}) (Table 6).

    Example:
      >>> d = alpha_divergence(2.0)
      >>> float(d.f(jnp.asarray(3.0)))  # (3 - 1)^2 / 2
      2.0
    """
    alpha = float(alpha)
    if alpha in (0.0, 1.0) or not math.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number other than 0 and 1, got {alpha}.")
    return _alpha_entry(alpha)


@functools.lru_cache(maxsize=None)
def _alpha_entry(a: float) -> FDivergence:
    # Cached, so that one alpha gives one (hashable) entry and jitted callers compile once.
    c = 1.0 / (a * (a - 1.0))
    power = a / (a - 1.0)

    def f(u):
        pos = u > 0
        u_a = jnp.where(pos, jnp.power(jnp.where(pos, u, 1.0), a), 0.0 if a > 0 else jnp.inf)
        return c * (u_a - 1.0 - a * (u - 1.0))

    def f_prime(u):
        return (jnp.power(u, a - 1.0) - 1.0) / (a - 1.0)

    if a > 1.0:

        def conjugate(t):
            base = jnp.maximum(1.0 + (a - 1.0) * t, 0.0)
            return jnp.power(base, power) / a - 1.0 / a

        return FDivergence(
            name="alpha",
            f=f,
            f_prime=f_prime,
            conjugate=conjugate,
            activation=lambda v: v,
            conjugate_of_activation=conjugate,
            domain=(-INF, INF),
            threshold=0.0,
            slope_at_infinity=INF,
        )

    top = 1.0 / (1.0 - a)  # sup of f' and the slope of f at infinity

    def conjugate(t):
        inside = t < top
        base = jnp.where(inside, 1.0 + (a - 1.0) * t, 1.0)
        return _outside(t, inside, jnp.power(base, power) / a - 1.0 / a)

    def conjugate_of_activation(v):
        base = (1.0 - a) * jax.nn.softplus(-v)  # 1 + (alpha - 1) g_f(v)
        return jnp.power(base, power) / a - 1.0 / a

    return FDivergence(
        name="alpha",
        f=f,
        f_prime=f_prime,
        conjugate=conjugate,
        activation=lambda v: top - jax.nn.softplus(-v),
        conjugate_of_activation=conjugate_of_activation,
        domain=(-INF, top),
        threshold=0.0,
        slope_at_infinity=top,
    )


F_DIVERGENCES: dict[str, FDivergence | Callable[..., FDivergence]] = {
    "kl": KL,
    "reverse_kl": REVERSE_KL,
    "js": JS,
    "js_unnormalized": JS_UNNORMALIZED,
    "gan": GAN,
    "tv": TV,
    "pearson_chi2": PEARSON_CHI2,
    "neyman_chi2": NEYMAN_CHI2,
    "squared_hellinger": SQUARED_HELLINGER,
    "jeffreys": JEFFREYS,
    "alpha": alpha_divergence,  # a factory: alpha_divergence(alpha)
}
"""f-divergences by name. Every value is an :class:`FDivergence` except ``"alpha"``, which is
the factory :func:`alpha_divergence`; :func:`get_f_divergence` resolves either."""


def get_f_divergence(divergence: str | FDivergence, **params) -> FDivergence:
    """Looks up an f-divergence by name (or passes an :class:`FDivergence` through).

    Args:
      divergence: a key of :data:`F_DIVERGENCES` or an :class:`FDivergence`.
      **params: the parameters of a factory entry (``alpha=`` for ``"alpha"``).

    Returns:
      The :class:`FDivergence`.

    Example:
      >>> get_f_divergence("alpha", alpha=0.5).slope_at_infinity
      2.0
    """
    if isinstance(divergence, FDivergence):
        if params:
            raise ValueError(f"parameters {sorted(params)} given with an FDivergence instance.")
        return divergence
    if divergence not in F_DIVERGENCES:
        raise ValueError(
            f"unknown f-divergence {divergence!r}; expected one of {sorted(F_DIVERGENCES)}."
        )
    entry = F_DIVERGENCES[divergence]
    if isinstance(entry, FDivergence):
        if params:
            raise ValueError(
                f"f-divergence {divergence!r} takes no parameters, got {sorted(params)}."
            )
        return entry
    try:
        return entry(**params)
    except TypeError as err:
        raise ValueError(
            f"f-divergence {divergence!r} is a factory; pass its parameters, e.g. "
            f"get_f_divergence({divergence!r}, alpha=0.5) ({err})."
        ) from None
