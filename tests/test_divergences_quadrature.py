"""f_divergence_on_grid against closed forms between Gaussians, adaptive quadrature, and the
limits where one density vanishes."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from gendiff.divergences import (
    f_divergence_on_grid,
    gaussian_js_1d,
    gaussian_kl,
    get_f_divergence,
)

P, Q = (0.0, 1.0), (1.0, 1.2)  # (mean, std)


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _grid(lo=-16.0, hi=16.0, n=6401):
    x = np.linspace(lo, hi, n)
    return x, x[1] - x[0]


def _log_normal(x, mean, std):
    return scipy.stats.norm(mean, std).logpdf(x)


def _on_grid(name, p=P, q=Q, **params):
    x, dx = _grid()
    return float(f_divergence_on_grid(_log_normal(x, *p), _log_normal(x, *q), dx, name, **params))


def test_gaussian_closed_forms(x64):
    (m1, s1), (m2, s2) = P, Q
    kl_pq = float(
        gaussian_kl(jnp.array([m1]), jnp.array([[s1**2]]), jnp.array([m2]), jnp.array([[s2**2]]))
    )
    kl_qp = float(
        gaussian_kl(jnp.array([m2]), jnp.array([[s2**2]]), jnp.array([m1]), jnp.array([[s1**2]]))
    )
    assert _on_grid("kl") == pytest.approx(kl_pq, rel=1e-9)
    assert _on_grid("reverse_kl") == pytest.approx(kl_qp, rel=1e-9)
    assert _on_grid("jeffreys") == pytest.approx(kl_pq + kl_qp, rel=1e-9)
    assert _on_grid("js") == pytest.approx(float(gaussian_js_1d(m1, s1, m2, s2)), rel=1e-8)
    # GAN's f has f(1) = -log 4: its value is 2 JS - log 4.
    js = float(gaussian_js_1d(m1, s1, m2, s2))
    assert _on_grid("gan") == pytest.approx(2 * js - math.log(4.0), rel=1e-8)
    # Squared Hellinger (the table's (sqrt u - 1)^2 is 2 H^2):
    # H^2 = 1 - sqrt(2 s1 s2 / (s1^2 + s2^2)) exp(-(m1 - m2)^2 / (4 (s1^2 + s2^2))).
    v = s1**2 + s2**2
    h2 = 1 - math.sqrt(2 * s1 * s2 / v) * math.exp(-((m1 - m2) ** 2) / (4 * v))
    assert _on_grid("squared_hellinger") == pytest.approx(2 * h2, rel=1e-9)
    # TV between equal-variance Gaussians: 2 Phi(|m1 - m2| / (2 s)) - 1.
    tv = 2 * scipy.stats.norm.cdf(1.0 / 2) - 1
    assert _on_grid("tv", q=(1.0, 1.0)) == pytest.approx(tv, rel=1e-4)  # a kink at x = 1/2


@pytest.mark.parametrize("name", ["pearson_chi2", "neyman_chi2", ("alpha", 0.5), ("alpha", 2.0)])
def test_entries_without_closed_form_match_adaptive_quadrature(name, x64):
    params = {"alpha": name[1]} if isinstance(name, tuple) else {}
    name = name[0] if isinstance(name, tuple) else name
    f = get_f_divergence(name, **params).f
    p, q = scipy.stats.norm(*P), scipy.stats.norm(*Q)

    def integrand(x):
        return q.pdf(x) * float(f(jnp.asarray(p.pdf(x) / q.pdf(x))))

    expected, _ = scipy.integrate.quad(integrand, -16, 16, points=[0.0, 1.0], limit=400)
    assert _on_grid(name, **params) == pytest.approx(expected, rel=1e-7)


def test_vanishing_densities_give_the_limits(x64):
    # P = U(0, 1), Q = U(0, 2): KL(P || Q) = log 2, TV = 1/2, KL(Q || P) = inf (Q has mass
    # where p = 0, and reverse_kl's f(0) = inf).
    x, dx = _grid(-1.0, 3.0, 40001)
    log_p = np.where((x >= 0) & (x <= 1), 0.0, -np.inf)
    log_q = np.where((x >= 0) & (x <= 2), -math.log(2.0), -np.inf)
    # The trapezoid rule is first order at the jumps: about dx / 2 of mass off at each.
    assert float(f_divergence_on_grid(log_p, log_q, dx, "kl")) == pytest.approx(
        math.log(2.0), abs=1e-3
    )
    assert float(f_divergence_on_grid(log_p, log_q, dx, "tv")) == pytest.approx(0.5, abs=1e-3)
    assert float(f_divergence_on_grid(log_p, log_q, dx, "reverse_kl")) == math.inf
    # P has mass where q = 0: KL(Q || P) = inf, TV the same 1/2 (slope 1/2 at infinity).
    assert float(f_divergence_on_grid(log_q, log_p, dx, "kl")) == math.inf
    assert float(f_divergence_on_grid(log_q, log_p, dx, "tv")) == pytest.approx(0.5, abs=1e-3)


def test_huge_ratios_use_the_slope_at_infinity_and_keep_gradients_finite(x64):
    # Neyman chi^2(N(0, 1) || N(0, s^2)) = integral q^2 / p - 1 = 1 / (s sqrt(2 - s^2)) - 1.
    # On [-30, 30] with s = 0.3 the ratio p / q reaches e^5000: f(u) = (1 - u)^2 / u
    # overflows where q f(u) = p f(u) / u is about p.
    x, dx = _grid(-30.0, 30.0, 6001)

    @jax.jit
    def neyman(s):
        log_q = -0.5 * (x / s) ** 2 - jnp.log(s) - 0.5 * math.log(2 * math.pi)
        return f_divergence_on_grid(_log_normal(x, 0.0, 1.0), log_q, dx, "neyman_chi2")

    s = 0.3
    assert float(neyman(s)) == pytest.approx(1 / (s * math.sqrt(2 - s**2)) - 1, rel=1e-9)
    grad = float(jax.grad(neyman)(s))
    h = 1e-6
    assert grad == pytest.approx((float(neyman(s + h)) - float(neyman(s - h))) / (2 * h), rel=1e-5)
    # reverse KL where p / q underflows: finite value and gradient
    kl_rev = lambda m: f_divergence_on_grid(
        _log_normal(x, 0.0, 0.2),
        -0.5 * (x - m) ** 2 - 0.5 * math.log(2 * math.pi),
        dx,
        "reverse_kl",
    )
    assert math.isfinite(float(jax.grad(kl_rev)(1.0)))


def test_maps_over_leading_axes_and_is_zero_for_equal_densities():
    x, dx = _grid(-12.0, 12.0, 2001)
    log_p = np.stack([_log_normal(x, 0.0, 1.0), _log_normal(x, 0.5, 1.0)]).astype(np.float32)
    d = f_divergence_on_grid(log_p, log_p[::-1], dx, "kl")
    assert d.shape == (2,)
    np.testing.assert_allclose(np.asarray(d), [0.125, 0.125], rtol=1e-4)  # (1/2)^2 / 2
    assert float(f_divergence_on_grid(log_p[0], log_p[0], dx, "js")) == pytest.approx(0, abs=1e-7)


def test_bad_input_is_a_clear_error():
    x, dx = _grid(-1.0, 1.0, 11)
    lp = _log_normal(x, 0.0, 1.0)
    with pytest.raises(ValueError, match="unknown f-divergence 'kullback'"):
        f_divergence_on_grid(lp, lp, dx, "kullback")
    with pytest.raises(ValueError, match="same shape"):
        f_divergence_on_grid(lp, lp[:-1], dx, "kl")
    with pytest.raises(ValueError, match="n >= 3"):
        f_divergence_on_grid(lp[:2], lp[:2], dx, "kl")
    with pytest.raises(ValueError, match="dx must be a positive"):
        f_divergence_on_grid(lp, lp, 0.0, "kl")
    with pytest.raises(ValueError, match="log_q holds NaN"):
        f_divergence_on_grid(lp, np.full_like(lp, np.nan), dx, "kl")
