"""Tests of the denoising networks (gendiff.nets)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.nets import MLPDenoiser, UNet, sinusoidal_embedding, unet_config
from gendiff.nets.unet import AttnBlock

# A small U-Net exercising every component: two levels, attention at 4x4, a channel change,
# class conditioning. Initialised once per module (compiling an init is the slow part on CPU).
SMALL = dict(
    ch=16, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,), max_groups=8, num_classes=3
)


def _perturbed(params, seed=0, scale=0.1):
    """Params plus Gaussian noise, so that zero-initialised layers do not hide the input."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda p: p + scale * rng.standard_normal(p.shape).astype(p.dtype), params)


def _key(seed=0):
    """An RBG key: its random draws compile several times faster on CPU than threefry ones."""
    return jax.random.key(seed, impl="rbg")


def _inputs(shape, seed=0):
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal(shape), rng.uniform(size=shape[0])
    return jnp.asarray(x, jnp.float32), jnp.asarray(t, jnp.float32)


_apply_small = jax.jit(UNet(**SMALL).apply)


@pytest.fixture(scope="module")
def small_unet():
    """(init params, perturbed params) of UNet(**SMALL) for inputs (B, 8, 8, 1)."""
    x, t = _inputs((2, 8, 8, 1))
    params = jax.jit(UNet(**SMALL).init)(_key(), x, t)
    return params, _perturbed(params)


# ----------------------------------------------------------------------------- embeddings


@pytest.mark.parametrize("dim", [8, 9, 2])
def test_sinusoidal_embedding_matches_formula(dim):
    t = np.array([0.0, 1.0, 17.0, 999.0])
    half = dim // 2
    expected = np.zeros((len(t), dim))
    for k in range(half):
        w = 10000.0 ** (-k / max(half - 1, 1))
        expected[:, k] = np.sin(t * w)
        expected[:, half + k] = np.cos(t * w)
    got = np.asarray(sinusoidal_embedding(jnp.asarray(t), dim))
    assert got.shape == (len(t), dim)
    np.testing.assert_allclose(got, expected, atol=2e-4)
    # Extreme frequencies: w_0 = 1 and w_{half-1} = 1 / max_period.
    if half > 1:
        np.testing.assert_allclose(got[2, 0], math.sin(17.0), atol=1e-5)
        np.testing.assert_allclose(got[3, half - 1], math.sin(999.0 / 10000.0), atol=1e-6)


def test_sinusoidal_embedding_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(B,\)"):
        sinusoidal_embedding(jnp.zeros((2, 1)), 8)
    with pytest.raises(ValueError, match="dim >= 2"):
        sinusoidal_embedding(jnp.zeros((2,)), 1)


def test_time_scale_maps_unit_time_to_ddpm_steps():
    """With time_scale=1000, t = i/1000 must give the same output as time_scale=1, t = i."""
    x, _ = _inputs((3, 2))
    steps = jnp.array([0.0, 250.0, 999.0])
    net = MLPDenoiser(hidden=16, depth=1)
    params = _perturbed(jax.jit(net.init)(_key(), x, steps))
    scaled = jax.jit(net.apply)(params, x, steps / 1000.0)
    unscaled = jax.jit(MLPDenoiser(hidden=16, depth=1, time_scale=1.0).apply)(params, x, steps)
    np.testing.assert_allclose(scaled, unscaled, atol=1e-5)


# ----------------------------------------------------------------------------- MLP


@pytest.mark.parametrize("num_classes", [None, 3])
def test_mlp_shapes_and_labels(num_classes):
    x, t = _inputs((5, 2))
    net = MLPDenoiser(hidden=32, depth=2, num_classes=num_classes)
    y = None if num_classes is None else jnp.array([0, 1, 2, 3, 1])  # 3 = null label
    params = _perturbed(jax.jit(net.init)(_key(), x, t, y))
    apply = jax.jit(net.apply)
    out = apply(params, x, t, y)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert np.all(np.isfinite(out))
    if num_classes is not None:
        # y=None is the null label; a real label changes the output.
        null = apply(params, x, t, jnp.full((5,), num_classes))
        np.testing.assert_allclose(apply(params, x, t), null, atol=1e-6)
        assert not np.allclose(apply(params, x, t, jnp.zeros(5, int)), null, atol=1e-3)


