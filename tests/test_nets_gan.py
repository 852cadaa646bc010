"""GAN networks: shapes and ranges, conditioning, the projection discriminator's formula,
spectral normalisation against the SVD, and the PacGAN critic."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gendiff.gan import pack
from gendiff.nets import (
    SPECTRAL_COLLECTION,
    DCGANCritic,
    DCGANGenerator,
    MLPCritic,
    MLPGenerator,
    PacCritic,
    dcgan_layout,
    spectral_refresh,
)

KEY = jax.random.key(0)
SHAPES = [(8, 8, 1), (28, 28, 1), (32, 32, 3)]


def _labels(n, k=10):
    return jnp.arange(n, dtype=jnp.int32) % k


# ---------------------------------------------------------------------------------------------
# Shapes and ranges


def _run(module, *args):
    """``module.apply(module.init(key, *args), *args)`` as one compiled program."""
    args = tuple(a for a in args if a is not None)
    return jax.jit(lambda key, *a: module.apply(module.init(key, *a), *a))(KEY, *args)


@pytest.mark.parametrize("num_classes", [None, 3])
def test_mlp_generator_shape(num_classes):
    g = MLPGenerator(data_dim=3, hidden=8, depth=2, num_classes=num_classes)
    y = None if num_classes is None else _labels(5, 3)
    x = _run(g, jax.random.normal(KEY, (5, 4)), y)
    assert x.shape == (5, 3) and x.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(x)))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"num_classes": 3, "conditioning": "concat"},
        {"num_classes": 3, "conditioning": "projection", "spectral_norm": True},
    ],
)
def test_mlp_critic_shape(kwargs):
    d = MLPCritic(hidden=8, depth=2, **kwargs)
    x = jax.random.normal(KEY, (6, 2))
    y = _labels(6, 3) if "num_classes" in kwargs else None
    variables = jax.eval_shape(lambda: d.init(KEY, x, y))
    assert (SPECTRAL_COLLECTION in variables) == bool(kwargs.get("spectral_norm"))
    out = _run(d, x, y)
    assert out.shape == (6,) and bool(jnp.all(jnp.isfinite(out)))


@pytest.mark.parametrize("shape", SHAPES)
def test_dcgan_generator_shape_and_range(shape):
    g = DCGANGenerator(image_shape=shape, features=4, num_classes=10)
    z = 10.0 * jax.random.normal(KEY, (3, 8))  # large latents drive tanh towards +-1
    x = _run(g, z, _labels(3))
    assert x.shape == (3, *shape)
    assert bool(jnp.all(jnp.abs(x) <= 1.0))
    assert float(jnp.max(jnp.abs(x))) > 0.5  # the range is used, not a constant


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_dcgan_generator_norms(norm):
    g = DCGANGenerator(image_shape=(8, 8, 1), features=4, norm=norm)
    z = 3.0 * jax.random.normal(KEY, (5, 8)) + 1.0
    variables = g.init(KEY, z)
    _, inter = g.apply(variables, z, capture_intermediates=True)
    h = inter["intermediates"]["LayerNorm_0"]["__call__"][0]  # (5, 2, 2, 16), scale 1, bias 0
    axes = (0, 1, 2) if norm == "batch" else (-1,)
    np.testing.assert_allclose(h.mean(axis=axes), 0.0, atol=1e-5)
    np.testing.assert_allclose(h.std(axis=axes), 1.0, atol=1e-3)
    # Batch statistics tie a sample to its batch; the layer norm keeps samples independent.
    first = g.apply(variables, z)[0]
    other = g.apply(variables, z.at[1:].set(0.0))[0]
    assert bool(jnp.allclose(first, other, atol=1e-6)) == (norm == "layer")


def test_dcgan_generator_norm_errors():
    with pytest.raises(ValueError, match="norm must be one of"):
        DCGANGenerator(norm="group").init(KEY, jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="batches of >= 2 latents"):
        DCGANGenerator(norm="batch").init(KEY, jnp.zeros((1, 4)))


@pytest.mark.parametrize(
    "shape, conditioning",
    [
        ((8, 8, 1), None),
        ((8, 8, 1), "concat"),
        ((8, 8, 1), "projection"),
        ((28, 28, 1), "projection"),
        ((32, 32, 3), None),
    ],
)
def test_dcgan_critic_shape(shape, conditioning):
    num_classes = None if conditioning is None else 10
    d = DCGANCritic(
        features=4,
        num_classes=num_classes,
        conditioning=conditioning or "concat",
        spectral_norm=conditioning == "projection",
    )
    x = jax.random.uniform(KEY, (2, *shape), minval=-1, maxval=1)
    out = _run(d, x, None if num_classes is None else _labels(2))
    assert out.shape == (2,) and bool(jnp.all(jnp.isfinite(out)))


def test_dcgan_layouts():
    # side = base * 2 ** stages; the generator reaches it and the critic comes back down
    for side, (base, stages) in {8: (2, 2), 28: (7, 2), 32: (4, 3)}.items():
        assert dcgan_layout((side, side, 1)) == (base, stages)
        assert base * 2**stages == side


@pytest.mark.parametrize("shape", [(16, 16, 1), (8, 9, 1), (8, 8), (28, 28, 0)])
def test_dcgan_unsupported_shapes(shape):
    with pytest.raises(ValueError, match="DCGAN networks support|height, width, channels"):
        dcgan_layout(shape)
    with pytest.raises(ValueError, match="DCGAN networks support|height, width, channels"):
        DCGANGenerator(image_shape=shape).init(KEY, jnp.zeros((1, 4)))
    if len(shape) == 3 and shape[-1] > 0:
        with pytest.raises(ValueError, match="DCGAN networks support"):
            DCGANCritic().init(KEY, jnp.zeros((1, *shape)))


def test_label_errors():
    x, z = jnp.zeros((4, 2)), jnp.zeros((4, 3))
    with pytest.raises(ValueError, match="conditional on 3 classes"):
        MLPCritic(hidden=4, depth=1, num_classes=3).init(KEY, x)
    with pytest.raises(ValueError, match="unconditional"):
        MLPGenerator(hidden=4, depth=1).init(KEY, z, _labels(4))
    with pytest.raises(ValueError, match="integers of shape"):
        MLPGenerator(hidden=4, depth=1, num_classes=3).init(KEY, z, jnp.zeros(4))
    with pytest.raises(ValueError, match="conditioning must be one of"):
        MLPCritic(hidden=4, depth=1, num_classes=3, conditioning="sum").init(KEY, x, _labels(4))
    with pytest.raises(ValueError, match="latents z of shape"):
        MLPGenerator().init(KEY, jnp.zeros(3))


# ---------------------------------------------------------------------------------------------
# The projection discriminator: D(x, y) = psi(phi(x)) + <embed(y), phi(x)>


@pytest.mark.parametrize(
    "critic, x",
    [
        (MLPCritic(hidden=8, depth=2), jax.random.normal(KEY, (6, 2))),
        (DCGANCritic(features=4), jax.random.uniform(KEY, (6, 8, 8, 1), minval=-1)),
    ],
    ids=["mlp", "dcgan"],
)
def test_projection_discriminator_formula(critic, x):
    critic = critic.clone(num_classes=4, conditioning="projection")
    y = jnp.array([0, 1, 2, 3, 1, 2])
    variables = jax.jit(critic.init)(KEY, x, y)
    out, state = jax.jit(partial(critic.apply, mutable=["intermediates"]))(variables, x, y)
    (phi,) = state["intermediates"]["features"]
    params = variables["params"]
    psi = phi @ params["Dense_" + str(_last_dense(params))]["kernel"][:, 0]
    psi = psi + params["Dense_" + str(_last_dense(params))]["bias"][0]
    table = params["Embed_0"]["embedding"]  # (num_classes, features)
    expected = psi + jnp.sum(table[y] * phi, axis=-1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    # the label matters: the same x under another label differs by <embed(y) - embed(y'), phi>
    out_other = jax.jit(critic.apply)(variables, x, (y + 1) % 4)
    np.testing.assert_allclose(
        out_other - out, jnp.sum((table[(y + 1) % 4] - table[y]) * phi, axis=-1), atol=1e-5
    )


def _last_dense(params):
    return max(int(k.split("_")[1]) for k in params if k.startswith("Dense_"))


# ---------------------------------------------------------------------------------------------
# Spectral normalisation


def _kernels_and_sigmas(variables):
    """[(matrix, stored sigma)] for every spectrally normalised kernel (conv -> 2-D)."""
    params, stats = variables["params"], variables[SPECTRAL_COLLECTION]
    pairs = []
    for sn in stats.values():
        for name, value in sn.items():
            layer, leaf, what = name.split("/")
            if what == "sigma":
                w = params[layer][leaf]
                pairs.append((np.asarray(w).reshape(-1, w.shape[-1]), float(value)))
    return pairs


def _rescale_kernels(variables, seed):
    """Every kernel (and embedding table) replaced by a random one of a different scale, as
    after training (Flax's init stores kernels already divided by a first sigma estimate)."""
    rng = np.random.default_rng(seed)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(variables["params"])
    new = [
        (2.0 + i) * rng.standard_normal(w.shape, np.float32)
        if path[-1].key in ("kernel", "embedding")
        else w
        for i, (path, w) in enumerate(leaves)
    ]
    return {**variables, "params": jax.tree.unflatten(treedef, new)}


@pytest.mark.parametrize(
    "critic, x0",
    [
        (MLPCritic(hidden=16, depth=2, spectral_norm=True), jnp.zeros((1, 3))),
        (DCGANCritic(features=8, spectral_norm=True), jnp.zeros((1, 8, 8, 1))),
    ],
    ids=["dense", "conv"],
)
def test_spectral_norm_power_iteration_converges_to_svd(critic, x0):
    variables = jax.jit(critic.init)(jax.random.key(1), x0)
    variables = _rescale_kernels(variables, 2)
    refresh = jax.jit(spectral_refresh(critic, x0))
    errors = {}
    for k in range(1, 31):
        variables = refresh(variables)
        pairs = _kernels_and_sigmas(variables)
        assert len(pairs) == 3  # two hidden layers and the output layer
        s_max = [np.linalg.svd(w, compute_uv=False)[0] for w, _ in pairs]
        assert min(s_max) > 1.5  # far from normalised: the estimate has work to do
        # a power-iteration estimate v^T W u with unit u, v never exceeds sigma_max
        for (_, sigma), s in zip(pairs, s_max):
            assert sigma <= s * (1 + 1e-5)
        # the largest singular value of the normalised kernel W / sigma
        errors[k] = max(abs(s / sigma - 1.0) for (_, sigma), s in zip(pairs, s_max))
    assert errors[30] < 1e-3, errors
    assert errors[30] < errors[1], errors


def test_spectral_norm_forward_uses_normalised_kernels():
    # W / sigma(W) does not change when every kernel is scaled: the normalised critic's
    # output stays, the plain critic's does not.
    x = jax.random.normal(KEY, (5, 2))
    for sn in (True, False):
        critic = MLPCritic(hidden=8, depth=2, spectral_norm=sn)
        variables = jax.jit(critic.init)(KEY, x)
        scaled = {
            **variables,
            "params": jax.tree_util.tree_map_with_path(
                lambda path, w: 10.0 * w if path[-1].key == "kernel" else w, variables["params"]
            ),
        }
        apply = jax.jit(critic.apply)
        same = np.allclose(apply(variables, x), apply(scaled, x), atol=1e-5)
        assert same == sn


def test_spectral_norm_critic_is_1_lipschitz():
    critic = MLPCritic(hidden=32, depth=3, spectral_norm=True)
    x0 = jnp.zeros((1, 2))
    variables = _rescale_kernels(jax.jit(critic.init)(KEY, x0), 4)
    refresh = jax.jit(spectral_refresh(critic, x0))
    for _ in range(30):
        variables = refresh(variables)
    a, b = jax.random.normal(jax.random.key(1), (2, 512, 2)) * 3.0
    apply = jax.jit(critic.apply)
    ratio = jnp.abs(apply(variables, a) - apply(variables, b))
    ratio = ratio / jnp.linalg.norm(a - b, axis=-1)
    assert float(jnp.max(ratio)) <= 1.0 + 1e-3


def test_spectral_state_gets_no_gradient_and_refresh_writes_it():
    critic = MLPCritic(
        hidden=8, depth=2, num_classes=3, conditioning="projection", spectral_norm=True
    )
    x, y = jax.random.normal(KEY, (3, 2)), _labels(3, 3)
    variables = _rescale_kernels(jax.jit(critic.init)(KEY, x, y), 3)
    grads = jax.jit(jax.grad(lambda v: jnp.sum(critic.apply(v, x, y))))(variables)
    assert all(float(jnp.max(jnp.abs(g))) == 0.0 for g in jax.tree.leaves(grads["spectral"]))
    assert any(float(jnp.max(jnp.abs(g))) > 0.0 for g in jax.tree.leaves(grads["params"]))
    refreshed = jax.jit(spectral_refresh(critic, x[:1], y[:1]))(variables)
    changed = jax.tree.map(
        lambda a, b: bool(jnp.any(a != b)), variables["spectral"], refreshed["spectral"]
    )
    assert all(jax.tree.leaves(changed))  # every u and every sigma
    assert jax.tree.all(
        jax.tree.map(lambda a, b: bool(jnp.all(a == b)), refreshed["params"], variables["params"])
    )
    # variables without the collection pass through
    plain = {"params": variables["params"]}
    assert spectral_refresh(critic, x[:1], y[:1])(plain) is plain


# ---------------------------------------------------------------------------------------------
# PacGAN


@pytest.mark.parametrize(
    "inner, x",
    [
        (MLPCritic(hidden=8, depth=2), jax.random.normal(KEY, (12, 2))),
        (DCGANCritic(features=4), jax.random.uniform(KEY, (6, 8, 8, 1), minval=-1)),
    ],
    ids=["mlp", "dcgan"],
)
def test_pac_critic_is_plain_critic_on_packed_input(inner, x):
    m = 3
    pac = PacCritic(inner, m=m)
    variables = jax.jit(pac.init)(KEY, x)
    out = jax.jit(pac.apply)(variables, x)
    assert out.shape == (x.shape[0] // m,)
    expected = jax.jit(inner.apply)({"params": variables["params"]["critic"]}, pack(x, m))
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    # each output sees exactly its own m samples: changing sample 0 moves output 0 only
    moved = jax.jit(pac.apply)(variables, x.at[0].add(1.0))
    assert float(jnp.abs(moved[0] - out[0])) > 0 and bool(jnp.all(moved[1:] == out[1:]))
    with pytest.raises(ValueError, match="multiple of m"):
        pac.apply(variables, x[:-1])
