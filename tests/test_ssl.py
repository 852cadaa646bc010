"""Tests for gendiff.ssl: NCE, InfoNCE / NT-Xent, MI bounds, masks, masked loss, JEPA, collapse."""

import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff import ssl
from gendiff.ssl.masking import _block_shape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG_2PI = math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------------------- NCE
def _log_noise(x, scale=2.0):
    return -0.5 * (x / scale) ** 2 - 0.5 * LOG_2PI - math.log(scale)


def _gauss_model(mu, x):  # log phi(x; mu), unit variance
    return -0.5 * (x - mu) ** 2


@pytest.mark.parametrize("nu", [None, 0.7])
def test_nce_gradient_matches_closed_form(nu):
    """Autodiff of -J against eq. (3): mean (1 - h) dG on data minus nu mean h dG on noise."""
    kd, kn = jax.random.split(jax.random.key(0))
    x = 1.0 + jax.random.normal(kd, (5,))
    y = 2.0 * jax.random.normal(kn, (15,))
    params = {"model": jnp.float32(0.3), "log_normalizer": jnp.float32(0.4)}
    model = ssl.with_log_normalizer(_gauss_model)
    grads = jax.grad(lambda p: ssl.nce_loss(model, p, x, y, _log_noise, nu=nu)[0])(params)

    nu_v = 15 / 5 if nu is None else nu
    mu, log_z = 0.3, 0.4

    def g(u):  # G(u) - log nu
        return -0.5 * (u - mu) ** 2 - log_z - _log_noise(u) - math.log(nu_v)

    h_x, h_y = jax.nn.sigmoid(g(x)), jax.nn.sigmoid(g(y))
    # dG/dmu = u - mu, dG/dlogZ = -1; the loss is -J.
    d_mu = -(jnp.mean((1 - h_x) * (x - mu)) - nu_v * jnp.mean(h_y * (y - mu)))
    d_logz = -(jnp.mean((1 - h_x) * -1.0) - nu_v * jnp.mean(h_y * -1.0))
    np.testing.assert_allclose(grads["model"], d_mu, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads["log_normalizer"], d_logz, rtol=1e-5, atol=1e-6)


def test_nce_value_matches_hand_computation():
    g_data, g_noise = jnp.array([0.5, -1.0]), jnp.array([2.0, 0.0, -3.0, 1.0])  # nu = 2
    loss, m = ssl.nce_loss_from_log_ratios(g_data, g_noise)
    ln2 = math.log(2.0)
    sig = lambda t: 1 / (1 + math.exp(-t))
    data = np.mean([math.log(sig(g - ln2)) for g in (0.5, -1.0)])
    noise = np.mean([math.log(1 - sig(g - ln2)) for g in (2.0, 0.0, -3.0, 1.0)])
    np.testing.assert_allclose(loss, -(data + 2 * noise), rtol=1e-6)
    np.testing.assert_allclose(m["accuracy"], (0 + 2 * 2 / 4) / 3, rtol=1e-6)


@jax.jit
def _nce_newton(x, y, nu):
    """NCE for log p_m(x) = a x + b x^2 - c (natural parameters: -J is convex), by Newton."""

    def loss(theta):
        a, b, c = theta
        lm = lambda u: a * u + b * u * u - c
        return ssl.nce_loss_from_log_ratios(
            lm(x) - _log_noise(x), lm(y) - _log_noise(y), nu=nu
        )[0]

    def step(theta, _):
        gr, he = jax.grad(loss)(theta), jax.hessian(loss)(theta)
        return theta - jnp.linalg.solve(he, gr), None

    theta0 = jnp.array([0.0, -0.125, 0.5 * LOG_2PI + math.log(2.0)])  # p_m = p_n
    theta, _ = jax.lax.scan(step, theta0, None, length=25)
    return theta, jnp.max(jnp.abs(jax.grad(loss)(theta)))


