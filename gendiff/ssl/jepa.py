"""JEPA: predict the target encoder's embeddings of hidden patches from the visible context.

With a context encoder f_theta, a target encoder g_phi and a predictor h_psi (F0:3491-3525),

    L(theta, psi) = 1/(B n_t) sum_b sum_{i in T_b} || h_psi(f_theta(x_{C_b}), C_b, i)
                                                     - sg(g_phi(x_b))_i ||^2,               (1)

where C_b and T_b are the context and target patch positions of example b, the target encoder
sees the whole image and its outputs at T_b are the targets, and the predictor is told which
positions to predict (I-JEPA's positional mask tokens). sg is the stop-gradient: phi is not
trained by (1) but follows the context encoder as an exponential moving average,

    phi <- m phi + (1 - m) theta,                                                          (2)

with the momentum m close to 1 (I-JEPA ramps it linearly from 0.996 to 1). The lecture notes
train theta, phi and psi jointly on (1) (F0:3525, F0:3540); nothing then stops every encoder from
mapping all inputs to one constant, where (1) is 0: the embeddings collapse. That variant is
available here as ``stop_gradient_target=False`` (with phi trained as a third parameter set),
for the experiment that shows the collapse, not as a default.

The networks enter only through their apply functions, so the loss is a pure function of
parameter pytrees and arrays:

- ``encoder_apply(encoder_params, patches, positions) -> embeddings``: (B, n, D) patches at
  (B, n) integer positions to (B, n, E) embeddings;
- ``predictor_apply(predictor_params, context_embeddings, context_positions,
  target_positions) -> predictions``: (B, n_c, E), (B, n_c), (B, n_t) to (B, n_t, E).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from gendiff.ssl._checks import check_ratio
from gendiff.ssl.masking import block_patch_mask, num_masked

PyTree = Any
EncoderApply = Callable[[PyTree, jax.Array, jax.Array], jax.Array]
PredictorApply = Callable[[PyTree, jax.Array, jax.Array, jax.Array], jax.Array]


def gather_positions(x: jax.Array, positions: jax.Array) -> jax.Array:
    """x[b, positions[b]] for every b: (B, L, D) and (B, n) -> (B, n, D).

    Example:
      >>> gather_positions(jnp.arange(6.0).reshape(1, 3, 2), jnp.array([[2, 0]]))[0].tolist()
      [[4.0, 5.0], [0.0, 1.0]]
    """
    return jnp.take_along_axis(x, positions[..., None], axis=1)


def _layer_norm(z: jax.Array, eps: float = 1e-6) -> jax.Array:
    mean = jnp.mean(z, axis=-1, keepdims=True)
    return (z - mean) / jnp.sqrt(jnp.var(z, axis=-1, keepdims=True) + eps)


def _check_positions(name: str, positions, batch: int, length: int) -> jax.Array:
    positions = jnp.asarray(positions)
    if positions.ndim != 2 or positions.shape[0] != batch or positions.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (batch={batch}, n) with n >= 1, got {positions.shape}."
        )
    if not jnp.issubdtype(positions.dtype, jnp.integer):
        raise ValueError(f"{name} must hold integer patch positions, got dtype {positions.dtype}.")
    if not isinstance(positions, jax.core.Tracer):
        lo, hi = int(positions.min()), int(positions.max())
        if lo < 0 or hi >= length:
            raise ValueError(f"{name} must lie in [0, {length - 1}], got values in [{lo}, {hi}].")
    return positions


def jepa_loss(
    params: dict,
    target_params: PyTree,
    patches: jax.Array,
    context_positions: jax.Array,
    target_positions: jax.Array,
    *,
    encoder_apply: EncoderApply,
    predictor_apply: PredictorApply,
    target_encoder_apply: EncoderApply | None = None,
    stop_gradient_target: bool = True,
    normalize_targets: bool = False,
) -> tuple[jax.Array, dict]:
    """The JEPA loss (1).

    Args:
      params: {"encoder": theta, "predictor": psi}, the trained parameters.
      target_params: phi, the target encoder's parameters (an EMA of theta, see
        :func:`target_ema`).
      patches: (B, L, D) patches (or tokens) of the whole input.
      context_positions: (B, n_c) integer positions of the visible context patches.
      target_positions: (B, n_t) integer positions whose target embeddings are predicted.
      encoder_apply: the context encoder's apply function (see the module docstring).
      predictor_apply: the predictor's apply function, conditioned on the target positions.
      target_encoder_apply: the target encoder's apply function; None uses `encoder_apply`.
      stop_gradient_target: True (default, I-JEPA) blocks every gradient into the targets;
        False is the lecture notes' joint training, which collapses.
      normalize_targets: standardise each target embedding over its E features before the
        loss (I-JEPA's layer norm without parameters).

    Returns:
      (loss, metrics) with 'loss', 'target_std' and 'prediction_std' (mean over features of
      the per-feature standard deviation across all targets; near 0 means collapse).

    Raises:
      ValueError: for patches that are not (B, L, D), positions of the wrong shape, dtype or
        range, or predictions whose shape differs from the targets'.

    References:
      Assran et al., "Self-supervised learning from images with a joint-embedding predictive
      architecture" (I-JEPA), CVPR 2023; Grill et al., "Bootstrap your own latent" (BYOL),
      NeurIPS 2020.

    Example:
      >>> enc = lambda w, x, pos: x * w
      >>> pred = lambda w, z, cpos, tpos: jnp.zeros(tpos.shape + z.shape[-1:]) + w
      >>> x = jnp.ones((1, 4, 2))
      >>> loss, m = jepa_loss({"encoder": 2.0, "predictor": 0.0}, 3.0, x,
      ...                     jnp.array([[0, 1]]), jnp.array([[3]]),
      ...                     encoder_apply=enc, predictor_apply=pred)
      >>> float(loss)  # || 0 - 3 * (1, 1) ||^2
      18.0
    """
    patches = jnp.asarray(patches)
    if patches.ndim != 3:
        raise ValueError(f"patches must have shape (batch, num_patches, dim), got {patches.shape}.")
    batch, length, _ = patches.shape
    context_positions = _check_positions("context_positions", context_positions, batch, length)
    target_positions = _check_positions("target_positions", target_positions, batch, length)
    target_encoder_apply = encoder_apply if target_encoder_apply is None else target_encoder_apply

    # Targets: the target encoder sees the whole input; its outputs at the target positions.
    all_positions = jnp.broadcast_to(jnp.arange(length), (batch, length))
    if stop_gradient_target:
        target_params = jax.lax.stop_gradient(target_params)
    z_all = target_encoder_apply(target_params, patches, all_positions)
    z_target = gather_positions(z_all, target_positions)
    if normalize_targets:
        z_target = _layer_norm(z_target)
    if stop_gradient_target:
        z_target = jax.lax.stop_gradient(z_target)

    # Prediction: encode the context alone, then predict at the target positions.
    z_context = encoder_apply(
        params["encoder"], gather_positions(patches, context_positions), context_positions
    )
    z_pred = predictor_apply(params["predictor"], z_context, context_positions, target_positions)
    if z_pred.shape != z_target.shape:
        raise ValueError(
            f"predictor_apply must return the targets' shape {z_target.shape}, got {z_pred.shape}."
        )
    loss = jnp.mean(jnp.sum((z_pred - z_target) ** 2, axis=-1))  # eq. (1)
    e = z_target.shape[-1]
    metrics = {
        "loss": loss,
        "target_std": jnp.mean(jnp.std(z_target.reshape(-1, e), axis=0)),
        "prediction_std": jnp.mean(jnp.std(z_pred.reshape(-1, e), axis=0)),
    }
    return loss, metrics


class TargetEmaState(NamedTuple):
    """State of the target encoder.

    Attributes:
      count: int32 scalar, updates done so far.
      params: phi, the target encoder's parameters.

    Example:
      >>> from gendiff.ssl import target_ema
      >>> theta = {"w": jnp.ones(2)}
      >>> state = target_ema(0.9).init(theta)  # phi starts as a copy of theta
      >>> int(state.count), state.params["w"].tolist(), state.params["w"] is theta["w"]
      (0, [1.0, 1.0], False)
    """

    count: jax.Array
    params: PyTree


class TargetEma(NamedTuple):
    """A pure ``(init, update)`` pair; see :func:`target_ema`.

    Example:
      >>> from gendiff.ssl import TargetEma, target_ema
      >>> ema = target_ema(0.5)
      >>> isinstance(ema, TargetEma)
      True
      >>> state = ema.init({"w": jnp.zeros(())})
      >>> update = jax.jit(ema.update)
      >>> for _ in range(3):
      ...     state = update({"w": jnp.ones(())}, state)
      >>> int(state.count), float(state.params["w"])  # 1 - 0.5^3
      (3, 0.875)
    """

    init: Callable[[PyTree], TargetEmaState]
    update: Callable[[PyTree, TargetEmaState], TargetEmaState]


def target_ema(momentum: float | Callable[[jax.Array], jax.Array] = 0.996) -> TargetEma:
    """The target encoder's update (2) as an ``(init, update)`` pair.

    Args:
      momentum: m in [0, 1], or a function of the update count n (int32 scalar) returning
        m_n, for example :func:`linear_momentum`.

    Returns:
      ``TargetEma(init, update)``: ``init(encoder_params)`` starts phi as a copy of theta;
      ``update(encoder_params, state)`` returns the state with phi <- m phi + (1 - m) theta.

    Raises:
      ValueError: for a constant momentum outside [0, 1].

    References:
      Grill et al. 2020 (BYOL), section 3.1; Assran et al. 2023 (I-JEPA), section 3.

    Example:
      >>> ema = target_ema(0.9)
      >>> state = ema.update({"w": jnp.ones(())}, ema.init({"w": jnp.zeros(())}))
      >>> round(float(state.params["w"]), 6)
      0.1
    """
    if not callable(momentum):
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"momentum must lie in [0, 1], got {momentum!r}.")
        constant = float(momentum)
        momentum = lambda count: jnp.asarray(constant)

    def init(encoder_params: PyTree) -> TargetEmaState:
        # A copy, so that phi and theta never share a buffer.
        return TargetEmaState(jnp.zeros((), jnp.int32), jax.tree.map(jnp.copy, encoder_params))

    def update(encoder_params: PyTree, state: TargetEmaState) -> TargetEmaState:
        m = momentum(state.count)
        encoder_params = jax.lax.stop_gradient(encoder_params)
        phi = jax.tree.map(
            lambda t, o: (m * t + (1.0 - m) * o).astype(t.dtype), state.params, encoder_params
        )
        return TargetEmaState(state.count + 1, phi)

    return TargetEma(init=init, update=update)


def linear_momentum(start: float, end: float, num_steps: int) -> Callable[[jax.Array], jax.Array]:
    """m_n rising linearly from `start` to `end` over `num_steps` updates, then held (I-JEPA).

    Example:
      >>> round(float(linear_momentum(0.996, 1.0, 100)(jnp.asarray(50))), 6)
      0.998
    """
    if not (0.0 <= start <= 1.0 and 0.0 <= end <= 1.0) or num_steps < 1:
        raise ValueError(
            f"start and end must lie in [0, 1] and num_steps >= 1, got {start}, {end}, {num_steps}."
        )

    def momentum(count):
        frac = jnp.minimum(jnp.asarray(count, jnp.float32) / num_steps, 1.0)
        return start + (end - start) * frac

    return momentum


def sample_jepa_positions(
    key: jax.Array,
    batch_size: int,
    grid_shape: tuple[int, int],
    *,
    target_ratio: float = 0.25,
    context_ratio: float = 0.5,
) -> tuple[jax.Array, jax.Array]:
    """Context and target positions per example: one target block, a random disjoint context.

    The targets are a block of exactly round(target_ratio * H W) patches
    (:func:`~gendiff.ssl.masking.block_patch_mask`); the context is a uniformly random subset
    of round(context_ratio * H W) of the other patches. Both are sorted.

    Args:
      key: PRNG key (one key per example is split from it).
      batch_size: B.
      grid_shape: (H, W) patch grid.
      target_ratio: fraction in (0, 1) of patches to predict.
      context_ratio: fraction in (0, 1) of patches visible to the context encoder, at most
        1 - target_ratio.

    Returns:
      context_positions (B, n_c) and target_positions (B, n_t), int32.

    Example:
      >>> c, t = sample_jepa_positions(jax.random.key(0), 2, (4, 4))
      >>> c.shape, t.shape
      ((2, 8), (2, 4))
    """
    height, width = grid_shape
    length = height * width
    n_t = num_masked(length, target_ratio)
    n_c = int(round(check_ratio("context_ratio", context_ratio) * length))
    if not 1 <= n_c <= length - n_t:
        raise ValueError(
            f"context_ratio {context_ratio} gives {n_c} context patches; it must give between 1 "
            f"and the {length - n_t} patches left after the targets."
        )

    def one(k):
        key_t, key_c = jax.random.split(k)
        target = block_patch_mask(key_t, (height, width), target_ratio)
        target_pos = jnp.nonzero(target, size=n_t)[0]
        noise = jnp.where(target, jnp.inf, jax.random.uniform(key_c, (length,)))
        context_pos = jnp.sort(jnp.argsort(noise)[:n_c])
        return context_pos.astype(jnp.int32), target_pos.astype(jnp.int32)

    return jax.vmap(one)(jax.random.split(key, batch_size))
