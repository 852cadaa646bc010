"""gendiff.nets.DomainAdversarialNet: shapes, the reversal acting on the features' gradient
only, and either extractor."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.nets import ConvFeatures, DomainAdversarialNet, FeatureMLP, ImageClassifier


def _split_losses(net, params, x, lam):
    """Gradients of the domain output alone, with reversal weight lam."""

    def domain_out(p):
        return jnp.sum(net.apply(p, x, lam)["domain_logits"])

    return jax.grad(domain_out)(params)["params"]


def test_reversal_flips_only_the_extractor_gradient_of_the_domain_loss():
    net = DomainAdversarialNet(FeatureMLP((8, 6)), num_classes=3, domain_widths=(5,))
    x = jax.random.normal(jax.random.key(0), (7, 2))
    params = net.init(jax.random.key(1), x)
    plain, flipped = _split_losses(net, params, x, 0.0), _split_losses(net, params, x, 0.7)
    # lam = 0: no gradient reaches the extractor from the domain head
    for leaf in jax.tree.leaves(plain["extractor"]):
        np.testing.assert_array_equal(leaf, 0.0)
    with_identity = jax.grad(
        lambda p: jnp.sum(
            net.apply(p, x, 1.0)["domain_logits"]  # forward is identical for any lam
        )
    )(params)["params"]
    # the domain head's own gradient does not depend on lam
    for a, b in zip(
        jax.tree.leaves(plain["domain_hidden_0"]), jax.tree.leaves(flipped["domain_hidden_0"])
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # the extractor's gradient is -lam times the gradient without reversal
    unreversed = jax.grad(
        lambda p: jnp.sum(_domain_without_reversal(net, p, x)),
    )(params)["params"]["extractor"]
    for a, b in zip(jax.tree.leaves(flipped["extractor"]), jax.tree.leaves(unreversed)):
        np.testing.assert_allclose(a, -0.7 * b, rtol=1e-5, atol=1e-7)
    for a, b in zip(jax.tree.leaves(with_identity["extractor"]), jax.tree.leaves(unreversed)):
        np.testing.assert_allclose(a, -b, rtol=1e-5, atol=1e-7)
    # forward outputs do not depend on lam
    o1, o2 = net.apply(params, x, 0.0), net.apply(params, x, 3.0)
    for k in o1:
        np.testing.assert_array_equal(o1[k], o2[k])


def _domain_without_reversal(net, params, x):
    """The domain logits recomputed from the submodules, with no reversal layer."""
    p = params["params"]
    f = FeatureMLP(net.extractor.widths).apply({"params": p["extractor"]}, x)
    h = jax.nn.relu(f @ p["domain_hidden_0"]["kernel"] + p["domain_hidden_0"]["bias"])
    return (h @ p["domain_classifier"]["kernel"] + p["domain_classifier"]["bias"])[:, 0]


def test_image_classifier_features_as_extractor():
    net = DomainAdversarialNet(ImageClassifier(num_classes=10, channels=(4, 8), feature_dim=16), 10)
    x = jnp.zeros((3, 8, 8, 3))
    params = net.init(jax.random.key(0), x)
    out = net.apply(params, x, 1.0)
    assert out["class_logits"].shape == (3, 10)
    assert out["domain_logits"].shape == (3,)
    assert out["features"].shape == (3, 16)
    # the extractor's own classification head is never built: only G_y classifies
    assert "Dense_1" not in params["params"]["extractor"]


def test_conv_features_and_label_hidden_layers():
    net = DomainAdversarialNet(ConvFeatures((4, 6)), 10, domain_widths=(5,), label_widths=(7,))
    x = jax.random.normal(jax.random.key(0), (3, 8, 8, 3))
    params = net.init(jax.random.key(1), x)
    out = net.apply(params, x, 1.0)
    assert out["features"].shape == (3, 2 * 2 * 6)  # two 2x2 poolings of 8x8
    assert out["class_logits"].shape == (3, 10)
    assert params["params"]["label_hidden_0"]["kernel"].shape == (24, 7)
    # max pooling: the features of a constant image are those of any one of its windows
    f = ConvFeatures((4,))
    p = f.init(jax.random.key(2), x)
    const = jnp.ones((1, 8, 8, 3))
    feats = f.apply(p, const).reshape(4, 4, 4)
    np.testing.assert_allclose(feats[1:3, 1:3], np.broadcast_to(feats[1, 1], (2, 2, 4)), rtol=1e-6)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"ConvFeatures expects images"):
        ConvFeatures().init(jax.random.key(0), jnp.zeros((3, 8)))
    net = FeatureMLP((4,))
    with pytest.raises(ValueError, match=r"expects x of shape \(batch, ...\)"):
        net.init(jax.random.key(0), jnp.zeros((3,)))
    dann = DomainAdversarialNet(FeatureMLP((4,)), 2)
    with pytest.raises(ValueError, match="lam must be a scalar"):
        dann.init(jax.random.key(0), jnp.zeros((3, 2)), jnp.ones(3))