@pytest.mark.parametrize("nu", [1, 20])
def test_nce_recovers_the_log_normaliser(nu):
    """Data N(1, 0.8^2), noise N(0, 2^2); the learned c must equal the log-normaliser of
    exp(a x + b x^2) at the true (a, b), and of the fitted (a, b) (self-normalisation)."""
    mu, sigma, n_data = 1.0, 0.8, 20_000
    kd, kn = jax.random.split(jax.random.key(1))
    x = mu + sigma * jax.random.normal(kd, (n_data,))
    y = 2.0 * jax.random.normal(kn, (nu * n_data,))
    theta, grad_max = _nce_newton(x, y, float(nu))
    a, b, c = (float(v) for v in theta)
    assert grad_max < 1e-4
    true_a, true_b = mu / sigma**2, -0.5 / sigma**2
    true_log_z = true_a**2 / (-4 * true_b) + 0.5 * math.log(math.pi / -true_b)
    fitted_log_z = a**2 / (-4 * b) + 0.5 * math.log(math.pi / -b)
    assert abs(c - true_log_z) < 0.05, (c, true_log_z)
    assert abs(c - fitted_log_z) < 0.02, (c, fitted_log_z)
    np.testing.assert_allclose([-a / (2 * b), math.sqrt(-0.5 / b)], [mu, sigma], atol=0.03)


def test_nce_stationary_at_the_truth_in_expectation():
    """Eq. (3) by quadrature: at p_m = p_d the expected gradient is 0 for any nu."""
    u = jnp.linspace(-12.0, 12.0, 40_001)
    du = u[1] - u[0]
    log_pd = -0.5 * ((u - 1.0) / 0.8) ** 2 - 0.5 * LOG_2PI - math.log(0.8)
    for nu in (0.5, 1.0, 5.0):
        g = log_pd - _log_noise(u) - math.log(nu)
        h = jax.nn.sigmoid(g)
        # Integrand of E_d[(1 - h) dG] - nu E_n[h dG] for dG = 1 (log-normaliser) and u.
        for dg in (jnp.ones_like(u), u):
            val = jnp.sum(
                (jnp.exp(log_pd) * (1 - h) - nu * jnp.exp(_log_noise(u)) * h) * dg
            ) * du
            assert abs(float(val)) < 1e-5


# ------------------------------------------------------------------------------------ InfoNCE
def test_info_nce_never_exceeds_log_batch_size():
    n = 16
    for seed, scale in enumerate([0.1, 1.0, 10.0, 1e3, 1e5]):
        s = scale * jax.random.normal(jax.random.key(seed), (n, n))
        assert float(ssl.infonce_bound(s)) <= math.log(n) + 1e-6
        # Diagonal far above everything: the bound reaches log N and stops there.
        s = s + 1e6 * jnp.eye(n)
        np.testing.assert_allclose(ssl.infonce_bound(s), math.log(n), rtol=1e-6)
    z = jax.random.normal(jax.random.key(9), (n, 8))
    for critic in ("cosine", "dot"):
        for tau in (0.01, 0.1, 1.0):
            _, m = ssl.info_nce_loss(z, z, temperature=tau, critic=critic)
            assert float(m["mi_lower_bound"]) <= math.log(n) + 1e-6


def _hand_info_nce(a, b, tau, cosine):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if cosine:
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
    total = 0.0
    for i in range(len(a)):
        num = math.exp(a[i] @ b[i] / tau)
        den = sum(math.exp(a[i] @ b[j] / tau) for j in range(len(b)))
        total += -math.log(num / den)
    return total / len(a)


A = [[1.0, 2.0], [0.5, -1.0], [-2.0, 0.3]]
B = [[0.8, 1.5], [1.0, -0.5], [-1.0, -1.0]]


@pytest.mark.parametrize("critic", ["cosine", "dot"])
def test_info_nce_equals_hand_computation(critic):
    loss, m = ssl.info_nce_loss(jnp.array(A), jnp.array(B), temperature=0.5, critic=critic)
    expected = _hand_info_nce(A, B, 0.5, critic == "cosine")
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    np.testing.assert_allclose(m["mi_lower_bound"], math.log(3) - expected, rtol=1e-5)
    loss_sym, _ = ssl.info_nce_loss(
        jnp.array(A), jnp.array(B), temperature=0.5, critic=critic, symmetric=True
    )
    expected_sym = 0.5 * (expected + _hand_info_nce(B, A, 0.5, critic == "cosine"))
    np.testing.assert_allclose(loss_sym, expected_sym, rtol=1e-5)


