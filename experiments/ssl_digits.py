"""Self-supervised encoders on digits and MNIST, compared by one linear probe.

  python -m experiments.ssl_digits --config.method=simclr
  python -m experiments.ssl_digits --preset mnist --config.data_dir=DIR --config.method=jepa

One run trains (or not) one encoder, :class:`gendiff.nets.ConvTokenEncoder` (default) or
:class:`gendiff.nets.ViTEncoder` (``--config.encoder.kind=vit``), both giving one token per
patch, and scores its frozen features, the mean of its tokens, with the library's probe protocol
(:func:`gendiff.eval.probe_encoder`: L2 logistic regression, lambda chosen on a validation
part of the training split, test accuracy). Methods (``config.method``):

- ``pixels``: no encoder, the probe on raw pixels (baseline);
- ``random``: the randomly initialised encoder (baseline; every trained method starts from
  these very parameters);
- ``simclr``: NT-Xent (:func:`gendiff.ssl.nt_xent_loss`) between two augmented views, through
  a projection MLP (Chen et al. 2020);
- ``mae``: the encoder sees the visible patches only, :class:`gendiff.nets.TokenPredictor`
  reconstructs the masked ones, loss on the masked patches (He et al. 2022);
- ``jepa``: the context encoder sees a random context, the predictor predicts the target
  encoder's embeddings of a target block at the target positions; the target encoder is an
  EMA of the context encoder with no gradient (I-JEPA, :func:`gendiff.ssl.jepa_loss`); with
  ``config.jepa.variance_weight`` / ``covariance_weight`` > 0, VICReg's variance and
  covariance terms on the pooled features of the whole image are added
  (:func:`gendiff.ssl.variance_covariance_loss`, C-JEPA), which keeps the features from
  collapsing into a few dimensions; both 0 is plain I-JEPA;
- ``jepa_joint``: the lecture notes' JEPA, the three networks trained jointly on the same loss
  with no stop-gradient and no EMA: it collapses (F0:3525; CATALOG.md section 11);
- ``supervised``: the encoder and a linear head trained on the labels (upper bound).

The collapse diagnostics (:func:`gendiff.ssl.collapse_metrics`) are taken on the test
features, and a PCA picture of them is drawn.

Workdir: checkpoints/, metrics.jsonl (if trained), features_pca.png, metrics.json.
"""

from __future__ import annotations

import os
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments import common
from experiments.configs import ssl_digits as configs
from gendiff import eval as evaluation
from gendiff import nets, ssl
from gendiff.data import ArrayBatches
from gendiff.train import (
    Player,
    is_main_process,
    make_optimizer,
)

METHODS = ("pixels", "random", "simclr", "mae", "jepa", "jepa_joint", "supervised")


ENCODERS = ("vit", "conv")


def build_encoder(config, image_shape) -> nets.ViTEncoder | nets.ConvTokenEncoder:
    """``config.encoder.kind``: 'vit' (:class:`gendiff.nets.ViTEncoder`, ``depth`` blocks) or
    'conv' (:class:`gendiff.nets.ConvTokenEncoder`, ``depth`` convolutions on the grid)."""
    e = config.encoder
    if e.kind == "vit":
        return nets.ViTEncoder(
            image_shape=tuple(image_shape),
            patch_size=e.patch_size,
            width=e.width,
            depth=e.depth,
            num_heads=e.num_heads,
        )
    if e.kind == "conv":
        return nets.ConvTokenEncoder(
            image_shape=tuple(image_shape),
            patch_size=e.patch_size,
            width=e.width,
            channels=e.channels,
            depth=e.depth,
        )
    raise ValueError(f"config.encoder.kind must be one of {ENCODERS}, got {e.kind!r}.")


def _predictor(config, num_patches: int, out_dim: int) -> nets.TokenPredictor:
    p = config.predictor
    return nets.TokenPredictor(
        num_patches=num_patches,
        out_dim=out_dim,
        width=p.width,
        depth=p.depth,
        num_heads=p.num_heads,
    )


def augment(key, images, a) -> jax.Array:
    """SimCLR's view of images in [-1, 1]: the background (-1) is moved to 0 first, so that
    the zeros the rotation and cutout fill in are background, not mid-grey."""
    out = ssl.augment_batch(
        key,
        images + 1.0,
        crop_min_scale=a.crop_min_scale,
        max_shift=a.max_shift,
        max_degrees=a.max_degrees,
        cutout_size=a.cutout_size,
        noise_std=a.noise_std,
    )
    return out - 1.0


def _visible_and_masked(mask: jax.Array, num_masked: int) -> tuple[jax.Array, jax.Array]:
    """Sorted positions of the visible (False) and masked (True) patches of (B, L) masks."""
    order = jnp.argsort(mask, axis=1, stable=True)  # visible first, each group in order
    length = mask.shape[1]
    return order[:, : length - num_masked].astype(jnp.int32), order[
        :, length - num_masked :
    ].astype(jnp.int32)


def method_setup(config, encoder, encoder_params, num_classes: int, key):
    """(params, loss_fn(params, batch, key), labels of the trained leaves, post_update)."""
    method, width = config.method, config.encoder.width
    length, grid = encoder.num_patches, encoder.grid_shape
    x0 = jnp.zeros((2, *encoder.image_shape))
    feats = lambda p, images: nets.mean_pool(encoder.apply(p, images))
    post_update = None

    if method == "simclr":
        s = config.simclr
        ssl.critic_scores(jnp.ones((1, 2)), jnp.ones((1, 2)), temperature=s.temperature)  # tau > 0
        head = nets.MLP(hidden=s.projection_hidden, depth=1, features=s.projection_dim)
        params = {"encoder": encoder_params, "head": head.init(key, jnp.zeros((2, width)))}

        def loss_fn(params, batch, key):
            k1, k2 = jax.random.split(key)
            images = batch["image"]
            z = [
                head.apply(
                    params["head"], feats(params["encoder"], augment(k, images, config.augment))
                )
                for k in (k1, k2)
            ]
            return ssl.nt_xent_loss(z[0], z[1], temperature=s.temperature)

    elif method == "mae":
        m = config.mae
        decoder = _predictor(config, length, encoder.patch_dim)
        n_mask = ssl.num_masked(length, m.mask_ratio)
        z0 = jnp.zeros((2, length - n_mask, width))
        pos0 = jnp.zeros((2, length - n_mask), jnp.int32)
        params = {
            "encoder": encoder_params,
            "decoder": decoder.init(key, z0, pos0, jnp.zeros((2, n_mask), jnp.int32)),
        }

        def loss_fn(params, batch, key):
            patches = encoder.patchify(batch["image"])
            b = patches.shape[0]
            mask = ssl.sample_masks(key, b, m.mask_kind, grid, m.mask_ratio)
            vis, hid = _visible_and_masked(mask, n_mask)
            tokens = encoder.apply(params["encoder"], ssl.gather_positions(patches, vis), vis)
            pred = decoder.apply(params["decoder"], tokens, vis, hid)  # (B, n_mask, D)
            full = jnp.zeros_like(patches).at[jnp.arange(b)[:, None], hid].set(pred)
            return ssl.masked_reconstruction_loss(
                full, patches, mask, normalize_target=m.normalize_target
            )

    elif method in ("jepa", "jepa_joint"):
        j = config.jepa
        joint = method == "jepa_joint"
        # The notes' variant is their loss alone; the regulariser is for 'jepa' (0 = I-JEPA).
        regularized = not joint and (j.variance_weight > 0 or j.covariance_weight > 0)
        ssl.variance_covariance_loss(  # checks the two weights now, not inside the first step
            jnp.zeros((2, 1)),
            variance_weight=j.variance_weight,
            covariance_weight=j.covariance_weight,
        )
        predictor = _predictor(config, length, width)
        n_t = ssl.num_masked(length, j.target_ratio)
        n_c = int(round(j.context_ratio * length))
        ssl.sample_jepa_positions(  # checks the two ratios now, not inside the first step
            key, 1, grid, target_ratio=j.target_ratio, context_ratio=j.context_ratio
        )
        params = {
            "encoder": encoder_params,
            "predictor": predictor.init(
                key,
                jnp.zeros((2, n_c, width)),
                jnp.zeros((2, n_c), jnp.int32),
                jnp.zeros((2, n_t), jnp.int32),
            ),
            "target": jax.tree.map(jnp.copy, encoder_params),
        }
        encoder_apply = lambda p, patches, pos: encoder.apply(p, patches, pos)
        predictor_apply = lambda p, z, cpos, tpos: predictor.apply(p, z, cpos, tpos)

        def loss_fn(params, batch, key):
            patches = encoder.patchify(batch["image"])
            ctx, tgt = ssl.sample_jepa_positions(
                key,
                patches.shape[0],
                grid,
                target_ratio=j.target_ratio,
                context_ratio=j.context_ratio,
            )
            loss, metrics = ssl.jepa_loss(
                {"encoder": params["encoder"], "predictor": params["predictor"]},
                params["target"],
                patches,
                ctx,
                tgt,
                encoder_apply=encoder_apply,
                predictor_apply=predictor_apply,
                stop_gradient_target=not joint,
                normalize_targets=j.normalize_targets,
            )
            z = feats(params["encoder"], batch["image"])
            metrics["feature_std"] = jnp.mean(jnp.std(z, axis=0))
            if regularized:  # C-JEPA: VICReg's variance and covariance terms on the features
                penalty, terms = ssl.variance_covariance_loss(
                    z,
                    variance_weight=j.variance_weight,
                    covariance_weight=j.covariance_weight,
                    scale_free=j.scale_free,
                )
                loss = loss + penalty
                metrics.update(terms)
            return loss, metrics

        if not joint:  # I-JEPA: phi <- m phi + (1 - m) theta after every update, no gradient
            params["ema_count"] = jnp.zeros(())
            ema = ssl.target_ema(
                ssl.linear_momentum(j.momentum_start, j.momentum_end, config.num_steps)
            )

            def post_update(p):
                state = ema.update(p["encoder"], ssl.TargetEmaState(p["ema_count"], p["target"]))
                return {**p, "target": state.params, "ema_count": state.count}

    elif method == "supervised":
        head = nn.Dense(num_classes)
        params = {"encoder": encoder_params, "head": head.init(key, jnp.zeros((2, width)))}

        def loss_fn(params, batch, key):
            images = augment(key, batch["image"], config.augment)
            logits = head.apply(params["head"], feats(params["encoder"], images))
            loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]))
            accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
            return loss, {"accuracy": accuracy}

    else:
        raise ValueError(f"method {method!r} has no training; expected one of {METHODS}.")

    del x0
    trained = lambda name: name not in ("target", "ema_count") or method == "jepa_joint"
    labels = {
        name: jax.tree.map(lambda _, t=trained(name): "train" if t else "frozen", p)
        for name, p in params.items()
    }
    return params, loss_fn, labels, post_update


