"""Inception-v3 as used for FID (the pytorch-fid variant), channels-last, in Flax.

The network of Szegedy et al. (2016) with the changes that make it reproduce the TensorFlow
graph behind the published FID and Inception Score numbers:

- every convolution is ``BasicConv2d``: convolution without bias, BatchNorm (epsilon 0.001,
  inference statistics) and ReLU;
- the average-pool branches of the A, C and first E blocks (Mixed_5b-5d, Mixed_6b-6e, Mixed_7b)
  do not count padded zeros (``count_include_pad=False``);
- the pool branch of the last E block (Mixed_7c) is a 3x3 *max* pool (stride 1, padding 1);
- inputs in [0, 1] are resized to 299x299 bilinearly (half-pixel centres, i.e. PyTorch's
  ``align_corners=False``, no antialiasing) and scaled to [-1, 1] by 2x - 1.

Outputs: ``pool3``, the 2048-d global average of Mixed_7c (FID, KID, precision/recall), and the
1008 ImageNet logits of the final dense layer (Inception Score). Spatial sizes: 35x35x256 after
Mixed_5b, 17x17x768 after Mixed_6a, 8x8x1280 after Mixed_7a, 8x8x2048 after Mixed_7c.

Module names follow the PyTorch checkpoint (``Mixed_5b/branch5x5_1/conv/kernel`` is
``Mixed_5b.branch5x5_1.conv.weight``), so the converter in ``gendiff.nets.inception_weights`` is
a renaming plus transposes. Weights are never downloaded: see that module.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

INPUT_SIZE = 299  # side of the resized input
POOL_DIM = 2048  # width of the pool3 features
NUM_LOGITS = 1008  # classes of the final layer (1000 ImageNet classes and 8 unused)
BN_EPSILON = 1e-3


class BasicConv2d(nn.Module):
    """Convolution (no bias) + BatchNorm (inference statistics, eps 0.001) + ReLU.

    Attributes:
      features: output channels.
      kernel: (kh, kw).
      strides: (sh, sw).
      padding: (ph, pw) zeros on each side of H and W.

    Example:
      >>> layer = BasicConv2d(4, (1, 3), padding=(0, 1))
      >>> x = jnp.ones((1, 5, 5, 2))
      >>> variables = layer.init(key, x)
      >>> sorted(variables), layer.apply(variables, x).shape
      (['batch_stats', 'params'], (1, 5, 5, 4))
    """

    features: int
    kernel: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        ph, pw = self.padding
        x = nn.Conv(
            self.features,
            self.kernel,
            strides=self.strides,
            padding=((ph, ph), (pw, pw)),
            use_bias=False,
            name="conv",
        )(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=BN_EPSILON, name="bn")(x)
        return nn.relu(x)


def _avg_pool_3x3_exclude_pad(x: jax.Array) -> jax.Array:
    """3x3 average pool, stride 1, padding 1, dividing by the number of real (unpadded) pixels."""
    window, strides, pad = (1, 3, 3, 1), (1, 1, 1, 1), ((0, 0), (1, 1), (1, 1), (0, 0))
    total = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, pad)
    ones = jnp.ones((1, *x.shape[1:3], 1), x.dtype)
    count = jax.lax.reduce_window(ones, 0.0, jax.lax.add, window, strides, pad)
    return total / count


def _max_pool(x: jax.Array, stride: int, pad: int) -> jax.Array:
    return nn.max_pool(x, (3, 3), strides=(stride, stride), padding=((pad, pad), (pad, pad)))


class InceptionA(nn.Module):
    """35x35 block: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg pool (no pad count) -> 1x1.

    Example:
      >>> x = jnp.ones((1, 35, 35, 192))
      >>> jax.eval_shape(lambda: InceptionA(32).init_with_output(key, x)[0]).shape
      (1, 35, 35, 256)
    """

    pool_features: int

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv2d(64, (1, 1), name="branch1x1")(x)
        b5 = BasicConv2d(48, (1, 1), name="branch5x5_1")(x)
        b5 = BasicConv2d(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
        b3 = BasicConv2d(64, (1, 1), name="branch3x3dbl_1")(x)
        b3 = BasicConv2d(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
        b3 = BasicConv2d(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
        bp = BasicConv2d(self.pool_features, (1, 1), name="branch_pool")(
            _avg_pool_3x3_exclude_pad(x)
        )
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
    """35 -> 17 reduction: 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | max pool 3/2.

    Example:
      >>> x = jnp.ones((1, 35, 35, 288))
      >>> jax.eval_shape(lambda: InceptionB().init_with_output(key, x)[0]).shape
      (1, 17, 17, 768)
    """

    @nn.compact
    def __call__(self, x):
        b3 = BasicConv2d(384, (3, 3), strides=(2, 2), name="branch3x3")(x)
        bd = BasicConv2d(64, (1, 1), name="branch3x3dbl_1")(x)
        bd = BasicConv2d(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
        bd = BasicConv2d(96, (3, 3), strides=(2, 2), name="branch3x3dbl_3")(bd)
        return jnp.concatenate([b3, bd, _max_pool(x, 2, 0)], axis=-1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convolutions of width ``channels_7x7``.

    Example:
      >>> x = jnp.ones((1, 17, 17, 768))
      >>> jax.eval_shape(lambda: InceptionC(128).init_with_output(key, x)[0]).shape
      (1, 17, 17, 768)
    """

    channels_7x7: int

    @nn.compact
    def __call__(self, x):
        c7 = self.channels_7x7
        b1 = BasicConv2d(192, (1, 1), name="branch1x1")(x)
        b7 = BasicConv2d(c7, (1, 1), name="branch7x7_1")(x)
        b7 = BasicConv2d(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
        b7 = BasicConv2d(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
        bd = BasicConv2d(c7, (1, 1), name="branch7x7dbl_1")(x)
        bd = BasicConv2d(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
        bd = BasicConv2d(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
        bd = BasicConv2d(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
        bd = BasicConv2d(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
        bp = BasicConv2d(192, (1, 1), name="branch_pool")(_avg_pool_3x3_exclude_pad(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
    """17 -> 8 reduction: 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | max pool 3/2.

    Example:
      >>> x = jnp.ones((1, 17, 17, 768))
      >>> jax.eval_shape(lambda: InceptionD().init_with_output(key, x)[0]).shape
      (1, 8, 8, 1280)
    """

    @nn.compact
    def __call__(self, x):
        b3 = BasicConv2d(192, (1, 1), name="branch3x3_1")(x)
        b3 = BasicConv2d(320, (3, 3), strides=(2, 2), name="branch3x3_2")(b3)
        b7 = BasicConv2d(192, (1, 1), name="branch7x7x3_1")(x)
        b7 = BasicConv2d(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
        b7 = BasicConv2d(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
        b7 = BasicConv2d(192, (3, 3), strides=(2, 2), name="branch7x7x3_4")(b7)
        return jnp.concatenate([b3, b7, _max_pool(x, 2, 0)], axis=-1)


class InceptionE(nn.Module):
    """8x8 block with split 1x3/3x1 outputs; pool branch 'avg' (Mixed_7b) or 'max' (Mixed_7c).

    'avg' is an average pool that does not count padded zeros; 'max' a 3x3 max pool, stride 1,
    padding 1 (the FID network's Mixed_7c).

    Example:
      >>> x = jnp.ones((1, 8, 8, 1280))
      >>> jax.eval_shape(lambda: InceptionE("avg").init_with_output(key, x)[0]).shape
      (1, 8, 8, 2048)
    """

    pool: str

    @nn.compact
    def __call__(self, x):
        if self.pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {self.pool!r}.")
        b1 = BasicConv2d(320, (1, 1), name="branch1x1")(x)
        b3 = BasicConv2d(384, (1, 1), name="branch3x3_1")(x)
        b3 = jnp.concatenate(
            [
                BasicConv2d(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
                BasicConv2d(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3),
            ],
            axis=-1,
        )
        bd = BasicConv2d(448, (1, 1), name="branch3x3dbl_1")(x)
        bd = BasicConv2d(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
        bd = jnp.concatenate(
            [
                BasicConv2d(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
                BasicConv2d(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd),
            ],
            axis=-1,
        )
        pooled = _avg_pool_3x3_exclude_pad(x) if self.pool == "avg" else _max_pool(x, 1, 1)
        bp = BasicConv2d(192, (1, 1), name="branch_pool")(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


def resize_bilinear(images: jax.Array, size: int = INPUT_SIZE) -> jax.Array:
    """Bilinear resize of (n, H, W, C) to (n, size, size, C), half-pixel centres, no antialias.

    The same as PyTorch's ``F.interpolate(mode='bilinear', align_corners=False)``: output pixel
    i samples the input at (i + 0.5) H / size - 0.5, clamped to the image, for up- and
    down-sampling alike.

    Example:
      >>> x = jnp.arange(4.0).reshape(1, 2, 2, 1)
      >>> resize_bilinear(x, 4)[0, :, :, 0]
      Array([[0.  , 0.25, 0.75, 1.  ],
             [0.5 , 0.75, 1.25, 1.5 ],
             [1.5 , 1.75, 2.25, 2.5 ],
             [2. , 2.25, 2.75, 3.  ]], dtype=float32)
    """
    n, _, _, c = images.shape
    return jax.image.resize(images, (n, size, size, c), method="bilinear", antialias=False)


def check_unit_images(images) -> None:
    """Raises ValueError unless ``images`` are (n, H, W, 3) in [0, 1] (concrete values checked).

    Example:
      >>> check_unit_images(np.zeros((2, 8, 8, 3)))
      >>> check_unit_images(np.zeros((2, 8, 8)))
      Traceback (most recent call last):
      ...
      ValueError: images must have shape (num_images, H, W, 3), got shape (2, 8, 8).
    """
    shape = np.shape(images)
    if len(shape) != 4 or shape[-1] != 3:
        raise ValueError(f"images must have shape (num_images, H, W, 3), got shape {shape}.")
    if isinstance(images, jax.core.Tracer):
        return
    x = np.asarray(images)
    if not np.all(np.isfinite(x)) or x.min(initial=0.0) < 0.0 or x.max(initial=0.0) > 1.0:
        raise ValueError(
            "images must be finite floats in [0, 1] (convert uint8 with x / 255, [-1, 1] floats "
            f"with (x + 1) / 2), got range [{np.nanmin(x)}, {np.nanmax(x)}]."
        )


class FIDInceptionV3(nn.Module):
    """Inception-v3 of pytorch-fid: images in [0, 1] -> (pool3 (n, 2048), logits (n, 1008)).

    Images (n, H, W, 3) of any size are resized to 299x299 and scaled to [-1, 1] inside.
    ``logits`` are pool3 @ W + b (the dense layer of the checkpoint, bias included), or
    pool3 @ W with ``logits_bias=False``: the logits of the Inception Score as Salimans et al.'s
    code (and torch-fidelity after it) computes them. Variables: 'params' and 'batch_stats'
    (BatchNorm mean and var).

    Example:
      >>> model = FIDInceptionV3()
      >>> x = jnp.zeros((2, 32, 32, 3))
      >>> pool3, logits = jax.eval_shape(lambda: model.init_with_output(key, x)[0])
      >>> pool3.shape, logits.shape
      ((2, 2048), (2, 1008))
    """

    logits_bias: bool = True

    @nn.compact
    def __call__(self, images: jax.Array, *, return_blocks: bool = False):
        """pool3 and logits of images in [0, 1]; with return_blocks also {block name: output}.

        Args:
          images: (n, H, W, 3) floats in [0, 1].
          return_blocks: also return the outputs of the stem and every Mixed block.
        """
        check_unit_images(images)
        x = resize_bilinear(jnp.asarray(images, jnp.float32))
        x = 2.0 * x - 1.0
        blocks = {}
        x = BasicConv2d(32, (3, 3), strides=(2, 2), name="Conv2d_1a_3x3")(x)
        x = BasicConv2d(32, (3, 3), name="Conv2d_2a_3x3")(x)
        x = BasicConv2d(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
        x = _max_pool(x, 2, 0)
        x = BasicConv2d(80, (1, 1), name="Conv2d_3b_1x1")(x)
        x = BasicConv2d(192, (3, 3), name="Conv2d_4a_3x3")(x)
        blocks["stem"] = x = _max_pool(x, 2, 0)
        layers = [
            ("Mixed_5b", InceptionA(32, name="Mixed_5b")),
            ("Mixed_5c", InceptionA(64, name="Mixed_5c")),
            ("Mixed_5d", InceptionA(64, name="Mixed_5d")),
            ("Mixed_6a", InceptionB(name="Mixed_6a")),
            *[(n, InceptionC(c, name=n)) for n, c in zip(MIXED_6_NAMES, MIXED_6_WIDTHS)],
            ("Mixed_7a", InceptionD(name="Mixed_7a")),
            ("Mixed_7b", InceptionE("avg", name="Mixed_7b")),
            ("Mixed_7c", InceptionE("max", name="Mixed_7c")),
        ]
        for name, layer in layers:
            blocks[name] = x = layer(x)
        pool3 = jnp.mean(x, axis=(1, 2))
        fc = nn.Dense(NUM_LOGITS, name="fc")
        logits = fc(pool3)
        if not self.logits_bias:
            logits = logits - fc.variables["params"]["bias"]
        if return_blocks:
            return pool3, logits, blocks
        return pool3, logits


MIXED_6_NAMES = ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e")
MIXED_6_WIDTHS = (128, 160, 160, 192)


@functools.cache
def _variable_shapes() -> tuple:
    tree = jax.eval_shape(
        FIDInceptionV3().init, jax.random.key(0), jax.ShapeDtypeStruct((1, 8, 8, 3), jnp.float32)
    )
    return tuple((name, tuple(leaf.shape)) for name, leaf in sorted(flatten(tree).items()))


def variable_shapes() -> dict[str, tuple[int, ...]]:
    """{'params/Mixed_5b/branch1x1/conv/kernel': shape, ...} of every variable, flat, sorted.

    Example:
      >>> shapes = variable_shapes()
      >>> shapes["params/Conv2d_1a_3x3/conv/kernel"], shapes["params/fc/kernel"]
      ((3, 3, 3, 32), (2048, 1008))
      >>> sum(int(np.prod(s)) for k, s in shapes.items() if k.startswith("params/"))
      23850960

    (torchvision's 27,161,264 without the 3,326,696 of AuxLogits, plus 8 logits of 2049 weights.)
    """
    return dict(_variable_shapes())


def flatten(tree, prefix: str = "") -> dict:
    """Flat {'a/b/c': leaf} of a nested dict of variables.

    Example:
      >>> flatten({"params": {"fc": {"bias": 1}}})
      {'params/fc/bias': 1}
    """
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict) or hasattr(value, "items"):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def unflatten(flat: dict) -> dict:
    """Nested dict of {'a/b/c': leaf} (the inverse of :func:`flatten`).

    Example:
      >>> unflatten({"params/fc/bias": 1})
      {'params': {'fc': {'bias': 1}}}
    """
    tree: dict = {}
    for name, value in flat.items():
        node = tree
        *parents, leaf = name.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def random_variables(seed: int = 0) -> dict:
    """Random variables of the right shapes with activations of order one (for tests, timing).

    Kernels are He-normal; BatchNorm scale in [0.5, 1.5], bias and mean N(0, 0.1^2), var in
    [0.5, 1.5]; the dense layer N(0, 1/2048). No meaning beyond shapes and scale.

    Example:
      >>> v = random_variables(0)
      >>> v["batch_stats"]["Mixed_7c"]["branch_pool"]["bn"]["var"].shape
      (192,)
    """
    rng = np.random.default_rng(seed)
    flat = {}
    for name, shape in variable_shapes().items():
        leaf = name.rsplit("/", 1)[1]
        if name.startswith("params/fc/"):
            value = rng.normal(0.0, 1.0 / np.sqrt(POOL_DIM), shape)
        elif leaf == "kernel":
            value = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[:3])), shape)
        elif leaf in ("scale", "var"):
            value = rng.uniform(0.5, 1.5, shape)
        else:  # BatchNorm bias and mean
            value = rng.normal(0.0, 0.1, shape)
        flat[name] = value.astype(np.float32)
    return unflatten(flat)
