"""Masked reconstruction: patches, patch masks (random, block, span) and the loss on the masked
part only.

The lecture notes' objective (F0:3468) is E d(x, T_theta(mask(x))) with d the MSE or the
cross-entropy; following BERT and MAE the distance is taken over the masked positions only,
since the visible ones are copied from the input and say nothing about what was learnt:

    L = sum_{b, i} m_bi d(x_bi, xhat_bi) / sum_{b, i} m_bi,       m_bi = 1 if patch i of
                                                                  example b is masked.      (1)

A mask covers exactly k = round(mask_ratio * L) of the L patches (1 <= k <= L - 1), so the
ratio is exact whenever mask_ratio * L is an integer:

- random: k patches drawn uniformly without replacement (BERT, MAE);
- block: one contiguous rectangle of the patch grid, filled in raster order to exactly k
  patches (its last row may be partial), at a uniformly random position (BEiT's blockwise
  masking with one block, I-JEPA's target blocks);
- span: `num_spans` non-overlapping runs of consecutive positions in raster order, of lengths
  differing by at most one, at uniformly random places (SpanBERT-style, fixed lengths).

Patches are numbered in raster order: patch (r, c) of an (H/p, W/p) grid is index r * W/p + c.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from gendiff.ssl._checks import check_ratio

MASK_KINDS = ("random", "block", "span")
RECONSTRUCTION_LOSSES = ("mse", "cross_entropy")


def patchify(images: jax.Array, patch_size: int) -> jax.Array:
    """Cuts (B, H, W, C) images into (B, (H/p)(W/p), p*p*C) non-overlapping patches.

    Args:
      images: channels-last images; H and W divisible by `patch_size`.
      patch_size: side p of the square patches.

    Returns:
      The patches in raster order, each flattened as (row, column, channel).

    Example:
      >>> patchify(jnp.zeros((2, 8, 8, 1)), 4).shape
      (2, 4, 16)
    """
    images = jnp.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"images must have shape (batch, height, width, channels), got {images.shape}."
        )
    b, h, w, c = images.shape
    p = int(patch_size)
    if p < 1 or h % p or w % p:
        raise ValueError(
            f"patch_size must be >= 1 and divide height and width, got {p} for {h}x{w}."
        )
    x = images.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(patches: jax.Array, image_shape: tuple[int, int, int]) -> jax.Array:
    """Inverse of :func:`patchify`: (B, L, p*p*C) patches back to (B, H, W, C) images.

    Args:
      patches: patches in raster order.
      image_shape: (H, W, C) of one image.

    Returns:
      The images.

    Example:
      >>> x = jnp.arange(32.0).reshape(2, 4, 4, 1)
      >>> bool(jnp.all(unpatchify(patchify(x, 2), (4, 4, 1)) == x))
      True
    """
    h, w, c = image_shape
    b, length, dim = patches.shape
    p = math.isqrt(dim // c) if c else 0
    if p < 1 or p * p * c != dim or h % p or w % p or length != (h // p) * (w // p):
        raise ValueError(
            f"patches of shape {patches.shape} do not tile images of shape {image_shape}."
        )
    x = patches.reshape(b, h // p, w // p, p, p, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def num_masked(num_patches: int, mask_ratio: float) -> int:
    """k = round(mask_ratio * L), checked to lie in [1, L - 1].

    Example:
      >>> num_masked(16, 0.75)
      12
    """
    ratio = check_ratio("mask_ratio", mask_ratio)
    k = int(round(ratio * num_patches))
    if not 1 <= k <= num_patches - 1:
        raise ValueError(
            f"mask_ratio {ratio} masks {k} of {num_patches} patches; it must mask at least one "
            "and leave at least one visible."
        )
    return k


def random_patch_mask(key: jax.Array, num_patches: int, mask_ratio: float) -> jax.Array:
    """Exactly k = round(mask_ratio * L) patches, uniformly without replacement.

    Args:
      key: PRNG key.
      num_patches: L.
      mask_ratio: fraction in (0, 1).

    Returns:
      Boolean mask of shape (L,), True where masked.

    Example:
      >>> int(random_patch_mask(jax.random.key(0), 16, 0.75).sum())
      12
    """
    k = num_masked(num_patches, mask_ratio)
    ranks = jnp.argsort(jnp.argsort(jax.random.uniform(key, (num_patches,))))
    return ranks < k


def _block_shape(k: int, height: int, width: int) -> tuple[int, int]:
    bh = min(height, math.isqrt(k - 1) + 1)  # ceil(sqrt(k)) for k >= 1
    bw = -(-k // bh)
    if bw > width:
        bw, bh = width, -(-k // width)
    return bh, bw


def block_patch_mask(key: jax.Array, grid_shape: tuple[int, int], mask_ratio: float) -> jax.Array:
    """One contiguous block of exactly k = round(mask_ratio * H W) patches of an H x W grid.

    The block is bh x bw with bh = min(H, ceil(sqrt(k))) and bw = ceil(k / bh) (or bw = W when
    that is too wide), filled in raster order up to k patches, at a uniformly random position.

    Args:
      key: PRNG key.
      grid_shape: (H, W), the patch grid.
      mask_ratio: fraction in (0, 1).

    Returns:
      Boolean mask of shape (H * W,) in raster order.

    Example:
      >>> m = block_patch_mask(jax.random.key(0), (4, 4), 0.25)
      >>> int(m.sum())
      4
    """
    height, width = _grid(grid_shape)
    k = num_masked(height * width, mask_ratio)
    bh, bw = _block_shape(k, height, width)
    key_r, key_c = jax.random.split(key)
    top = jax.random.randint(key_r, (), 0, height - bh + 1)
    left = jax.random.randint(key_c, (), 0, width - bw + 1)
    r = jnp.arange(height)[:, None] - top
    c = jnp.arange(width)[None, :] - left
    inside = (r >= 0) & (r < bh) & (c >= 0) & (c < bw) & (r * bw + c < k)
    return inside.reshape(-1)


def span_mask(key: jax.Array, length: int, mask_ratio: float, *, num_spans: int = 1) -> jax.Array:
    """`num_spans` non-overlapping runs of consecutive positions covering exactly k of L.

    The run lengths are k // num_spans or one more. Their places are uniform: the L - k
    visible positions and the num_spans runs form a sequence of L - k + num_spans items, and
    the runs take a uniformly random subset of its slots (adjacent runs may touch).

    Args:
      key: PRNG key.
      length: L, the sequence length (or number of patches in raster order).
      mask_ratio: fraction in (0, 1).
      num_spans: number of runs, 1 <= num_spans <= k.

    Returns:
      Boolean mask of shape (L,).

    Example:
      >>> m = span_mask(jax.random.key(0), 20, 0.3, num_spans=2)
      >>> int(m.sum())
      6
    """
    k = num_masked(length, mask_ratio)
    num_spans = int(num_spans)
    if not 1 <= num_spans <= k:
        raise ValueError(f"num_spans must lie in [1, {k}] (the masked count), got {num_spans}.")
    lengths = jnp.asarray([k // num_spans + (i < k % num_spans) for i in range(num_spans)])
    slots = length - k + num_spans
    chosen = jnp.sort(jax.random.permutation(key, slots)[:num_spans])
    # Slot p_i of the i-th run starts at p_i + sum_{j < i} (len_j - 1).
    starts = chosen + jnp.concatenate([jnp.zeros(1, lengths.dtype), jnp.cumsum(lengths - 1)[:-1]])
    pos = jnp.arange(length)[:, None]
    return jnp.any((pos >= starts) & (pos < starts + lengths), axis=1)


def _grid(grid_shape) -> tuple[int, int]:
    if isinstance(grid_shape, int):
        return 1, int(grid_shape)
    if len(grid_shape) != 2 or min(grid_shape) < 1:
        raise ValueError(
            f"grid_shape must be (height, width) of positive sizes or an int, got {grid_shape}."
        )
    return int(grid_shape[0]), int(grid_shape[1])


def sample_masks(
    key: jax.Array,
    batch_size: int,
    kind: str,
    grid_shape: int | tuple[int, int],
    mask_ratio: float,
    *,
    num_spans: int = 1,
) -> jax.Array:
    """A batch of masks, one PRNG key per example (split from `key`).

    Args:
      key: PRNG key.
      batch_size: number of masks B.
      kind: "random", "block" or "span".
      grid_shape: (H, W) patch grid, or L for a sequence (a 1 x L grid).
      mask_ratio: fraction in (0, 1), exact when mask_ratio * H * W is an integer.
      num_spans: runs per mask for kind "span".

    Returns:
      Boolean masks of shape (B, H * W).

    Example:
      >>> sample_masks(jax.random.key(0), 3, "span", 10, 0.5).sum(axis=1).tolist()
      [5, 5, 5]
    """
    if kind not in MASK_KINDS:
        raise ValueError(f"kind must be one of {MASK_KINDS}, got {kind!r}.")
    height, width = _grid(grid_shape)
    keys = jax.random.split(key, batch_size)
    if kind == "random":
        fn = lambda k: random_patch_mask(k, height * width, mask_ratio)
    elif kind == "block":
        fn = lambda k: block_patch_mask(k, (height, width), mask_ratio)
    else:
        fn = lambda k: span_mask(k, height * width, mask_ratio, num_spans=num_spans)
    return jax.vmap(fn)(keys)


def apply_mask_token(patches: jax.Array, mask: jax.Array, mask_token: jax.Array) -> jax.Array:
    """The masking operator mask(x): masked patches replaced by a (learned) token.

    Args:
      patches: (B, L, D) patches or tokens.
      mask: (B, L) booleans, True where masked.
      mask_token: (D,) replacement vector.

    Returns:
      (B, L, D) corrupted input.

    Example:
      >>> apply_mask_token(jnp.ones((1, 2, 1)), jnp.array([[True, False]]), jnp.zeros(1))[0, :, 0]
      Array([0., 1.], dtype=float32)
    """
    patches, mask = jnp.asarray(patches), jnp.asarray(mask)
    if patches.ndim != 3 or mask.shape != patches.shape[:2]:
        raise ValueError(
            f"expected patches (B, L, D) and mask (B, L), got {patches.shape} and {mask.shape}."
        )
    return jnp.where(mask[..., None], jnp.asarray(mask_token, patches.dtype), patches)


def masked_reconstruction_loss(
    prediction: jax.Array,
    target: jax.Array,
    mask: jax.Array,
    *,
    loss: str = "mse",
    normalize_target: bool = False,
) -> tuple[jax.Array, dict]:
    """Reconstruction loss (1) averaged over the masked positions only.

    Args:
      prediction: (B, L, D) reconstructions for "mse", or (B, L, V) logits for
        "cross_entropy".
      target: (B, L, D) true patches for "mse", or (B, L) integer tokens for "cross_entropy".
      mask: (B, L) booleans, True where the input was masked.
      loss: "mse" (mean over the D values of a patch) or "cross_entropy".
      normalize_target: for "mse", standardise each target patch by its own mean and
        variance first (MAE's normalised-pixel target).

    Returns:
      (loss, metrics) with 'loss', 'visible_loss' (the same distance on the unmasked
      positions, reported only, no gradient) and 'mask_fraction'.

    Raises:
      ValueError: for an unknown loss or mismatched shapes.

    References:
      Devlin et al., "BERT", NAACL 2019; He et al., "Masked autoencoders are scalable vision
      learners", CVPR 2022, section 3.

    Example:
      >>> pred, tgt = jnp.zeros((1, 2, 1)), jnp.array([[[1.0], [5.0]]])
      >>> loss, m = masked_reconstruction_loss(pred, tgt, jnp.array([[True, False]]))
      >>> float(loss)  # only the first patch counts
      1.0
    """
    if loss not in RECONSTRUCTION_LOSSES:
        raise ValueError(f"loss must be one of {RECONSTRUCTION_LOSSES}, got {loss!r}.")
    prediction, target, mask = jnp.asarray(prediction), jnp.asarray(target), jnp.asarray(mask)
    if mask.ndim != 2 or mask.dtype != jnp.bool_:
        raise ValueError(
            f"mask must be a (batch, length) boolean array, got {mask.dtype} {mask.shape}."
        )
    if loss == "mse":
        if (
            prediction.ndim != 3
            or prediction.shape != target.shape
            or prediction.shape[:2] != mask.shape
        ):
            raise ValueError(
                "for loss='mse' prediction and target must both have shape (B, L, D) with mask "
                f"(B, L), got {prediction.shape}, {target.shape} and {mask.shape}."
            )
        if normalize_target:
            mean = jnp.mean(target, axis=-1, keepdims=True)
            var = jnp.var(target, axis=-1, keepdims=True)
            target = (target - mean) / jnp.sqrt(var + 1e-6)
        per_patch = jnp.mean((prediction - target) ** 2, axis=-1)
    else:
        if (
            prediction.ndim != 3
            or target.shape != prediction.shape[:2]
            or mask.shape != target.shape
            or not jnp.issubdtype(target.dtype, jnp.integer)
        ):
            raise ValueError(
                "for loss='cross_entropy' prediction must be (B, L, V) logits, target (B, L) "
                f"integers and mask (B, L), got {prediction.shape}, {target.dtype} "
                f"{target.shape} and {mask.shape}."
            )
        log_probs = jax.nn.log_softmax(prediction, axis=-1)
        per_patch = -jnp.take_along_axis(log_probs, target[..., None], axis=-1)[..., 0]
    m = mask.astype(per_patch.dtype)
    # jnp.where, not a product: whatever sits at the visible positions (even inf) is dropped.
    value = jnp.sum(jnp.where(mask, per_patch, 0.0)) / jnp.maximum(jnp.sum(m), 1.0)
    visible = jax.lax.stop_gradient(
        jnp.sum(jnp.where(mask, 0.0, per_patch)) / jnp.maximum(jnp.sum(1.0 - m), 1.0)
    )
    return value, {"loss": value, "visible_loss": visible, "mask_fraction": jnp.mean(m)}