def test_nt_xent_equals_hand_computation():
    tau = 0.5
    z = np.concatenate([np.asarray(A), np.asarray(B)])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n = len(A)
    total = 0.0
    for k in range(2 * n):
        pos = (k + n) % (2 * n)
        den = sum(math.exp(z[k] @ z[j] / tau) for j in range(2 * n) if j != k)
        total += -math.log(math.exp(z[k] @ z[pos] / tau) / den)
    loss, m = ssl.nt_xent_loss(jnp.array(A), jnp.array(B), temperature=tau)
    np.testing.assert_allclose(loss, total / (2 * n), rtol=1e-5)
    assert float(m["mi_lower_bound"]) <= math.log(2 * n - 1) + 1e-6


def _gaussian_estimates(mi, num_batches, batch, dim=20):
    rho = ssl.rho_for_mi(mi, dim)

    @jax.jit
    def one(key):
        x, y = ssl.sample_correlated_gaussians(key, batch, dim, rho)
        s = ssl.optimal_log_ratio_scores(x, y, rho)
        return jnp.stack([ssl.infonce_bound(s), ssl.nwj_bound(s + 1.0), ssl.js_critic_loss(s)[1]["mi"]])

    keys = jax.random.split(jax.random.key(int(mi * 10)), num_batches)
    return np.asarray(jax.lax.map(one, keys))


def test_info_nce_at_the_optimal_critic_is_within_ten_percent_at_two_nats():
    """Correlated Gaussians, d = 20, I = 2 nats, batch 1024: the optimal critic log p(y|x)/p(y)."""
    mi = 2.0
    assert ssl.correlated_gaussian_mi(ssl.rho_for_mi(mi, 20), 20) == pytest.approx(mi)
    est = _gaussian_estimates(mi, 8, 1024)[:, 0]
    assert np.all(est <= math.log(1024))
    assert abs(est.mean() - mi) < 0.1 * mi, est.mean()
    assert est.mean() < mi + 3 * est.std() / math.sqrt(len(est))  # a lower bound


def test_nwj_and_js_are_tight_at_the_optimal_critic_and_below_elsewhere():
    """At their optimal critics NWJ and JS (NWJ at f + 1) are unbiased; any other critic gives
    less in expectation (checked with scaled and shifted critics, large batches)."""
    mi, dim, batch = 2.0, 20, 512
    rho = ssl.rho_for_mi(mi, dim)
    est = _gaussian_estimates(mi, 8, batch)
    for col in (1, 2):  # NWJ, JS
        mean, se = est[:, col].mean(), est[:, col].std() / math.sqrt(len(est))
        assert abs(mean - mi) < max(4 * se, 0.05), (col, mean, se)

    @jax.jit
    def perturbed(key):
        x, y = ssl.sample_correlated_gaussians(key, batch, dim, rho)
        s = ssl.optimal_log_ratio_scores(x, y, rho)
        return jnp.stack([ssl.nwj_bound(1.0 + t(s)) for t in (lambda s: 0.5 * s, lambda s: 1.5 * s, lambda s: s + 0.5, lambda s: s - 0.5)])

    vals = np.asarray(jax.lax.map(perturbed, jax.random.split(jax.random.key(5), 8)))
    # Exact expectations at s + c: 1 + I + c - e^c (< I for c != 0): 1.851 for c = +-0.5 ...
    np.testing.assert_allclose(vals[:, 2:].mean(axis=0), [mi + 1.5 - math.exp(0.5), mi + 0.5 - math.exp(-0.5)], atol=0.05)
    assert np.all(vals.mean(axis=0) < mi - 0.1), vals.mean(axis=0)

    # JS's own training objective peaks at the log-ratio (so NWJ at f + 1 is then tight).
    @jax.jit
    def js_objectives(key):
        x, y = ssl.sample_correlated_gaussians(key, batch, dim, rho)
        s = ssl.optimal_log_ratio_scores(x, y, rho)
        return jnp.stack([ssl.js_critic_loss(t)[1]["js"] for t in (s, 0.5 * s, 1.5 * s, s + 0.5, s - 0.5)])

    js = np.asarray(jax.lax.map(js_objectives, jax.random.split(jax.random.key(6), 4))).mean(axis=0)
    assert np.all(js[0] > js[1:]), js


def _bilinear_scores(params, x, y):
    return x @ params["w"] @ y.T + params["c"]


