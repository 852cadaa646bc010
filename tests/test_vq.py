"""Vector quantisation: nearest code, straight-through gradient, losses, EMA codebook, usage."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff import vae


def _brute_force_nearest(z, codebook):
    d2 = ((z[..., None, :] - codebook) ** 2).sum(-1)
    return d2.argmin(-1)


def test_nearest_code_matches_brute_force():
    rng = np.random.default_rng(0)
    codebook = rng.normal(size=(16, 4)).astype(np.float32)
    z = rng.normal(size=(2, 3, 5, 4)).astype(np.float32)  # (batch, h, w, D)
    idx = vae.nearest_code(jnp.asarray(z), jnp.asarray(codebook))
    assert idx.shape == (2, 3, 5) and idx.dtype == jnp.int32
    np.testing.assert_array_equal(idx, _brute_force_nearest(z, codebook))


def test_straight_through_value_and_identity_gradient():
    rng = np.random.default_rng(1)
    codebook = jnp.asarray(rng.normal(size=(8, 3)), jnp.float32)
    z_e = jnp.asarray(rng.normal(size=(5, 3)), jnp.float32)
    target = jnp.asarray(rng.normal(size=(5, 3)), jnp.float32)
    out = vae.quantize(z_e, codebook)
    e_k = codebook[out.indices]
    np.testing.assert_allclose(out.z_q, e_k, atol=1e-6)  # the decoder sees the codes
    # The Jacobian of straight_through with respect to z_e is the identity ...
    jac = jax.jacobian(lambda z: vae.straight_through(z, jnp.round(z)))(z_e[0])
    np.testing.assert_allclose(jac, np.eye(3))
    # ... so the encoder receives the decoder's gradient evaluated at the codes.
    f = lambda q: jnp.sum(jnp.sin(q) * target)
    g_encoder = jax.grad(lambda z: f(vae.quantize(z, codebook).z_q))(z_e)
    np.testing.assert_allclose(g_encoder, jax.grad(f)(e_k), rtol=1e-6)
    assert not np.allclose(g_encoder, jax.grad(f)(z_e))  # not the gradient at z_e


def test_codebook_and_commitment_losses_values_and_gradients():
    rng = np.random.default_rng(2)
    codebook = jnp.asarray(rng.normal(size=(4, 2)), jnp.float32)
    z_e = jnp.asarray(rng.normal(size=(6, 2)), jnp.float32)
    idx = np.asarray(vae.nearest_code(z_e, codebook))
    diff = np.asarray(z_e) - np.asarray(codebook)[idx]
    sq = np.mean(np.sum(diff**2, -1))
    out = vae.quantize(z_e, codebook)
    assert float(out.codebook_loss) == pytest.approx(sq, rel=1e-6)
    assert float(out.commitment_loss) == pytest.approx(0.25 * sq, rel=1e-6)
    assert float(out.loss) == pytest.approx(1.25 * sq, rel=1e-6)

    g_cb_z, g_cb_e = jax.grad(lambda z, e: vae.quantize(z, e).codebook_loss, (0, 1))(z_e, codebook)
    g_cm_z, g_cm_e = jax.grad(lambda z, e: vae.quantize(z, e).commitment_loss, (0, 1))(
        z_e, codebook
    )
    np.testing.assert_allclose(g_cb_z, 0.0)  # sg[z_e]: the codebook loss moves only codes
    np.testing.assert_allclose(g_cm_e, 0.0)  # sg[e_k]: the commitment loss moves only z_e
    np.testing.assert_allclose(g_cm_z, 2 * 0.25 * diff / 6, rtol=1e-5, atol=1e-7)
    want_e = np.zeros((4, 2))
    np.add.at(want_e, idx, -2 * diff / 6)
    np.testing.assert_allclose(g_cb_e, want_e, rtol=1e-5, atol=1e-7)


def test_ema_update_by_hand():
    # decay 0.5, no smoothing; codes 0 and 10, vectors 1, 3 -> code 0 and 9 -> code 1:
    # N = 0.5 * 1 + 0.5 * (2, 1) = (1.5, 1);  m = 0.5 * (0, 10) + 0.5 * (4, 9) = (2, 9.5);
    # e = m / N = (4/3, 9.5).
    ema = vae.codebook_ema(decay=0.5, epsilon=0.0)
    state = ema.init(jnp.array([[0.0], [10.0]]))
    state = ema.update(jnp.array([[1.0], [3.0], [9.0]]), jnp.array([0, 0, 1]), state)
    np.testing.assert_allclose(state.cluster_size, [1.5, 1.0])
    np.testing.assert_allclose(state.embed_sum[:, 0], [2.0, 9.5])
    np.testing.assert_allclose(state.codebook[:, 0], [4 / 3, 9.5], rtol=1e-6)


def _ema_reference(codebook, batches, decay, eps):
    """The update written code by code, in float64."""
    k = len(codebook)
    size, total = np.ones(k), np.array(codebook, np.float64)
    for z, idx in batches:
        for i in range(k):
            members = z[idx == i]
            size[i] = decay * size[i] + (1 - decay) * len(members)
            total[i] = decay * total[i] + (1 - decay) * members.sum(0)
        n = size.sum()
        smoothed = (size + eps) / (n + k * eps) * n
        code = total / smoothed[:, None]
    return size, total, code


def test_ema_update_matches_reference_with_default_decay_and_smoothing():
    rng = np.random.default_rng(3)
    codebook = rng.normal(size=(5, 3))
    ema = vae.codebook_ema()  # decay 0.99, epsilon 1e-5
    state = ema.init(jnp.asarray(codebook, jnp.float32))
    update = jax.jit(ema.update)
    batches = []
    for _ in range(3):
        z = rng.normal(size=(4, 6, 3)) + 0.5
        idx = rng.integers(0, 4, size=(4, 6))  # code 4 is never used
        batches.append((z.reshape(-1, 3), idx.reshape(-1)))
        state = update(jnp.asarray(z, jnp.float32), jnp.asarray(idx), state)
    size, total, code = _ema_reference(codebook, batches, 0.99, 1e-5)
    np.testing.assert_allclose(state.cluster_size, size, rtol=1e-5)
    np.testing.assert_allclose(state.embed_sum, total, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(state.codebook, code, rtol=1e-4, atol=1e-5)
    # The unused code only shrinks by N / (N + eps-ish): it stays near its start.
    np.testing.assert_allclose(state.codebook[4], codebook[4], rtol=1e-3)


def test_ema_with_zero_decay_is_a_k_means_step():
    rng = np.random.default_rng(4)
    codebook = rng.normal(size=(3, 2)).astype(np.float32)
    z = rng.normal(size=(40, 2)).astype(np.float32)
    idx = _brute_force_nearest(z, codebook)
    ema = vae.codebook_ema(decay=0.0, epsilon=0.0)
    state = ema.update(jnp.asarray(z), jnp.asarray(idx), ema.init(jnp.asarray(codebook)))
    for i in range(3):
        np.testing.assert_allclose(state.codebook[i], z[idx == i].mean(0), rtol=1e-5)


def test_perplexity_and_dead_codes():
    k = 64
    uniform = jnp.tile(jnp.arange(k), 3)
    assert float(vae.codebook_perplexity(uniform, k)) == pytest.approx(k, rel=1e-5)
    assert float(vae.codebook_perplexity(jnp.zeros(10, jnp.int32), k)) == pytest.approx(1.0)
    # p = (1/2, 1/4, 1/4): exp(H) = exp(1.5 log 2) = 2^1.5.
    p3 = jnp.array([0, 0, 1, 2])
    assert float(vae.codebook_perplexity(p3, 8)) == pytest.approx(2**1.5, rel=1e-6)
    assert int(vae.dead_code_count(p3, 8)) == 5
    assert int(vae.dead_code_count(uniform, k)) == 0
    np.testing.assert_array_equal(vae.codebook_usage(p3, 4), [2, 1, 1, 0])


def test_dead_code_restarts_use_encoder_outputs():
    rng = np.random.default_rng(5)
    codebook = jnp.asarray(rng.normal(size=(6, 2)), jnp.float32)
    z_e = jnp.asarray(rng.normal(size=(4, 5, 2)) + 10.0, jnp.float32)
    usage = jnp.array([3, 0, 5, 0, 0, 2])
    new, dead = jax.jit(vae.restart_dead_codes)(jax.random.key(0), codebook, usage, z_e)
    np.testing.assert_array_equal(dead, [False, True, False, True, True, False])
    np.testing.assert_array_equal(new[~np.asarray(dead)], codebook[~np.asarray(dead)])
    points = np.asarray(z_e).reshape(-1, 2)
    restarted = np.asarray(new)[np.asarray(dead)]
    for v in restarted:  # every restarted code is one of the encoder outputs ...
        assert np.any(np.all(points == v, axis=1))
    assert len(np.unique(restarted, axis=0)) == 3  # ... and they are distinct
    again, _ = vae.restart_dead_codes(jax.random.key(0), codebook, usage, z_e)
    np.testing.assert_array_equal(again, new)  # pure: the same key gives the same codes

    ema = vae.codebook_ema()
    state = ema.init(codebook)._replace(cluster_size=jnp.array([3.0, 0.1, 5.0, 0.2, 0.5, 2.0]))
    state, n = vae.restart_dead_codes_ema(jax.random.key(1), state, z_e)
    assert int(n) == 3
    np.testing.assert_allclose(state.cluster_size, [3.0, 1.0, 5.0, 1.0, 1.0, 2.0])
    np.testing.assert_allclose(state.embed_sum[1], state.codebook[1])
    assert np.all(np.asarray(state.codebook)[[1, 3, 4]] > 5.0)  # moved onto the encoder outputs


def test_bad_codebooks_and_shapes_raise_clear_errors():
    z_e = jnp.zeros((4, 3))
    with pytest.raises(ValueError, match="at least 2 codes"):
        vae.quantize(z_e, jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match="at least 2 codes"):
        vae.codebook_ema().init(jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        vae.nearest_code(z_e, jnp.zeros((8, 2)))
    with pytest.raises(ValueError, match="num_codes, code_dim"):
        vae.quantize(z_e, jnp.zeros((8,)))
    with pytest.raises(ValueError, match="num_codes must be an integer >= 2"):
        vae.codebook_perplexity(jnp.zeros(3, jnp.int32), 1)
    with pytest.raises(ValueError, match="decay"):
        vae.codebook_ema(decay=1.0)
    ema = vae.codebook_ema()
    state = ema.init(jnp.zeros((8, 3)))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        ema.update(jnp.zeros((4, 2)), jnp.zeros(4, jnp.int32), state)
    with pytest.raises(ValueError, match="indices must have shape"):
        ema.update(z_e, jnp.zeros(5, jnp.int32), state)
    with pytest.raises(ValueError, match=r"usage must have shape \(8,\)"):
        vae.restart_dead_codes(jax.random.key(0), jnp.zeros((8, 3)), jnp.zeros(7), z_e)
