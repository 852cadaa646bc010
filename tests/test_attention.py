"""gendiff.attention: scaled dot-product attention against numpy, masks, fully masked rows."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.attention import (
    attention_weights,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)


def _qkv(key, batch=2, lq=5, lk=6, heads=3, dk=4, dv=7):
    kq, kk, kv = jax.random.split(key, 3)
    return (
        jax.random.normal(kq, (batch, lq, heads, dk)),
        jax.random.normal(kk, (batch, lk, heads, dk)),
        jax.random.normal(kv, (batch, lk, heads, dv)),
    )


def _numpy_attention(q, k, v):
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    out = np.zeros(q.shape[:3] + v.shape[-1:])
    for b in range(q.shape[0]):
        for h in range(q.shape[2]):
            s = q[b, :, h] @ k[b, :, h].T / np.sqrt(q.shape[-1])
            w = np.exp(s - s.max(axis=1, keepdims=True))
            w /= w.sum(axis=1, keepdims=True)
            out[b, :, h] = w @ v[b, :, h]
    return out


def test_matches_direct_numpy_softmax_formula():
    q, k, v = _qkv(jax.random.key(0))
    out = scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 5, 3, 7)
    np.testing.assert_allclose(out, _numpy_attention(q, k, v), atol=1e-5)


def test_rows_sum_to_one_and_weights_are_nonnegative():
    q, k, _ = _qkv(jax.random.key(1), lq=6)
    w = attention_weights(q, k, causal_mask(6))
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
    assert float(w.min()) >= 0.0
    assert float(jnp.abs(jnp.triu(w, k=1)).max()) == 0.0  # no weight on future keys


def test_causal_output_unchanged_when_future_inputs_change():
    q, k, v = _qkv(jax.random.key(2), lq=6, lk=6)
    i = 3
    k2 = k.at[:, i + 1 :].set(100.0)
    v2 = v.at[:, i + 1 :].set(-50.0)
    out = scaled_dot_product_attention(q, k, v, causal_mask(6))
    out2 = scaled_dot_product_attention(q, k2, v2, causal_mask(6))
    np.testing.assert_allclose(out[:, : i + 1], out2[:, : i + 1], atol=1e-6)
    assert not np.allclose(out[:, i + 1 :], out2[:, i + 1 :])
    # Causal attention equals unmasked attention on the prefix.
    np.testing.assert_allclose(
        out[:, i],
        _numpy_attention(q[:, i : i + 1], k[:, : i + 1], v[:, : i + 1])[:, 0],
        atol=1e-5,
    )


def test_padded_keys_get_zero_weight_and_output_equals_truncated_attention():
    q, k, v = _qkv(jax.random.key(3), lk=6)
    lengths = jnp.array([2, 6])
    mask = padding_mask(lengths, 6)
    w = attention_weights(q, k, mask)
    assert float(jnp.abs(w[0, :, :, 2:]).max()) == 0.0
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
    out = scaled_dot_product_attention(q, k, v, mask)
    np.testing.assert_allclose(out[0], _numpy_attention(q[:1], k[:1, :2], v[:1, :2])[0], atol=1e-5)


def test_fully_masked_rows_give_zeros_not_nan_with_finite_gradients():
    q, k, v = _qkv(jax.random.key(4), lk=4)
    mask = padding_mask(jnp.array([0, 4]), 4)  # batch element 0 sees no key at all
    out = scaled_dot_product_attention(q, k, v, mask)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[0], 0.0)
    g = jax.grad(lambda q: scaled_dot_product_attention(q, k, v, mask).sum())(q)
    assert np.all(np.isfinite(g))


def test_bad_inputs_raise_clear_errors():
    q, k, v = _qkv(jax.random.key(5))
    with pytest.raises(ValueError, match="broadcast"):
        attention_weights(q, k, jnp.ones((3, 3), bool))
    with pytest.raises(TypeError, match="boolean"):
        attention_weights(q, k, jnp.ones((5, 6)))
    with pytest.raises(ValueError, match="dk"):
        attention_weights(q, k[..., :2])
    with pytest.raises(ValueError, match="dv"):
        scaled_dot_product_attention(q, k, v[:, :2])