def test_mine_gradient_is_the_bias_corrected_one():
    """-grad(loss) equals E_P[grad f] - E_Q[e^f grad f] / m_t, the gradient with the moving
    average m_t = decay m_{t-1} + (1 - decay) E_Q[e^f] in the denominator (per-pair jacobians)."""
    kx, ky, kw = jax.random.split(jax.random.key(3), 3)
    n, d = 6, 3
    x, y = jax.random.normal(kx, (n, d)), jax.random.normal(ky, (n, d))
    params = {"w": 0.3 * jax.random.normal(kw, (d, d)), "c": jnp.float32(0.2)}
    est = ssl.mine(decay=0.8)
    state = ssl.MineState(count=jnp.asarray(4, jnp.int32), log_moving_average=jnp.log(2.5))
    loss_fn = lambda p: est.update(_bilinear_scores(p, x, y), state)
    grads, (metrics, new_state) = jax.grad(loss_fn, has_aux=True)(params)

    s = _bilinear_scores(params, x, y)
    off = ~np.eye(n, dtype=bool)
    m_t = 0.8 * 2.5 + 0.2 * float(jnp.mean(jnp.exp(s[off])))
    np.testing.assert_allclose(metrics["moving_average"], m_t, rtol=1e-5)
    np.testing.assert_allclose(jnp.exp(new_state.log_moving_average), m_t, rtol=1e-5)
    assert int(new_state.count) == 5
    jac = jax.jacobian(_bilinear_scores)(params, x, y)  # d s_ij / d params, leaves (n, n, ...)
    for name in ("w", "c"):
        j = np.asarray(jac[name]).reshape(n, n, -1)
        e = np.exp(np.asarray(s))[..., None]
        expected = j[~off].mean(axis=0) - (e * j)[off].mean(axis=0) / m_t
        np.testing.assert_allclose(-np.asarray(grads[name]).reshape(-1), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(metrics["mi"], ssl.dv_bound(s), rtol=1e-6)


def test_mine_first_step_is_the_plain_dv_gradient():
    """With m_1 = E_Q[e^f] of the batch, the corrected gradient is autodiff of the DV bound."""
    kx, ky, kw = jax.random.split(jax.random.key(4), 3)
    x, y = jax.random.normal(kx, (5, 2)), jax.random.normal(ky, (5, 2))
    params = {"w": jax.random.normal(kw, (2, 2)), "c": jnp.float32(-0.1)}
    est = ssl.mine(decay=0.99)
    g_mine = jax.grad(lambda p: est.update(_bilinear_scores(p, x, y), est.init())[0])(params)
    g_dv = jax.grad(lambda p: ssl.dv_bound(_bilinear_scores(p, x, y)))(params)
    for name in ("w", "c"):
        np.testing.assert_allclose(-g_mine[name], g_dv[name], rtol=1e-5, atol=1e-6)


def test_mine_moving_average_does_not_overflow():
    est = ssl.mine(decay=0.5)
    s = jnp.full((4, 4), 200.0)  # e^200 overflows float32
    loss, (m, state) = est.update(s, est.init())
    loss, (m, state) = est.update(s, state)
    assert np.isfinite(float(loss)) and np.isfinite(float(state.log_moving_average))
    np.testing.assert_allclose(state.log_moving_average, 200.0, rtol=1e-6)


# --------------------------------------------------------------------------------------- masks
@pytest.mark.parametrize("kind", ["random", "block", "span"])
@pytest.mark.parametrize("grid,ratio", [((4, 4), 0.25), ((4, 4), 0.75), ((7, 7), 0.6), ((2, 10), 0.5), (12, 1 / 3)])
def test_masks_have_exactly_the_requested_ratio(kind, grid, ratio):
    length = grid if isinstance(grid, int) else grid[0] * grid[1]
    masks = ssl.sample_masks(jax.random.key(0), 64, kind, grid, ratio, num_spans=2 if kind == "span" else 1)
    assert masks.shape == (64, length) and masks.dtype == jnp.bool_
    counts = np.asarray(masks.sum(axis=1))
    assert np.all(counts == round(ratio * length))
    if float(ratio * length).is_integer():
        assert np.all(counts / length == ratio)
    # One key per example: the masks differ between examples (a block can sit in only
    # (H - bh + 1)(W - bw + 1) places, and all of them turn up).
    distinct = len({m.tobytes() for m in np.asarray(masks)})
    if kind == "block":
        h, w = (1, grid) if isinstance(grid, int) else grid
        bh, bw = _block_shape(round(ratio * length), h, w)
        assert distinct == (h - bh + 1) * (w - bw + 1)
    else:
        assert distinct > 10


def test_block_mask_is_one_rectangle_and_spans_are_runs():
    for seed in range(20):
        m = np.asarray(ssl.block_patch_mask(jax.random.key(seed), (7, 7), 0.4)).reshape(7, 7)
        rows, cols = np.nonzero(m)
        box = m[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        # The bounding box is filled in raster order: full rows, then a partial last row.
        assert box[:-1].all() and box[-1][: box[-1].sum()].all()
        s = np.asarray(ssl.span_mask(jax.random.key(seed), 30, 0.4, num_spans=3)).astype(int)
        runs = np.sum(np.diff(np.concatenate([[0], s])) == 1)
        assert 1 <= runs <= 3 and s.sum() == 12


def test_random_mask_is_uniform_over_positions():
    masks = ssl.sample_masks(jax.random.key(2), 4000, "random", (4, 4), 0.25)
    freq = np.asarray(masks.mean(axis=0))
    assert np.all(np.abs(freq - 0.25) < 4 * math.sqrt(0.25 * 0.75 / 4000))


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_masked_loss_ignores_unmasked_positions(loss):
    kp, kt, km = jax.random.split(jax.random.key(0), 3)
    b, length, d = 3, 8, 5
    mask = ssl.sample_masks(km, b, "random", length, 0.5)
    pred = jax.random.normal(kp, (b, length, d))
    target = (
        jax.random.normal(kt, (b, length, d))
        if loss == "mse"
        else jax.random.randint(kt, (b, length), 0, d)
    )
    value, metrics = ssl.masked_reconstruction_loss(pred, target, mask, loss=loss)
    # Garbage (even inf) at the visible positions changes nothing.
    junk = jnp.where(mask[..., None], pred, jnp.inf)
    value_junk, _ = ssl.masked_reconstruction_loss(junk, target, mask, loss=loss)
    np.testing.assert_allclose(value_junk, value, rtol=1e-6)
    grad = jax.grad(lambda p: ssl.masked_reconstruction_loss(p, target, mask, loss=loss)[0])(pred)
    assert np.all(np.asarray(grad)[~np.asarray(mask)] == 0.0)
    assert np.any(np.asarray(grad)[np.asarray(mask)] != 0.0)
    # Against a direct computation over the masked positions.
    mk = np.asarray(mask)
    if loss == "mse":
        per = np.mean((np.asarray(pred) - np.asarray(target)) ** 2, axis=-1)
    else:
        lp = np.asarray(jax.nn.log_softmax(pred))
        per = -np.take_along_axis(lp, np.asarray(target)[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(value, per[mk].mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["visible_loss"], per[~mk].mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["mask_fraction"], 0.5)


def test_patchify_round_trip_and_order():
    x = jax.random.normal(jax.random.key(0), (2, 8, 12, 3))
    p = ssl.patchify(x, 4)
    assert p.shape == (2, 6, 48)
    np.testing.assert_array_equal(p[1, 4], x[1, 4:8, 4:8, :].reshape(-1))  # row 1, column 1
    np.testing.assert_array_equal(ssl.unpatchify(p, (8, 12, 3)), x)


# ---------------------------------------------------------------------------------------- JEPA
def _encoder(params, patches, positions):
    return jnp.tanh(patches @ params["w"] + params["pos"][positions])


def _predictor(params, z_context, context_positions, target_positions):
    pooled = jnp.mean(z_context, axis=1, keepdims=True) @ params["v"]
    return pooled + params["pos"][target_positions]


def _jepa_setup():
    keys = jax.random.split(jax.random.key(0), 6)
    length, d, e = 16, 6, 4
    enc = {"w": jax.random.normal(keys[0], (d, e)), "pos": jax.random.normal(keys[1], (length, e))}
    pred = {"v": jax.random.normal(keys[2], (e, e)), "pos": jax.random.normal(keys[3], (length, e))}
    target = jax.tree.map(lambda a: a + 0.1, enc)
    patches = jax.random.normal(keys[4], (3, length, d))
    ctx, tgt = ssl.sample_jepa_positions(keys[5], 3, (4, 4), target_ratio=0.25, context_ratio=0.5)
    return {"encoder": enc, "predictor": pred}, target, patches, ctx, tgt


def test_jepa_loss_value_and_positions():
    params, target, patches, ctx, tgt = _jepa_setup()
    assert ctx.shape == (3, 8) and tgt.shape == (3, 4)
    for c, t in zip(np.asarray(ctx), np.asarray(tgt)):
        assert not set(c) & set(t)  # context and targets are disjoint
    loss, m = ssl.jepa_loss(params, target, patches, ctx, tgt, encoder_apply=_encoder, predictor_apply=_predictor)
    z_t = np.stack([np.asarray(_encoder(target, patches[b], jnp.arange(16)))[np.asarray(tgt[b])] for b in range(3)])
    z_c = np.stack([np.asarray(_encoder(params["encoder"], patches[b][ctx[b]], ctx[b])) for b in range(3)])
    z_p = np.asarray(_predictor(params["predictor"], jnp.asarray(z_c), ctx, tgt))
    np.testing.assert_allclose(loss, np.mean(np.sum((z_p - z_t) ** 2, -1)), rtol=1e-5)


@pytest.mark.parametrize("normalize", [False, True])
def test_jepa_target_encoder_gets_zero_gradient(normalize):
    params, target, patches, ctx, tgt = _jepa_setup()
    kw = dict(encoder_apply=_encoder, predictor_apply=_predictor, normalize_targets=normalize)
    g_params, g_target = jax.grad(
        lambda p, t: ssl.jepa_loss(p, t, patches, ctx, tgt, **kw)[0], argnums=(0, 1)
    )(params, target)
    assert all(np.all(np.asarray(g) == 0.0) for g in jax.tree.leaves(g_target))
    assert all(np.any(np.asarray(g) != 0.0) for g in jax.tree.leaves(g_params))
    # The notes' joint variant: the target encoder is trained too (and can collapse).
    g_joint = jax.grad(
        lambda t: ssl.jepa_loss(params, t, patches, ctx, tgt, stop_gradient_target=False, **kw)[0]
    )(target)
    assert all(np.any(np.asarray(g) != 0.0) for g in jax.tree.leaves(g_joint))


def test_target_ema_equals_its_formula():
    theta = [{"w": jnp.array([1.0, -2.0])}, {"w": jnp.array([3.0, 0.5])}]
    ema = ssl.target_ema(0.9)
    state = ema.init({"w": jnp.array([0.0, 0.0])})
    phi = np.zeros(2)
    for t in theta:
        state = ema.update(t, state)
        phi = 0.9 * phi + 0.1 * np.asarray(t["w"])
    np.testing.assert_allclose(state.params["w"], phi, rtol=1e-6)
    assert int(state.count) == 2
    sched = ssl.target_ema(ssl.linear_momentum(0.5, 1.0, 2))
    s = sched.init({"w": jnp.zeros(())})
    s = sched.update({"w": jnp.ones(())}, s)  # m_0 = 0.5
    s = sched.update({"w": jnp.ones(())}, s)  # m_1 = 0.75
    s = sched.update({"w": jnp.ones(())}, s)  # m_2 = 1.0: held
    np.testing.assert_allclose(s.params["w"], 1 - 0.5 * 0.75, rtol=1e-6)


# ------------------------------------------------------------------------------------ collapse
def test_effective_rank_isotropic_and_rank_one():
    z = jax.random.normal(jax.random.key(0), (20_000, 32))
    er = float(ssl.effective_rank(z))
    assert 31.0 < er <= 32.0, er
    u = jax.random.normal(jax.random.key(1), (500, 1))
    v = jax.random.normal(jax.random.key(2), (1, 32))
    line = u * v + 3.0  # a line through an offset
    np.testing.assert_allclose(ssl.effective_rank(line), 1.0, atol=1e-3)
    # Anisotropic: eigenvalues (4, 1, 1, 1) -> exp(H(4/7, 1/7, 1/7, 1/7)).
    z4 = jax.random.normal(jax.random.key(3), (50_000, 4)) * jnp.array([2.0, 1.0, 1.0, 1.0])
    p = np.array([4, 1, 1, 1]) / 7
    np.testing.assert_allclose(ssl.effective_rank(z4), np.exp(-np.sum(p * np.log(p))), rtol=0.02)


def test_embedding_std_and_collapse_metrics():
    z = jax.random.normal(jax.random.key(0), (5000, 16)) * jnp.arange(1.0, 17.0)
    np.testing.assert_allclose(ssl.embedding_std(z), np.arange(1, 17), rtol=0.05)
    m = ssl.collapse_metrics(jnp.ones((10, 16)) + 1e-3 * jax.random.normal(jax.random.key(1), (10, 16)) * 0)
    assert float(m["std_mean"]) == 0.0 and float(m["effective_rank"]) == 0.0
    iso = ssl.collapse_metrics(jax.random.normal(jax.random.key(2), (5000, 16)))
    np.testing.assert_allclose(iso["normalized_std_mean"], 1 / 4, rtol=0.05)


# ----------------------------------------------------------------------------------- bad input
def test_bad_input_gives_clear_errors():
    z = jnp.ones((4, 3))
    for tau in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
            ssl.info_nce_loss(z, z, temperature=tau)
        with pytest.raises(ValueError, match="temperature"):
            ssl.nt_xent_loss(z, z, temperature=tau)
    with pytest.raises(ValueError, match="critic must be one of"):
        ssl.info_nce_loss(z, z, critic="l2")
    with pytest.raises(ValueError, match=r"z_a and z_b must have the same shape \(batch, dim\)"):
        ssl.info_nce_loss(z, jnp.ones((4, 2)))
    with pytest.raises(ValueError, match=r"z_a and z_b must have the same shape"):
        ssl.nt_xent_loss(z, jnp.ones((5, 3)))
    with pytest.raises(ValueError, match=r"z_b must have shape \(batch, dim\)"):
        ssl.info_nce_loss(z, jnp.ones((4, 3, 1)))
    for ratio in (0.0, 1.0, -0.2, 1.5):
        with pytest.raises(ValueError, match=r"mask_ratio must lie strictly inside \(0, 1\)"):
            ssl.sample_masks(jax.random.key(0), 2, "random", (4, 4), ratio)
    with pytest.raises(ValueError, match="masks 0 of 16 patches"):
        ssl.random_patch_mask(jax.random.key(0), 16, 0.01)
    with pytest.raises(ValueError, match="kind must be one of"):
        ssl.sample_masks(jax.random.key(0), 2, "grid", (4, 4), 0.5)
    for nu in (0.0, -1.0):
        with pytest.raises(ValueError, match="nu .* must be a finite number > 0"):
            ssl.nce_loss_from_log_ratios(jnp.zeros(3), jnp.zeros(3), nu=nu)
    with pytest.raises(ValueError, match="must be non-empty 1-D arrays"):
        ssl.nce_loss_from_log_ratios(jnp.zeros((3, 1)), jnp.zeros(3))
    with pytest.raises(ValueError, match=r"scores must be a square \(batch, batch\) matrix"):
        ssl.nwj_bound(jnp.zeros((3, 4)))
    with pytest.raises(ValueError, match="decay must lie in"):
        ssl.mine(decay=1.0)
    with pytest.raises(ValueError, match=r"z must have shape \(batch, dim\)"):
        ssl.effective_rank(jnp.zeros(5))
    params, target, patches, ctx, tgt = _jepa_setup()
    with pytest.raises(ValueError, match=r"target_positions must lie in \[0, 15\]"):
        ssl.jepa_loss(params, target, patches, ctx, tgt + 16, encoder_apply=_encoder, predictor_apply=_predictor)
    with pytest.raises(ValueError, match=r"for loss='mse' prediction and target"):
        ssl.masked_reconstruction_loss(jnp.zeros((2, 4, 3)), jnp.zeros((2, 4, 2)), jnp.ones((2, 4), bool))
    with pytest.raises(ValueError, match="momentum must lie in"):
        ssl.target_ema(1.5)


def test_losses_jit_and_agree():
    z_a = jax.random.normal(jax.random.key(0), (8, 4))
    z_b = z_a + 0.1 * jax.random.normal(jax.random.key(1), (8, 4))
    for fn in (ssl.info_nce_loss, ssl.nt_xent_loss):
        eager = fn(z_a, z_b, temperature=0.2)[0]
        jitted = jax.jit(lambda a, b: fn(a, b, temperature=0.2)[0])(z_a, z_b)
        np.testing.assert_allclose(jitted, eager, rtol=1e-6)


def test_math_layer_imports_no_heavy_packages():
    code = (
        "import sys, gendiff.ssl; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'flax', 'optax', 'orbax', 'matplotlib'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT}, check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout
