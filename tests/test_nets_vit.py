"""Tests for gendiff.nets.vit: the ViT encoder on 8x8 and 28x28 images, subsets of patches at
their positions, the masked-token predictor's conditioning on target positions, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff import nets, ssl


def _encoder(shape, patch):
    return nets.ViTEncoder(image_shape=shape, patch_size=patch, width=16, depth=1, num_heads=2)


@pytest.mark.parametrize(
    "shape, patch, length", [((8, 8, 1), 2, 16), ((28, 28, 1), 7, 16), ((28, 28, 1), 4, 49)]
)
def test_encoder_shapes_and_patch_inputs_agree_with_images(shape, patch, length):
    enc = _encoder(shape, patch)
    images = jax.random.normal(jax.random.key(0), (3, *shape))
    params = enc.init(jax.random.key(1), images)
    tokens = enc.apply(params, images)
    assert tokens.shape == (3, length, 16) and enc.num_patches == length
    patches = ssl.patchify(images, patch)
    positions = jnp.broadcast_to(jnp.arange(length), (3, length))
    np.testing.assert_allclose(enc.apply(params, patches, positions), tokens, atol=1e-5)
    assert nets.mean_pool(tokens).shape == (3, 16)


def test_encoder_is_permutation_equivariant_given_positions():
    """No class token and positions attached to each patch: shuffling the patches together
    with their positions shuffles the tokens, and a subset is encoded on its own."""
    enc = _encoder((8, 8, 1), 2)
    images = jax.random.normal(jax.random.key(0), (2, 8, 8, 1))
    params = enc.init(jax.random.key(1), images)
    patches = ssl.patchify(images, 2)
    perm = jax.random.permutation(jax.random.key(2), 16)
    positions = jnp.broadcast_to(perm, (2, 16))
    out = enc.apply(params, patches[:, perm], positions)
    np.testing.assert_allclose(out, enc.apply(params, images)[:, perm], atol=1e-5)
    # A subset of 5 patches sees only those 5: changing another patch changes nothing.
    sub = positions[:, :5]
    other = patches.at[:, perm[10]].add(3.0)
    a = enc.apply(params, ssl.gather_positions(patches, sub), sub)
    b = enc.apply(params, ssl.gather_positions(other, sub), sub)
    np.testing.assert_array_equal(a, b)


def test_predictor_is_conditioned_on_target_positions():
    pred = nets.TokenPredictor(num_patches=16, out_dim=8, width=16, depth=1, num_heads=2)
    z = jax.random.normal(jax.random.key(0), (1, 4, 12))
    cpos = jnp.array([[0, 1, 2, 3]])
    tpos = jnp.array([[5, 9, 14]])
    params = pred.init(jax.random.key(1), z, cpos, tpos)
    out = pred.apply(params, z, cpos, tpos)
    assert out.shape == (1, 3, 8)
    # Different positions, different predictions (same context, same mask token).
    assert float(jnp.min(jnp.abs(out[0, 0] - out[0, 1]))) > 0.0
    # Permuting the targets permutes the predictions: each depends on its own position.
    out_perm = pred.apply(params, z, cpos, tpos[:, ::-1])
    np.testing.assert_allclose(out_perm[:, ::-1], out, atol=1e-5)


def test_bad_input_is_a_clear_error():
    enc = _encoder((8, 8, 1), 2)
    params = enc.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
    with pytest.raises(ValueError, match=r"images must have shape \(batch, 8, 8, 1\)"):
        enc.apply(params, jnp.zeros((1, 28, 28, 1)))
    with pytest.raises(ValueError, match="patch inputs must be"):
        enc.apply(params, jnp.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match="positions must be integers of shape"):
        enc.apply(params, jnp.zeros((1, 4, 4)), jnp.zeros((1, 3), jnp.int32))
    with pytest.raises(ValueError, match="must divide the image sides"):
        _encoder((8, 8, 1), 3).init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