def test_mlp_rejects_bad_input():
    net = MLPDenoiser(hidden=8, depth=1)
    x, t = _inputs((4, 2))
    params = jax.jit(net.init)(_key(), x, t)
    with pytest.raises(ValueError, match=r"\(batch, \.\.\.\)"):
        net.apply(params, x[0], t)
    # Other ranks are flattened: (4, 2, 1) images give the (4, 2) output, reshaped.
    noisy = _perturbed(params)
    out = net.apply(noisy, x, t)
    assert float(jnp.abs(out).max()) > 1e-3
    np.testing.assert_allclose(net.apply(noisy, x[..., None], t)[..., 0], out, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        net.apply(params, x, t[:3])
    with pytest.raises(ValueError, match="num_classes=None"):
        net.apply(params, x, t, jnp.zeros(4, int))


# ----------------------------------------------------------------------------- U-Net


@pytest.mark.parametrize("num_classes, out_channels", [(None, None), (10, 2)])
def test_unet_output_shapes(num_classes, out_channels):
    kwargs = dict(SMALL, num_classes=num_classes, out_channels=out_channels)
    y = None if num_classes is None else jnp.array([3, 10])
    for shape in [(2, 8, 8, 3), (2, 8, 16, 3)]:  # square and non-square
        x, t = _inputs(shape)
        out, params = jax.eval_shape(UNet(**kwargs).init_with_output, jax.random.key(0), x, t, y)
        assert out.shape == shape[:3] + (out_channels or 3,) and out.dtype == x.dtype
    assert ("label_emb" in params["params"]) == (num_classes is not None)


def test_unet_initial_output_is_zero(small_unet):
    """The zero-initialised output conv of the reference implementation makes f = 0 at init."""
    params, _ = small_unet
    x, t = _inputs((2, 8, 8, 1))
    np.testing.assert_array_equal(_apply_small(params, x, t), 0.0)


def test_unet_label_conditioning(small_unet):
    _, params = small_unet
    x, t = _inputs((2, 8, 8, 1))
    apply = _apply_small
    null = apply(params, x, t)  # y=None -> the null label 3
    assert null.shape == x.shape and np.all(np.isfinite(null))
    np.testing.assert_allclose(null, apply(params, x, t, jnp.array([3, 3])), atol=1e-6)
    assert not np.allclose(null, apply(params, x, t, jnp.array([0, 1])), atol=1e-3)


def test_unet_cifar10_preset_has_35_7m_parameters():
    """Ho et al. (2020), Appendix B: the CIFAR-10 model has 35.7 million parameters."""
    net = UNet(**unet_config("cifar10"))
    shapes = jax.eval_shape(net.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)), jnp.zeros((1,)))
    count = sum(math.prod(p.shape) for p in jax.tree.leaves(shapes))
    assert round(count / 1e6, 1) == 35.7
    assert count == 35_746_307  # exact count of the reference architecture (1x1 shortcuts)


def test_unet_presets_build():
    for name, size in [("tiny", 8), ("mnist", 28)]:
        x = jnp.zeros((1, size, size, 1))
        net = UNet(**unet_config(name))
        out, _ = jax.eval_shape(net.init_with_output, jax.random.key(0), x, jnp.zeros((1,)))
        assert out.shape == x.shape
    with pytest.raises(ValueError, match="valid names"):
        unet_config("imagenet")


