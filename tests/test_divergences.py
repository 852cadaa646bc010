"""Tests for gendiff.divergences: worked examples of the notes (corrected), the f-divergence
table against numerical conjugates, Gaussian closed forms, exact 1-D Wasserstein distances."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import scipy.optimize
import scipy.special
import scipy.stats

from gendiff.distributions import normal_kl
from gendiff.divergences import (
    F_DIVERGENCES,
    FDivergence,
    chi2_divergence,
    f_divergence,
    fisher_divergence,
    gaussian_js_1d,
    gaussian_kl,
    gaussian_kl_diag,
    gaussian_w2,
    gaussian_w2_diag,
    get_f_divergence,
    hellinger_distance,
    js_divergence,
    kl_divergence,
    tv_distance,
    wasserstein_1d,
)
from gendiff.divergences.f_divergences import _log_lambertw_of_exp

LN2 = math.log(2.0)

# Every table entry, with the alpha factory at several alphas on both sides of 0 and 1.
ENTRIES = [n for n in F_DIVERGENCES if n != "alpha"] + [
    ("alpha", a) for a in (-1.5, -0.5, 0.3, 0.8, 1.5, 3.0)
]


def _entry(spec) -> FDivergence:
    """The table entry, its functions jitted (one compilation per shape instead of one per op)."""
    e = (
        get_f_divergence("alpha", alpha=spec[1])
        if isinstance(spec, tuple)
        else get_f_divergence(spec)
    )
    fns = ("f", "f_prime", "conjugate", "activation", "conjugate_of_activation")
    return dataclasses.replace(e, **{name: jax.jit(getattr(e, name)) for name in fns})


def _id(spec):
    return f"alpha={spec[1]}" if isinstance(spec, tuple) else spec


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _random_simplex(rng, shape, zeros=0):
    p = rng.gamma(1.0, size=shape)
    if zeros:
        p[..., :zeros] = 0.0
    return p / p.sum(-1, keepdims=True)


# --- CATALOG.md (c): the worked examples, with corrected values -----------------------------
def test_catalog_c1_kl_of_swapped_pair_is_symmetric():
    # F0:265-277 claims 0.8441 and 1.3268; both directions are 0.338919.
    p, q = jnp.array([0.3, 0.7]), jnp.array([0.7, 0.3])
    assert float(kl_divergence(p, q)) == pytest.approx(0.338919, abs=1e-6)
    assert float(kl_divergence(q, p)) == pytest.approx(0.338919, abs=1e-6)
    assert float(f_divergence(p, q, "kl")) == pytest.approx(0.338919, abs=1e-6)
    # The note's expression sum p (p/q) log(p/q) is not KL: it gives 1.27498.
    note = float(jnp.sum(p * (p / q) * jnp.log(p / q)))
    assert note == pytest.approx(1.274982, abs=1e-5)


def test_catalog_c2_kl_js_tv_of_half_half_vs_nine_one():
    p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
    assert float(kl_divergence(p, q)) == pytest.approx(0.510826, abs=1e-6)
    assert float(kl_divergence(q, p)) == pytest.approx(0.368064, abs=1e-6)  # note: 0.367
    js = float(js_divergence(p, q))
    tv = float(tv_distance(p, q))
    assert js == pytest.approx(0.101749, abs=1e-6)
    assert tv == pytest.approx(0.4, abs=1e-7)
    assert js <= 0.5 * float(jnp.sum(jnp.abs(p - q)))  # F4:109, JS <= 1/2 ||p - q||_1
    assert js <= LN2 * tv  # the sharper bound (Lin 1991)


def test_catalog_c3_w1_point_mass_vs_uniform_is_half_eps_while_kl_diverges():
    # F0:600-640: W1(delta_0, U[-eps, eps]) = eps / 2; the midpoint quantiles of U give it exactly.
    for eps, n in [(0.1, 1000), (2.0, 64)]:
        y = -eps + (2 * np.arange(n) + 1) * eps / n
        assert float(wasserstein_1d(jnp.zeros(1), jnp.asarray(y))) == pytest.approx(
            eps / 2, rel=1e-5
        )
    # KL(delta_0 || U) = inf: on a grid of n cells the discretised KL is log n, unbounded...
    for n in (4, 64, 1024):
        p = np.zeros(n)
        p[n // 2] = 1.0
        assert float(kl_divergence(p, np.full(n, 1.0 / n))) == pytest.approx(math.log(n), rel=1e-5)
    # ... and with mass where Q has none it is +inf (no absolute continuity), JS stays finite.
    p, q = jnp.array([1.0, 0.0, 0.0]), jnp.array([0.0, 0.5, 0.5])
    assert float(kl_divergence(p, q)) == math.inf
    assert float(js_divergence(p, q)) == pytest.approx(LN2, abs=1e-6)


def test_catalog_c4_gan_conjugate_at_minus_one(x64):
    gan = get_f_divergence("gan")
    value = float(gan.conjugate(jnp.asarray(-1.0)))
    assert value == pytest.approx(0.458675, abs=1e-6)
    u = np.geomspace(1e-6, 1e6, 200001)
    numerical = np.max(-1.0 * u - (u * np.log(u) - (u + 1) * np.log1p(u)))
    assert numerical == pytest.approx(value, abs=1e-8)
    assert float(gan.f(jnp.asarray(1.0))) == pytest.approx(-math.log(4.0))  # f(1) != 0


def test_catalog_c5_gaussian_kls():
    mu, var = jnp.array([1.0, 0.0]), jnp.full(2, 2.0)
    notes_formula = 0.5 * jnp.sum(mu**2 + var - jnp.log(var) - 1.0)  # F0:1040, F1:306
    assert float(notes_formula) == pytest.approx(0.806853, abs=1e-6)
    assert float(gaussian_kl_diag(mu, var, jnp.zeros(2), jnp.ones(2))) == pytest.approx(
        0.806853, abs=1e-6
    )
    assert float(gaussian_kl(mu, jnp.diag(var), jnp.zeros(2), jnp.eye(2))) == pytest.approx(
        0.806853, abs=1e-6
    )
    assert float(jnp.sum(normal_kl(mu, jnp.log(var), 0.0, 0.0))) == pytest.approx(
        0.806853, abs=1e-6
    )
    # Isotropic form 1/2 (k (s2 - 1 - log s2) + ||mu||^2), and equal variances ||dmu||^2 / 2 s2 (F1:986).
    k, s2 = 2, 2.0
    assert 0.5 * (k * (s2 - 1 - math.log(s2)) + 1.0) == pytest.approx(0.806853, abs=1e-6)
    m1, m2 = jnp.array([1.0, -2.0, 0.5]), jnp.array([0.0, 1.0, 0.5])
    expected = float(jnp.sum((m1 - m2) ** 2)) / (2 * 0.7)
    assert float(gaussian_kl_diag(m1, jnp.full(3, 0.7), m2, jnp.full(3, 0.7))) == pytest.approx(
        expected, rel=1e-6
    )


# --- the f-divergence table --------------------------------------------------------------------
@pytest.mark.parametrize("spec", ENTRIES, ids=_id)
def test_table_entry_generator_derivative_and_threshold(spec, x64):
    e = _entry(spec)
    one = jnp.asarray(1.0)
    assert float(e.f(one)) == pytest.approx(-math.log(4.0) if e.name == "gan" else 0.0, abs=1e-12)
    assert float(e.f_prime(one)) == pytest.approx(e.threshold, abs=1e-12)
    u = jnp.asarray(np.geomspace(1e-3, 1e3, 41))
    u = u[jnp.abs(u - 1.0) > 1e-9]  # TV has a kink at 1
    np.testing.assert_allclose(jax.vmap(jax.grad(e.f))(u), e.f_prime(u), rtol=1e-9, atol=1e-12)
    # Convexity: second differences of f on a grid are non-negative.
    g = np.asarray(e.f(jnp.linspace(0.01, 10.0, 2001)))
    assert np.all(np.diff(g, 2) >= -1e-9)
    # lim f(u) / u at infinity.
    big = 1e30
    slope = float(e.f(jnp.asarray(big))) / big
    if math.isinf(e.slope_at_infinity):
        assert slope > 3.0
    else:
        assert slope == pytest.approx(e.slope_at_infinity, abs=1e-2)


def _interior_ts(e: FDivergence):
    lo, hi = e.domain
    lo = max(lo, -6.0)
    hi = min(hi, 6.0)
    span = hi - lo
    return np.linspace(lo + 0.02 * span, hi - 0.02 * span, 25)


@pytest.mark.parametrize("spec", ENTRIES, ids=_id)
def test_table_conjugate_is_the_numerical_supremum(spec, x64):
    e = _entry(spec)
    u = np.concatenate([[0.0], np.geomspace(1e-8, 1e8, 400001)])
    fu = np.asarray(e.f(jnp.asarray(u)))
    # Points where the maximiser lies well inside the grid: t = f'(u0) for u0 in [1e-3, 1e3],
    # plus an even grid over the interior of dom f* (also below the range of f' for Pearson,
    # TV and alpha > 1, where the supremum is attained at u = 0).
    ts = np.concatenate(
        [np.asarray(e.f_prime(jnp.asarray(np.geomspace(1e-3, 1e3, 25)))), _interior_ts(e)]
    )
    if e.name == "tv":
        ts = np.clip(ts, -0.5, 0.5)
    for t in ts:
        numerical = np.max(t * u - fu)
        exact = float(e.conjugate(jnp.asarray(t)))
        assert numerical <= exact + 1e-9 * max(1.0, abs(exact))
        assert numerical == pytest.approx(exact, rel=1e-5, abs=1e-6), (e.name, t)


@pytest.mark.parametrize("spec", ENTRIES, ids=_id)
def test_table_fenchel_young_inequality_and_equality(spec, x64):
    e = _entry(spec)
    u = jnp.asarray(np.concatenate([[0.0], np.geomspace(1e-3, 1e3, 61)]))
    t = jnp.asarray(_interior_ts(e))
    gap = e.f(u)[:, None] + e.conjugate(t)[None, :] - u[:, None] * t[None, :]
    assert float(jnp.min(gap)) >= -1e-9
    # Equality at t = f'(u).
    u_pos = u[1:] if e.name != "tv" else u[1:][jnp.abs(u[1:] - 1.0) > 1e-9]
    t_star = e.f_prime(u_pos)
    equality = e.f(u_pos) + e.conjugate(t_star) - u_pos * t_star
    np.testing.assert_allclose(
        equality, 0.0, atol=1e-7 * (1.0 + float(jnp.max(jnp.abs(u_pos * t_star))))
    )
    # Outside dom f* the conjugate is +inf.
    if math.isfinite(e.domain[1]):
        assert float(e.conjugate(jnp.asarray(e.domain[1] + 0.5))) == math.inf


@pytest.mark.parametrize("spec", ENTRIES, ids=_id)
def test_table_activation_lands_in_domain_and_fused_conjugate_agrees(spec, x64):
    e = _entry(spec)
    v = jnp.linspace(-15.0, 15.0, 301)
    t = e.activation(v)
    lo, hi = e.domain
    assert bool(jnp.all((t > lo) & (t < hi)) if math.isfinite(hi) or math.isfinite(lo) else True)
    assert bool(jnp.all(jnp.diff(t) >= 0))  # monotone
    composed, fused = e.conjugate(t), e.conjugate_of_activation(v)
    finite = jnp.isfinite(composed) & (jnp.abs(composed) < 1e8)
    np.testing.assert_allclose(fused[finite], composed[finite], rtol=1e-6, atol=1e-9)
    # Where the composition is exact the fused form stays finite for all v of moderate size.
    assert bool(jnp.all(jnp.isfinite(e.conjugate_of_activation(jnp.linspace(-30.0, 30.0, 61)))))


def test_table_departures_from_the_paper_are_the_documented_ones(x64):
    t = jnp.linspace(-1.5, 1.5, 31)
    # Nowozin et al.'s JS generator/conjugate give 2 JS; the table's "js" is that halved.
    np.testing.assert_allclose(
        get_f_divergence("js_unnormalized").conjugate(t * LN2 / 2),
        -jnp.log(2.0 - jnp.exp(t * LN2 / 2)),
    )
    # Pearson: the paper's t + t^2/4 agrees for t >= -2 and exceeds the exact value below.
    pearson = get_f_divergence("pearson_chi2")
    t = jnp.linspace(-5.0, 3.0, 81)
    paper = t + t**2 / 4
    assert bool(jnp.all(paper >= pearson.conjugate(t) - 1e-12))
    np.testing.assert_allclose(paper[t >= -2], pearson.conjugate(t)[t >= -2])


def test_alpha_family_special_cases(x64):
    rng = np.random.default_rng(0)
    p, q = _random_simplex(rng, (4, 6)), _random_simplex(rng, (4, 6))
    alpha = lambda a: f_divergence(p, q, "alpha", alpha=a)
    np.testing.assert_allclose(alpha(2.0), 0.5 * f_divergence(p, q, "pearson_chi2"), rtol=1e-10)
    np.testing.assert_allclose(alpha(-1.0), 0.5 * f_divergence(p, q, "neyman_chi2"), rtol=1e-10)
    np.testing.assert_allclose(
        alpha(0.5), 2.0 * f_divergence(p, q, "squared_hellinger"), rtol=1e-10
    )
    np.testing.assert_allclose(alpha(1.0 - 1e-5), kl_divergence(p, q), rtol=1e-4)
    np.testing.assert_allclose(alpha(1e-5), kl_divergence(q, p), rtol=1e-4)


def test_jeffreys_conjugate_uses_the_lambert_function(x64):
    L = np.linspace(-40.0, 300.0, 500)
    np.testing.assert_allclose(
        np.exp(_log_lambertw_of_exp(jnp.asarray(L))),
        scipy.special.lambertw(np.exp(L)).real,
        rtol=1e-12,
    )
    grad = jax.vmap(jax.grad(_log_lambertw_of_exp))(jnp.asarray(L))
    w = scipy.special.lambertw(np.exp(L)).real
    np.testing.assert_allclose(grad, 1.0 / (1.0 + w), rtol=1e-10)  # d log W(e^L) / dL


def test_table_lookup_errors():
    with pytest.raises(ValueError, match="unknown f-divergence 'kld'.*expected one of"):
        get_f_divergence("kld")
    with pytest.raises(ValueError, match="factory"):
        get_f_divergence("alpha")
    with pytest.raises(ValueError, match="other than 0 and 1"):
        get_f_divergence("alpha", alpha=1.0)
    with pytest.raises(ValueError, match="takes no parameters"):
        get_f_divergence("kl", alpha=2.0)
    with pytest.raises(ValueError, match="unknown f-divergence"):
        f_divergence(jnp.array([0.5, 0.5]), jnp.array([0.5, 0.5]), "wasserstein")


# --- discrete divergences ----------------------------------------------------------------------
def _np_kl(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(np.where(p > 0, p * np.log(p / q), 0.0), axis=-1)


def test_discrete_divergences_match_direct_formulas(x64):
    rng = np.random.default_rng(1)
    p, q = _random_simplex(rng, (3, 7)), _random_simplex(rng, (3, 7))
    m = 0.5 * (p + q)
    np.testing.assert_allclose(kl_divergence(p, q), _np_kl(p, q), rtol=1e-12)
    np.testing.assert_allclose(
        js_divergence(p, q), 0.5 * _np_kl(p, m) + 0.5 * _np_kl(q, m), rtol=1e-12
    )
    np.testing.assert_allclose(
        js_divergence(p, q, normalization="sum"), _np_kl(p, m) + _np_kl(q, m), rtol=1e-12
    )
    np.testing.assert_allclose(tv_distance(p, q), 0.5 * np.abs(p - q).sum(-1), rtol=1e-12)
    np.testing.assert_allclose(
        hellinger_distance(p, q), np.sqrt(1.0 - np.sum(np.sqrt(p * q), -1)), rtol=1e-10
    )
    np.testing.assert_allclose(chi2_divergence(p, q), np.sum((p - q) ** 2 / q, -1), rtol=1e-12)
    assert kl_divergence(p, q).shape == (3,)


def test_f_divergence_agrees_with_the_named_functions(x64):
    rng = np.random.default_rng(2)
    p, q = _random_simplex(rng, (5, 4)), _random_simplex(rng, (5, 4))
    fd = lambda name: np.asarray(f_divergence(p, q, name))
    np.testing.assert_allclose(fd("kl"), kl_divergence(p, q), rtol=1e-12)
    np.testing.assert_allclose(fd("reverse_kl"), kl_divergence(q, p), rtol=1e-12)
    np.testing.assert_allclose(fd("js"), js_divergence(p, q), rtol=1e-10)
    np.testing.assert_allclose(fd("js_unnormalized"), 2 * js_divergence(p, q), rtol=1e-10)
    np.testing.assert_allclose(fd("gan"), 2 * js_divergence(p, q) - math.log(4.0), rtol=1e-10)
    np.testing.assert_allclose(fd("tv"), tv_distance(p, q), rtol=1e-12)
    np.testing.assert_allclose(fd("pearson_chi2"), chi2_divergence(p, q), rtol=1e-12)
    np.testing.assert_allclose(fd("neyman_chi2"), chi2_divergence(q, p), rtol=1e-12)
    np.testing.assert_allclose(
        fd("squared_hellinger"), 2 * hellinger_distance(p, q) ** 2, rtol=1e-10
    )
    np.testing.assert_allclose(
        fd("jeffreys"), kl_divergence(p, q) + kl_divergence(q, p), rtol=1e-12
    )


def test_zeros_give_the_limits_of_each_f(x64):
    # q = 0 with p > 0 costs p * lim f(u)/u; p = 0 with q > 0 costs q f(0).
    p, q = jnp.array([0.5, 0.5, 0.0]), jnp.array([0.0, 0.5, 0.5])
    expected = {  # 0.5 * slope + 0 (middle) + 0.5 * f(0), then the middle term is 0
        "kl": math.inf,
        "reverse_kl": math.inf,
        "js": 0.5 * (0.5 * LN2) + 0.5 * (0.5 * LN2),
        "tv": 0.5 * 0.5 + 0.5 * 0.5,
        "pearson_chi2": math.inf,
        "neyman_chi2": math.inf,
        "squared_hellinger": 0.5 * 1.0 + 0.5 * 1.0,
        "jeffreys": math.inf,
    }
    for name, value in expected.items():
        assert float(f_divergence(p, q, name)) == pytest.approx(value), name
    assert float(js_divergence(p, q)) == pytest.approx(0.5 * LN2)
    assert float(tv_distance(p, q)) == pytest.approx(0.5)
    assert float(chi2_divergence(p, q)) == math.inf


def test_js_is_at_most_ln2_and_reaches_it_on_disjoint_supports():
    rng = np.random.default_rng(3)
    p, q = _random_simplex(rng, (200, 5), zeros=1), _random_simplex(rng, (200, 5))
    js = js_divergence(p, q)
    assert bool(jnp.all((js >= 0) & (js <= LN2)))
    disjoint = js_divergence(jnp.array([0.2, 0.8, 0.0, 0.0]), jnp.array([0.0, 0.0, 0.3, 0.7]))
    assert float(disjoint) == pytest.approx(LN2, abs=1e-6)
    assert float(js_divergence(p[0], p[0])) == pytest.approx(0.0, abs=1e-7)
    assert float(hellinger_distance(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))) == pytest.approx(
        1.0
    )


def test_from_logits_matches_probabilities(x64):
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, 6)) * 3, rng.normal(size=(2, 6)) * 3
    p, q = scipy.special.softmax(a, -1), scipy.special.softmax(b, -1)
    for fn in (kl_divergence, js_divergence, tv_distance, hellinger_distance, chi2_divergence):
        np.testing.assert_allclose(fn(a, b, from_logits=True), fn(p, q), rtol=1e-10)
    np.testing.assert_allclose(
        f_divergence(a, b, "jeffreys", from_logits=True), f_divergence(p, q, "jeffreys"), rtol=1e-10
    )
    # A -inf logit is a zero probability.
    a_inf = a.copy()
    a_inf[:, 0] = -np.inf
    p0 = scipy.special.softmax(a_inf, -1)
    np.testing.assert_allclose(kl_divergence(a_inf, b, from_logits=True), _np_kl(p0, q), rtol=1e-10)


DISCRETE_FNS = [kl_divergence, js_divergence, tv_distance, hellinger_distance, chi2_divergence]


@pytest.mark.parametrize(
    "fn",
    DISCRETE_FNS + ["f:" + n for n in F_DIVERGENCES if n != "alpha"] + ["f:alpha"],
    ids=lambda f: f if isinstance(f, str) else f.__name__,
)
def test_values_and_gradients_are_finite_with_zero_probabilities(fn):
    if isinstance(fn, str):
        name = fn[2:]
        params = {"alpha": 0.5} if name == "alpha" else {}
        fn = lambda p, q, **kw: f_divergence(p, q, name, **kw, **params)  # noqa: E731
    # Row 0: zeros in p where q > 0 (+inf where f(0) = inf: reverse KL, Neyman, Jeffreys);
    # row 1: mass of P where q = 0 (+inf where f grows superlinearly); row 2: no zeros.
    p = jnp.array([[0.0, 0.3, 0.7, 0.0], [0.25, 0.25, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4]])
    q = jnp.array([[0.1, 0.2, 0.3, 0.4], [0.0, 0.5, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25]])
    # Logits with a -inf entry (a zero probability).
    la = jnp.array([[-jnp.inf, 1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    lb = jnp.array([[0.5, 0.1, -0.3, 0.2], [1.0, 2.0, 2.0, -1.0]])
    values = fn(p, q)  # eager, validated

    @jax.jit
    def checks(p, q, la, lb):
        finite_sum = lambda p, q: jnp.sum(jnp.where(jnp.isfinite(fn(p, q)), fn(p, q), 0.0))
        grads = jax.grad(finite_sum, argnums=(0, 1))(p, q)
        # Gradient in q of each row against central finite differences.
        row = lambda p_row, q_row: fn(p_row, q_row)
        g_rows = jax.vmap(jax.grad(row, argnums=1))(p, q)
        steps = 1e-3 * jnp.eye(4)
        fd_rows = jax.vmap(
            lambda p_row, q_row: jax.vmap(
                lambda e: (row(p_row, q_row + e) - row(p_row, q_row - e)) / 2e-3
            )(steps)
        )(p, q)
        logits_fn = lambda a, b: fn(a, b, from_logits=True)
        g_logits = jax.grad(lambda a, b: jnp.sum(logits_fn(a, b)), argnums=(0, 1))(la, lb)
        return grads, g_rows, fd_rows, g_logits, jax.vmap(logits_fn)(la, lb), logits_fn(la, lb)

    grads, g_rows, fd_rows, g_logits, batched, direct = checks(p, q, la, lb)
    assert not bool(jnp.any(jnp.isnan(values)))
    assert bool(jnp.isfinite(values[2]))
    # Infinite terms pass no gradient and zeros pass finite ones: every gradient is finite.
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)
    for r in (0, 2):
        if bool(jnp.isfinite(values[r])):
            np.testing.assert_allclose(g_rows[r], fd_rows[r], rtol=2e-2, atol=2e-3)
    # From logits every gradient is finite, also at a -inf logit; vmap over a batch agrees.
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in g_logits)
    np.testing.assert_allclose(batched, direct, rtol=1e-6)


def test_kl_gradient_in_q_is_minus_p_over_q_with_zeros_in_p(x64):
    p = jnp.array([0.0, 0.3, 0.7])
    q = jnp.array([0.2, 0.5, 0.3])
    np.testing.assert_allclose(jax.grad(kl_divergence, argnums=1)(p, q), -p / q)
    np.testing.assert_allclose(
        jax.grad(lambda p, q: f_divergence(p, q, "kl"), argnums=1)(p, q), -p / q
    )
    # d/dp of p log(p/q) = log(p/q) + 1 on the support; 0 (by convention) at p = 0.
    np.testing.assert_allclose(jax.grad(kl_divergence)(p, q)[1:], jnp.log(p / q)[1:] + 1.0)
    assert float(jax.grad(kl_divergence)(p, q)[0]) == 0.0


def test_jit_agrees_and_validation_is_skipped_when_traced():
    rng = np.random.default_rng(5)
    p, q = jnp.asarray(_random_simplex(rng, (4, 3))), jnp.asarray(_random_simplex(rng, (4, 3)))
    for fn in DISCRETE_FNS:
        np.testing.assert_allclose(jax.jit(fn)(p, q), fn(p, q), rtol=1e-6)
    # Under jit the values are not inspected, so a bad vector gives a number, not an error.
    assert jnp.isfinite(jax.jit(kl_divergence)(jnp.array([0.5, 0.6]), jnp.array([0.5, 0.5])))


def test_bad_probability_input_gives_clear_errors():
    good = jnp.array([0.5, 0.5])
    with pytest.raises(ValueError, match=r"p must sum to 1.*got sums \[1.1\].*from_logits=True"):
        kl_divergence(jnp.array([0.5, 0.6]), good)
    with pytest.raises(ValueError, match="q has negative entries.*expected probabilities >= 0"):
        js_divergence(good, jnp.array([1.2, -0.2]))
    with pytest.raises(ValueError, match=r"same shape, got p \(2,\) and q \(3,\)"):
        tv_distance(good, jnp.array([0.2, 0.3, 0.5]))
    with pytest.raises(ValueError, match="NaN or inf"):
        hellinger_distance(jnp.array([jnp.nan, 1.0]), good)
    with pytest.raises(ValueError, match="at least one axis"):
        chi2_divergence(jnp.asarray(1.0), jnp.asarray(1.0))
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        kl_divergence(jnp.array([jnp.inf, 0.0]), good, from_logits=True)
    with pytest.raises(ValueError, match="normalization must be 'mean' or 'sum'"):
        js_divergence(good, good, normalization="half")
    # validate=False skips the value checks (not the shape check).
    assert jnp.isfinite(kl_divergence(jnp.array([0.5, 0.6]), good, validate=False))
    with pytest.raises(ValueError, match="same shape"):
        kl_divergence(good, jnp.ones(3) / 3, validate=False)


# --- Gaussians ---------------------------------------------------------------------------------
def _spd(rng, d, scale=1.0):
    a = rng.normal(size=(d, d))
    return scale * (a @ a.T / d + 0.3 * np.eye(d))


def test_gaussian_kl_matches_monte_carlo(x64):
    rng = np.random.default_rng(6)
    d = 3
    mp, mq = rng.normal(size=d), rng.normal(size=d)
    Sp, Sq = _spd(rng, d), _spd(rng, d, 2.0)
    x = rng.multivariate_normal(mp, Sp, size=200_000)
    log_ratio = scipy.stats.multivariate_normal(mp, Sp).logpdf(x) - scipy.stats.multivariate_normal(
        mq, Sq
    ).logpdf(x)
    mc, se = log_ratio.mean(), log_ratio.std() / math.sqrt(len(x))
    value = float(gaussian_kl(mp, Sp, mq, Sq))
    assert abs(value - mc) < 4 * se
    assert se < 0.01  # the check is sharp enough to catch a wrong term


def test_gaussian_kl_full_equals_diagonal_and_maps_over_batches(x64):
    rng = np.random.default_rng(7)
    mp, mq = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    vp, vq = rng.uniform(0.2, 3.0, (5, 4)), rng.uniform(0.2, 3.0, (5, 4))
    full = gaussian_kl(mp, jax.vmap(jnp.diag)(vp), mq, jax.vmap(jnp.diag)(vq))
    assert full.shape == (5,)
    np.testing.assert_allclose(full, gaussian_kl_diag(mp, vp, mq, vq), rtol=1e-12)
    np.testing.assert_allclose(
        gaussian_kl_diag(mp, vp, mq, vq),
        jnp.sum(normal_kl(mp, jnp.log(vp), mq, jnp.log(vq)), -1),
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match=r"cov_q must have shape \(4, 4\)"):
        gaussian_kl(mp[0], jnp.eye(4), mq[0], jnp.eye(3))
    with pytest.raises(ValueError, match="mean_p and mean_q must have the same shape"):
        gaussian_kl_diag(mp[0], vp[0], mq[0, :3], vq[0, :3])


def test_gaussian_w2_closed_forms(x64):
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2.
    got = gaussian_w2(
        jnp.array([1.0]), jnp.array([[4.0]]), jnp.array([-1.0]), jnp.array([[0.25]]), squared=True
    )
    assert float(got) == pytest.approx(4.0 + 1.5**2, rel=1e-12)
    # Commuting covariances U diag(a) U^T, U diag(b) U^T: ||dm||^2 + sum (sqrt a - sqrt b)^2.
    rng = np.random.default_rng(8)
    U, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    a, b = rng.uniform(0.1, 3.0, 4), rng.uniform(0.1, 3.0, 4)
    m1, m2 = rng.normal(size=4), rng.normal(size=4)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = gaussian_w2(m1, U @ np.diag(a) @ U.T, m2, U @ np.diag(b) @ U.T)
    assert float(got) == pytest.approx(math.sqrt(expected), rel=1e-10)
    assert float(gaussian_w2_diag(m1, a, m2, b)) == pytest.approx(math.sqrt(expected), rel=1e-12)
    # General covariances against scipy's matrix square root (the Frechet distance formula).
    S1, S2 = _spd(rng, 4), _spd(rng, 4, 3.0)
    root = scipy.linalg.sqrtm(scipy.linalg.sqrtm(S1) @ S2 @ scipy.linalg.sqrtm(S1)).real
    expected = np.sum((m1 - m2) ** 2) + np.trace(S1 + S2 - 2 * root)
    assert float(gaussian_w2(m1, S1, m2, S2, squared=True)) == pytest.approx(expected, rel=1e-10)
    assert float(gaussian_w2(m1, S1, m2, S2, squared=True)) == pytest.approx(
        float(gaussian_w2(m2, S2, m1, S1, squared=True)), rel=1e-10
    )


def test_gaussian_w2_agrees_with_the_sample_quantile_distance(x64):
    # The 1-D W2 between Gaussians equals W2 between their quantile functions.
    n = 20_000
    t = (np.arange(n) + 0.5) / n
    z = scipy.stats.norm.ppf(t)
    x, y = 0.3 + 1.5 * z, -1.0 + 0.5 * z
    exact = float(
        gaussian_w2(jnp.array([0.3]), jnp.array([[2.25]]), jnp.array([-1.0]), jnp.array([[0.25]]))
    )
    assert float(wasserstein_1d(x, y, p=2)) == pytest.approx(exact, rel=1e-3)


def test_gaussian_w2_gradients_finite_at_equal_gaussians():
    m, S = jnp.zeros(3), jnp.eye(3)
    grads = jax.grad(lambda m, S: gaussian_w2(m, S, jnp.zeros(3), jnp.eye(3)), argnums=(0, 1))(m, S)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)
    grads = jax.grad(lambda S: gaussian_w2(m, S, m + 1.0, 2.0 * jnp.eye(3), squared=True))(S)
    assert bool(jnp.all(jnp.isfinite(grads)))
    assert float(gaussian_w2(m, S, m, S)) == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize(
    "params",
    [(0.0, 1.0, 1.0, 1.0), (0.0, 1.0, 0.0, 3.0), (-2.0, 0.5, 1.0, 2.0), (0.0, 0.05, 4.0, 1.0)],
)
def test_gaussian_js_1d_against_adaptive_quadrature(params, x64):
    mp, sp, mq, sq = params
    p, q = scipy.stats.norm(mp, sp), scipy.stats.norm(mq, sq)

    def integrand(x):
        lp, lq = p.logpdf(x), q.logpdf(x)
        lm = np.logaddexp(lp, lq) - LN2
        return 0.5 * (np.exp(lp) * (lp - lm) + np.exp(lq) * (lq - lm))

    lo, hi = min(mp - 12 * sp, mq - 12 * sq), max(mp + 12 * sp, mq + 12 * sq)
    points = sorted({mp, mq, mp - 3 * sp, mp + 3 * sp, mq - 3 * sq, mq + 3 * sq})
    expected, _ = scipy.integrate.quad(integrand, lo, hi, points=points, limit=400, epsabs=1e-12)
    got = float(gaussian_js_1d(mp, sp, mq, sq))
    assert got == pytest.approx(expected, abs=1e-6)
    assert 0.0 <= got <= LN2
    assert float(gaussian_js_1d(mq, sq, mp, sp)) == pytest.approx(got, abs=1e-9)


def test_gaussian_js_1d_broadcasts_and_tends_to_ln2_far_apart():
    js = gaussian_js_1d(jnp.zeros(3), jnp.ones(3), jnp.array([0.0, 1.0, 40.0]), 1.0)
    assert js.shape == (3,)
    assert float(js[0]) == pytest.approx(0.0, abs=1e-6)
    assert float(js[2]) == pytest.approx(LN2, abs=1e-5)
    assert 0.0 < float(js[1]) < LN2


# --- exact 1-D Wasserstein -------------------------------------------------------------------
def test_wasserstein_1d_matches_scipy_with_and_without_weights(x64):
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=37), rng.standard_t(3, size=53) + 0.5
    wx, wy = rng.uniform(0.0, 2.0, 37), rng.uniform(0.1, 1.0, 53)
    assert float(wasserstein_1d(x, y)) == pytest.approx(
        scipy.stats.wasserstein_distance(x, y), rel=1e-12
    )
    assert float(wasserstein_1d(x, y, x_weights=wx, y_weights=wy)) == pytest.approx(
        scipy.stats.wasserstein_distance(x, y, wx, wy), rel=1e-12
    )
    assert float(wasserstein_1d(x, y, y_weights=wy)) == pytest.approx(
        scipy.stats.wasserstein_distance(x, y, None, wy), rel=1e-12
    )
    # Ties and repeated values.
    xt, yt = np.array([0.0, 0.0, 1.0, 1.0, 1.0]), np.array([1.0, 2.0, 2.0])
    assert float(wasserstein_1d(xt, yt)) == pytest.approx(
        scipy.stats.wasserstein_distance(xt, yt), rel=1e-12
    )


def _transport_lp(x, y, wx, wy, p):
    # The discrete optimal-transport linear programme, solved independently of the 1-D formula.
    n, m = len(x), len(y)
    cost = np.abs(x[:, None] - y[None, :]) ** p
    rows = np.kron(np.eye(n), np.ones(m))
    cols = np.kron(np.ones(n), np.eye(m))
    res = scipy.optimize.linprog(
        cost.ravel(),
        A_eq=np.vstack([rows, cols]),
        b_eq=np.concatenate([wx / wx.sum(), wy / wy.sum()]),
        bounds=(0, None),
        method="highs",
    )
    return res.fun ** (1.0 / p)


@pytest.mark.parametrize("p", [1, 2, 3, 1.5])
def test_wasserstein_1d_equals_the_transport_linear_programme(p, x64):
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=6), rng.normal(size=8) * 2.0
    wx, wy = rng.uniform(0.1, 1.0, 6), rng.uniform(0.1, 1.0, 8)
    assert float(wasserstein_1d(x, y, p, wx, wy)) == pytest.approx(
        _transport_lp(x, y, wx, wy, p), rel=1e-7
    )
    # Equal sizes, no weights: the sorted matching.
    a, b = rng.normal(size=50), rng.normal(size=50)
    expected = np.mean(np.abs(np.sort(a) - np.sort(b)) ** p) ** (1.0 / p)
    assert float(wasserstein_1d(a, b, p)) == pytest.approx(expected, rel=1e-12)


def test_wasserstein_1d_is_zero_iff_equal_jits_and_has_finite_gradients():
    x = jnp.array([0.3, -1.0, 2.0, 0.0])
    for p in (1, 2):
        assert float(wasserstein_1d(x, x[::-1], p)) == 0.0
        g = jax.grad(lambda a: wasserstein_1d(a, x, p))(x)
        assert bool(jnp.all(jnp.isfinite(g)))
    assert float(jax.jit(wasserstein_1d, static_argnums=2)(x, x + 1.0, 2)) == pytest.approx(
        1.0, rel=1e-6
    )
    # The gradient moves each sample towards its matched partner: d W1 / d x_i = w_i sign(x_i - y_j).
    g = jax.grad(wasserstein_1d)(jnp.array([0.0, 1.0]), jnp.array([2.0, 3.0]))
    np.testing.assert_allclose(g, [-0.5, -0.5])


def test_wasserstein_1d_bad_input():
    with pytest.raises(
        ValueError, match=r"x must be a non-empty 1-D sample \(n,\), got shape \(2, 2\)"
    ):
        wasserstein_1d(jnp.ones((2, 2)), jnp.ones(3))
    with pytest.raises(ValueError, match=r"y_weights must have the shape of y, \(3,\); got \(2,\)"):
        wasserstein_1d(jnp.ones(2), jnp.ones(3), y_weights=jnp.ones(2))
    with pytest.raises(ValueError, match="non-negative and have a positive sum"):
        wasserstein_1d(jnp.ones(2), jnp.ones(3), x_weights=jnp.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="p must be >= 1"):
        wasserstein_1d(jnp.ones(2), jnp.ones(3), p=0.5)


# --- Fisher divergence -----------------------------------------------------------------------
def test_fisher_divergence_of_two_gaussians_matches_closed_form(x64):
    # p = N(m1, s1^2), q = N(m2, s2^2): s_p - s_q = c1 x + c0, E_p (c1 x + c0)^2 = (c1 m1 + c0)^2 + c1^2 s1^2.
    m1, s1, m2, s2 = 0.5, 1.2, -0.3, 0.7
    x = m1 + s1 * jax.random.normal(jax.random.key(0), (400_000, 1), jnp.float64)
    score_p = lambda x: -(x - m1) / s1**2
    score_q = lambda x: -(x - m2) / s2**2
    c1, c0 = 1 / s2**2 - 1 / s1**2, m1 / s1**2 - m2 / s2**2
    expected = (c1 * m1 + c0) ** 2 + c1**2 * s1**2
    assert float(fisher_divergence(score_p, score_q, x)) == pytest.approx(expected, rel=1e-2)
    # The standard form is >= 0; the notes' E||s_p||^2 - E||s_q||^2 (F4:91) is negative here.
    notes = float(jnp.mean(score_p(x) ** 2 - score_q(x) ** 2))
    assert notes < 0 < float(fisher_divergence(score_p, score_q, x))
    assert float(fisher_divergence(score_p, score_p, x)) == 0.0


def test_fisher_divergence_bad_shapes():
    x = jnp.ones((4, 2))
    with pytest.raises(
        ValueError, match=r"score_q must return the shape of x, \(4, 2\); got \(4,\)"
    ):
        fisher_divergence(lambda x: x, lambda x: x[:, 0], x)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, dim, ...\)"):
        fisher_divergence(lambda x: x, lambda x: x, jnp.ones(4))
