"""Tests for gendiff.nets.ConvTokenEncoder: ViT-like tokens on the patch grid, subsets of
patches seen through a visibility channel, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff import nets, ssl


def _encoder(shape, patch):
    return nets.ConvTokenEncoder(image_shape=shape, patch_size=patch, width=16, channels=4)


@pytest.mark.parametrize("shape, patch, length", [((8, 8, 1), 2, 16), ((28, 28, 1), 4, 49)])
def test_tokens_on_the_patch_grid_and_all_patches_equal_the_image(shape, patch, length):
    enc = _encoder(shape, patch)
    images = jax.random.normal(jax.random.key(0), (3, *shape))
    params = enc.init(jax.random.key(1), images)
    tokens = enc.apply(params, images)
    assert tokens.shape == (3, length, 16) and enc.num_patches == length
    # All patches given, in a shuffled order: the same tokens, in that order.
    perm = jax.random.permutation(jax.random.key(2), length)
    positions = jnp.broadcast_to(perm, (3, length)).astype(jnp.int32)
    patches = ssl.patchify(images, patch)[:, perm]
    np.testing.assert_allclose(enc.apply(params, patches, positions), tokens[:, perm], atol=1e-5)


def test_a_subset_of_patches_is_encoded_from_those_patches_only():
    enc = _encoder((8, 8, 1), 2)
    images = jax.random.normal(jax.random.key(0), (2, 8, 8, 1))
    params = enc.init(jax.random.key(1), images)
    patches = ssl.patchify(images, 2)
    sub = jnp.array([[0, 3, 9, 12], [1, 2, 5, 15]], jnp.int32)
    a = enc.apply(params, ssl.gather_positions(patches, sub), sub)
    other = patches.at[:, 6].add(5.0)  # patch 6 is in neither subset
    b = enc.apply(params, ssl.gather_positions(other, sub), sub)
    np.testing.assert_array_equal(a, b)
    # ...while the whole image does see patch 6, and a given patch changes the tokens.
    assert not np.allclose(
        enc.apply(params, ssl.unpatchify(other, (8, 8, 1))), enc.apply(params, images)
    )
    moved = patches.at[:, 9].add(5.0)
    c = enc.apply(params, ssl.gather_positions(moved, sub), sub)
    assert not np.allclose(a[0], c[0])


def test_bad_input_is_a_clear_error():
    x = jnp.zeros((1, 8, 8, 1))
    with pytest.raises(ValueError, match="power of 2"):
        _encoder((9, 9, 1), 3).init(jax.random.key(0), jnp.zeros((1, 9, 9, 1)))
    enc = _encoder((8, 8, 1), 2)
    params = enc.init(jax.random.key(0), x)
    with pytest.raises(ValueError, match=r"images must have shape \(batch, 8, 8, 1\)"):
        enc.apply(params, jnp.zeros((1, 6, 6, 1)))
    with pytest.raises(ValueError, match="integer positions"):
        enc.apply(params, jnp.zeros((1, 3, 4)), jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match="positions are only for patch inputs"):
        enc.apply(params, x, jnp.zeros((1, 16), jnp.int32))


def test_pooled_tokens_span_at_most_the_grid_channels():
    # 28 -> 14 -> 7: K = 4 * 2^2 = 16 grid channels. Width 32: pooled features of rank 16.
    # Width 12: rank width - 1 = 11 (the layer norm's centring). Random images, 200 of them.
    images = jax.random.normal(jax.random.key(0), (200, 28, 28, 1))
    for width, rank in ((32, 16), (12, 11)):
        enc = nets.ConvTokenEncoder(image_shape=(28, 28, 1), patch_size=4, width=width, channels=4)
        params = enc.init(jax.random.key(1), images[:1])
        # A random layer-norm bias and scale, so that the bound is not an accident of init.
        norm = params["params"]["norm"]
        norm["bias"] = jax.random.normal(jax.random.key(2), norm["bias"].shape)
        norm["scale"] = 1.0 + jax.random.uniform(jax.random.key(3), norm["scale"].shape)
        z = np.asarray(nets.mean_pool(enc.apply(params, images)), np.float64)
        s = np.linalg.svd(z - z.mean(axis=0), compute_uv=False)
        assert np.sum(s > 1e-4 * s[0]) == rank, (width, s[rank - 2 : rank + 2] / s[0])