def train_encoder(config, workdir, encoder, encoder_params, train_ds, key):
    """Trains the method's networks through ``fit`` (one player); returns the encoder's
    parameters and the last logged metrics."""
    params, loss_fn, labels, post_update = method_setup(
        config, encoder, encoder_params, train_ds.num_classes, key
    )
    tx = optax.multi_transform(
        {"train": make_optimizer(config.optim), "frozen": optax.set_to_zero()}, labels
    )
    player = Player("model", lambda p, b, k: loss_fn(p["model"], b, k), tx, post_update=post_update)
    batches = ArrayBatches.from_dataset(train_ds, config.batch_size, config.seed, labels=True)
    state, last = common.fit_players(
        config, workdir, {"model": params}, [player], batches, jax.random.fold_in(key, 1)
    )
    return state.params["model"]["encoder"], last


def save_pca_plot(path: str, features: np.ndarray, labels: np.ndarray, title: str) -> None:
    """Test features projected on their first two principal components, coloured by class."""
    from matplotlib.figure import Figure

    z = features - features.mean(axis=0)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    xy = z @ vt[:2].T
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot()
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=4, vmin=-0.5, vmax=9.5)
    fig.colorbar(sc, ax=ax, ticks=range(10), fraction=0.046)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    evaluation.save_figure(path, fig)


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains the encoder of ``config.method`` (if any) and probes its frozen features.

    Returns:
      probe_test_accuracy, probe_l2, probe_train_accuracy, the collapse diagnostics of the
      test features (effective_rank, std_mean, std_min, normalized_std_mean) and of the
      tokens of the first 500 test images (token_effective_rank, ...), feature_dim, the last
      training metrics (train_*), num_params and wall_s.

    Example:
      >>> from experiments.configs import ssl_digits as configs
      >>> metrics = train_and_evaluate(configs.get_config("cpu"), "/tmp/ssl_digits")
    """
    start = time.time()
    if config.method not in METHODS:
        raise ValueError(f"config.method must be one of {METHODS}, got {config.method!r}.")
    train_ds, test_ds = common.load_splits(config)
    if train_ds.labels is None or len(train_ds.example_shape) != 3:
        raise ValueError(f"Dataset {config.dataset!r} must hold labelled images.")
    key = jax.random.key(config.seed)
    encoder = build_encoder(config, train_ds.example_shape)
    encoder_params = encoder.init(
        jax.random.fold_in(key, 0), jnp.zeros((1, *train_ds.example_shape))
    )
    result = {"method": config.method, "dataset": config.dataset}

    if config.method == "pixels":
        encode = lambda images: images.reshape(images.shape[0], -1)
    else:
        if config.method != "random":
            encoder_params, last = train_encoder(
                config, workdir, encoder, encoder_params, train_ds, jax.random.fold_in(key, 1)
            )
            result.update(
                {f"train_{k}": v for k, v in last.items() if k not in ("step", "wall_time")}
            )
        result["num_params"] = common.num_params(encoder_params)
        encode = lambda images: nets.mean_pool(encoder.apply(encoder_params, images))

    probe, _, test_features = evaluation.probe_encoder(
        encode,
        train_ds.images,
        train_ds.labels,
        test_ds.images,
        test_ds.labels,
        l2_grid=tuple(config.probe.l2_grid),
        val_fraction=config.probe.val_fraction,
        seed=config.seed,
        max_iter=config.probe.max_iter,
    )
    result.update(
        probe_test_accuracy=probe.test_accuracy,
        probe_l2=probe.l2,
        probe_train_accuracy=probe.train_accuracy,
        probe_grad_max=probe.grad_max,
        feature_dim=int(test_features.shape[1]),
    )
    result.update({k: float(v) for k, v in ssl.collapse_metrics(test_features).items()})
    if config.method != "pixels":  # the same diagnostics on the tokens the losses act on
        tokens = encoder.apply(encoder_params, jnp.asarray(test_ds.images[:500]))
        tokens = tokens.reshape(-1, tokens.shape[-1])
        result.update({f"token_{k}": float(v) for k, v in ssl.collapse_metrics(tokens).items()})
    result["wall_s"] = time.time() - start
    if is_main_process():
        save_pca_plot(
            os.path.join(workdir, "features_pca.png"),
            test_features,
            test_ds.labels,
            f"{config.method} on {config.dataset}: test features,\n"
            f"probe {100 * probe.test_accuracy:.1f}%, effective rank {result['effective_rank']:.1f}",
        )
        common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/ssl_digits")