def test_unet_rejects_bad_input(small_unet):
    params, _ = small_unet
    net = UNet(**SMALL)
    x, t = _inputs((2, 8, 8, 1))
    with pytest.raises(ValueError, match="channels-last"):
        net.apply(params, x[..., 0], t)  # rank 3
    with pytest.raises(ValueError, match="divisible by"):
        net.apply(params, jnp.zeros((2, 7, 8, 1)), t)
    with pytest.raises(ValueError, match=r"t must have shape \(batch,\) = \(2,\)"):
        net.apply(params, x, t[:, None])
    with pytest.raises(ValueError, match=r"y must have shape"):
        net.apply(params, x, t, jnp.array([1]))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        net.apply(params, x, t, jnp.array([1, 4]))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        net.apply(params, x, t, jnp.array([-1, 0]))
    with pytest.raises(TypeError, match="integer"):
        net.apply(params, x, t, jnp.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="num_classes=None"):
        UNet(**dict(SMALL, num_classes=None)).apply(params, x, t, jnp.array([0, 1]))


def test_unet_dropout_only_in_train_mode(small_unet):
    _, params = small_unet  # dropout has no parameters: the same params serve
    x, t = _inputs((2, 8, 8, 1))
    apply = jax.jit(UNet(**SMALL, dropout=0.5).apply, static_argnames="train")
    # train=False: deterministic, ignores a dropout rng, and equals the dropout-free network.
    eval_out = apply(params, x, t, train=False, rngs={"dropout": _key(5)})
    np.testing.assert_array_equal(eval_out, _apply_small(params, x, t))
    train_a = apply(params, x, t, train=True, rngs={"dropout": _key(1)})
    train_b = apply(params, x, t, train=True, rngs={"dropout": _key(2)})
    train_a_again = apply(params, x, t, train=True, rngs={"dropout": _key(1)})
    np.testing.assert_array_equal(train_a, train_a_again)
    assert not np.allclose(train_a, train_b, atol=1e-3)
    assert not np.allclose(train_a, eval_out, atol=1e-3)


def test_unet_bfloat16_close_to_float32(small_unet):
    _, params = small_unet
    x, t = _inputs((2, 8, 8, 1))
    y = jnp.array([0, 2])
    net16 = UNet(**SMALL, dtype=jnp.bfloat16)
    init16 = jax.eval_shape(net16.init, jax.random.key(0), x, t, y)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(init16))  # params stay float32
    out32 = _apply_small(params, x, t, y)
    out16 = jax.jit(net16.apply)(params, x, t, y)
    assert out16.dtype == jnp.float32  # output in the dtype of x
    scale = float(jnp.std(out32))
    assert scale > 0.1
    rel = float(jnp.sqrt(jnp.mean((out16 - out32) ** 2))) / scale
    assert 0 < rel < 0.05, rel  # bfloat16 really is used (rel > 0) and stays close


def test_attention_block_matches_numpy_reference():
    """AttnBlock(x) = x + proj(softmax(q k^T / sqrt(C)) v) over H*W positions, q/k/v of GN(x)."""
    b, hgt, wid, c, groups = 2, 3, 4, 8, 4
    x = np.random.default_rng(1).standard_normal((b, hgt, wid, c)).astype(np.float32)
    block = AttnBlock(max_groups=groups, dtype=jnp.float32)
    params = _perturbed(jax.jit(block.init)(_key(), x), scale=0.3)
    got = np.asarray(jax.jit(block.apply)(params, x))

    p = jax.tree.map(np.asarray, params["params"])
    # GroupNorm: normalise over (H, W, channels of the group), then per-channel affine.
    xg = x.reshape(b, hgt * wid, groups, c // groups)
    mean, var = xg.mean(axis=(1, 3), keepdims=True), xg.var(axis=(1, 3), keepdims=True)
    gn = p["_Norm_0"]["GroupNorm_0"]
    h = ((xg - mean) / np.sqrt(var + 1e-6)).reshape(b, hgt * wid, c) * gn["scale"] + gn["bias"]

    def nin(name, v):  # 1x1 convolution = per-position dense layer
        return v @ p[name]["kernel"][0, 0] + p[name]["bias"]

    q, k, v = nin("q", h), nin("k", h), nin("v", h)
    logits = q @ k.transpose(0, 2, 1) / np.sqrt(c)
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    expected = x + nin("proj_out", w @ v).reshape(b, hgt, wid, c)
    np.testing.assert_allclose(got, expected, atol=1e-4)
