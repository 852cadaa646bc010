"""gendiff.nets.transformer: shapes, agreement with the attention formula, causality, masks."""

import jax
import jax.numpy as jnp
import numpy as np

from gendiff.attention import causal_mask, padding_mask, scaled_dot_product_attention
from gendiff.nets.transformer import MultiHeadAttention, TransformerBlock, positional_encoding


def test_mha_equals_projections_around_the_attention_function():
    x = jax.random.normal(jax.random.key(0), (2, 5, 8))
    mha = MultiHeadAttention(num_heads=2)
    params = mha.init(jax.random.key(1), x)
    p = params["params"]
    proj = lambda name: jnp.einsum("bld,dhk->blhk", x, p[name]["kernel"]) + p[name]["bias"]
    heads = scaled_dot_product_attention(proj("query"), proj("key"), proj("value"))
    expected = jnp.einsum("blhk,hkd->bld", heads, p["out"]["kernel"]) + p["out"]["bias"]
    np.testing.assert_allclose(mha.apply(params, x), expected, atol=1e-5)
    assert p["query"]["kernel"].shape == (8, 2, 4)


def test_block_shapes_and_causality():
    x = jax.random.normal(jax.random.key(2), (2, 7, 16))
    block = TransformerBlock(num_heads=4, dropout=0.1)
    params = block.init(jax.random.key(3), x)
    mask = causal_mask(7)
    y = block.apply(params, x, mask)
    assert y.shape == x.shape
    y2 = block.apply(params, x.at[:, 4:].set(3.0), mask)
    np.testing.assert_allclose(y[:, :4], y2[:, :4], atol=1e-5)
    assert not np.allclose(y[:, 4:], y2[:, 4:])
    # Without the mask the change leaks to earlier positions.
    assert not np.allclose(
        block.apply(params, x)[:, :4], block.apply(params, x.at[:, 4:].set(3.0))[:, :4]
    )
    # Dropout is active only in training mode.
    yt = block.apply(params, x, mask, train=True, rngs={"dropout": jax.random.key(4)})
    assert not np.allclose(y, yt)


def test_block_ignores_padded_positions():
    x = jax.random.normal(jax.random.key(5), (2, 6, 8))
    block = TransformerBlock(num_heads=2)
    params = block.init(jax.random.key(6), x)
    mask = padding_mask(jnp.array([3, 6]), 6)
    y = block.apply(params, x, mask)
    y2 = block.apply(params, x.at[0, 3:].set(-9.0), mask)
    np.testing.assert_allclose(y[0, :3], y2[0, :3], atol=1e-5)
    assert not np.allclose(y[0, 3:], y2[0, 3:])  # the padded queries themselves do change


def test_positional_encoding_is_sinusoidal():
    pe = positional_encoding(4, 6)
    assert pe.shape == (4, 6)
    np.testing.assert_allclose(pe[0], [0, 0, 0, 1, 1, 1], atol=1e-7)
    np.testing.assert_allclose(pe[2, 0], np.sin(2.0), atol=1e-6)  # fastest frequency is 1
