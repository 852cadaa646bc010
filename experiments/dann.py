"""Domain-adversarial training (DANN, Ganin et al. 2016) against source-only and oracle training.

  python -m experiments.dann --preset moons     # two moons, target rotated by 30 degrees
  python -m experiments.dann --preset digits    # digits -> digits on colour textures

One network (:class:`gendiff.nets.DomainAdversarialNet`: feature extractor, label classifier,
and a domain classifier behind the gradient reversal layer) is trained three ways, each from
the same initialisation and batches, through :func:`experiments.common.fit_network`:

* source_only: cross-entropy on the labelled source domain;
* dann: the same plus the domain classifier's logistic loss on source and (unlabelled)
  target rows; the reversal layer gives the features -lambda times its gradient, with
  lambda ramped by 2 / (1 + exp(-10 p)) - 1 over training progress p (or constant);
* oracle: cross-entropy on the labelled target domain (the upper reference).

Each is scored by its accuracy on the target test set (and the source test set), mean and
std over ``num_seeds`` training seeds (initialisation and batch order; the data are fixed by
``data_seed``). Pictures: for the moons, the decision regions of source-only and DANN with
the source and target points (boundary.png); for the digits, a PCA of the features of the
source and target test sets under source-only and DANN (features.png), and the two domains
(domains.png).

Workdir layout: {arm}_{seed}/ (checkpoints/, metrics.jsonl), PNGs, metrics.json.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments import common
from experiments.configs import dann as configs
from gendiff import nets
from gendiff.classic import pca
from gendiff.data import ArrayBatches, ArrayDataset, GeneratedBatches, domains, load
from gendiff.eval import save_image_grid
from gendiff.eval.images import save_figure
from gendiff.train import is_main_process


def lambda_schedule(progress, lambda_max: float = 1.0, gamma: float = 10.0):
    """Ganin et al.'s ramp lambda_p = lambda_max (2 / (1 + exp(-gamma p)) - 1), p in [0, 1].

    Example:
      >>> float(lambda_schedule(0.0)), round(float(lambda_schedule(1.0)), 4)
      (0.0, 0.9999)
    """
    return lambda_max * (2.0 / (1.0 + jnp.exp(-gamma * jnp.asarray(progress))) - 1.0)


def _check(config: ml_collections.ConfigDict) -> None:
    if config.domain == "digits" and config.model.extractor not in ("conv", "image_classifier"):
        raise ValueError(
            f"unknown config.model.extractor {config.model.extractor!r}; expected 'conv' or "
            "'image_classifier'."
        )
    if config.domain == "digits" and config.dataset not in configs.IMAGE_DATASETS:
        raise ValueError(
            f"unknown config.dataset {config.dataset!r}; expected one of {configs.IMAGE_DATASETS}."
        )
    if config.domain not in configs.DOMAINS:
        raise ValueError(
            f"unknown config.domain {config.domain!r}; expected one of {configs.DOMAINS}."
        )
    unknown = [a for a in config.arms if a not in configs.ARMS]
    if unknown or not config.arms:
        raise ValueError(f"config.arms must name some of {configs.ARMS}, got {tuple(config.arms)}.")
    d = config.dann
    if d.schedule not in configs.SCHEDULES:
        raise ValueError(
            f"unknown config.dann.schedule {d.schedule!r}; expected one of {configs.SCHEDULES}."
        )
    for name in ("lambda_max", "domain_weight", "gamma"):
        if not float(d[name]) >= 0:
            raise ValueError(f"config.dann.{name} must be >= 0, got {d[name]}.")
    if int(config.num_seeds) < 1:
        raise ValueError(f"config.num_seeds must be a positive integer, got {config.num_seeds}.")


def _load_domains(config) -> dict[str, ArrayDataset]:
    """{source,target}_{train,test} datasets of the configured domain pair."""
    s = int(config.data_seed)
    if config.domain == "moons":
        make = lambda n, seed, deg: domains.rotated_moons(n, seed, deg)
        return {
            "source_train": make(config.num_train, 4 * s, 0.0),
            "source_test": make(config.num_test, 4 * s + 1, 0.0),
            "target_train": make(config.num_train, 4 * s + 2, config.degrees),
            "target_test": make(config.num_test, 4 * s + 3, config.degrees),
        }
    out = {}
    for split in ("train", "test"):
        grey = load(config.dataset, split, config.data_dir or None)
        rgb = domains.grey_to_rgb(grey.images)
        out[f"source_{split}"] = ArrayDataset(
            rgb, grey.labels, None, grey.num_classes, name=f"{grey.name}_rgb"
        )
        out[f"target_{split}"] = domains.textured_digits(
            split, s, config.texture_max_level, digits=grey
        )
    return out


def _network(config, num_classes: int) -> nets.DomainAdversarialNet:
    m = config.model
    if config.domain == "moons":
        extractor = nets.FeatureMLP(widths=tuple(m.widths))
    elif m.extractor == "conv":
        extractor = nets.ConvFeatures(channels=tuple(m.channels))
    else:
        extractor = nets.ImageClassifier(
            num_classes=num_classes,
            channels=tuple(m.channels),
            feature_dim=m.feature_dim,
            dropout_rate=m.dropout_rate,
        )
    return nets.DomainAdversarialNet(
        extractor, num_classes, tuple(m.domain_widths), tuple(m.label_widths)
    )


def _batches(config, data: dict, seed: int) -> GeneratedBatches:
    """Each step: batch_size source rows, batch_size target rows, and the progress p."""
    b = int(config.batch_size)
    src = ArrayBatches(
        {"x": data["source_train"].images, "y": data["source_train"].labels}, b, seed
    )
    tgt = ArrayBatches(
        {"x": data["target_train"].images, "y": data["target_train"].labels}, b, seed + 7919
    )
    rows = slice(0, b)

    def fn(step):
        s, t = src.local_batch(step, rows), tgt.local_batch(step, rows)
        progress = np.full((b,), step / config.num_steps, np.float32)
        return {
            "source_x": s["x"],
            "source_y": s["y"],
            "target_x": t["x"],
            "target_y": t["y"],
            "progress": progress,
        }

    return GeneratedBatches(fn, b)


def _loss(config, net, arm: str):
    d = config.dann

    def loss_fn(params, batch, key):
        rngs = {"dropout": key}
        if arm in ("source_only", "oracle"):
            side = "source" if arm == "source_only" else "target"
            out = net.apply(params, batch[f"{side}_x"], 0.0, train=True, rngs=rngs)
            ce = optax.softmax_cross_entropy_with_integer_labels(
                out["class_logits"], batch[f"{side}_y"]
            ).mean()
            return ce, {"class_loss": ce}
        n = batch["source_x"].shape[0]
        p = batch["progress"][0]
        lam = (
            lambda_schedule(p, d.lambda_max, d.gamma)
            if d.schedule == "ganin"
            else jnp.asarray(d.lambda_max)
        )
        x = jnp.concatenate([batch["source_x"], batch["target_x"]])
        out = net.apply(params, x, lam, train=True, rngs=rngs)
        ce = optax.softmax_cross_entropy_with_integer_labels(
            out["class_logits"][:n], batch["source_y"]
        ).mean()
        is_target = jnp.concatenate([jnp.zeros(n), jnp.ones(x.shape[0] - n)])
        domain = optax.sigmoid_binary_cross_entropy(out["domain_logits"], is_target).mean()
        domain_acc = jnp.mean((out["domain_logits"] > 0) == (is_target > 0))
        loss = ce + d.domain_weight * domain
        return loss, {
            "class_loss": ce,
            "domain_loss": domain,
            "domain_accuracy": domain_acc,
            "lambda": lam,
        }

    return loss_fn


def _train(config, workdir: str, net, data: dict, arm: str, seed: int):
    key = jax.random.key(seed)
    x0 = jnp.asarray(data["source_train"].images[:2])
    params = net.init(jax.random.fold_in(key, 0), x0)  # the same start for every arm
    state, _ = common.fit_network(
        config,
        workdir,
        params,
        _loss(config, net, arm),
        _batches(config, data, seed),
        jax.random.fold_in(key, 1),
    )
    return state.ema_params


def _accuracy(net, params, ds: ArrayDataset) -> float:
    out = jax.jit(net.apply)(params, jnp.asarray(ds.images))
    return float(np.mean(np.argmax(np.asarray(out["class_logits"]), -1) == ds.labels))


def _features(net, params, ds: ArrayDataset) -> np.ndarray:
    return np.asarray(jax.jit(net.apply)(params, jnp.asarray(ds.images))["features"])


# ----------------------------------------------------------------------------- figures


def _boundary_figure(path: str, net, params_by_arm: dict, data: dict, title: str) -> None:
    from matplotlib.figure import Figure

    src, tgt = data["source_train"], data["target_test"]
    both = np.concatenate([src.images, tgt.images])
    lo, hi = both.min(0) - 0.4, both.max(0) + 0.4
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
    fig = Figure(figsize=(4.2 * len(params_by_arm), 4.2), layout="constrained")
    for i, (arm, (params, acc)) in enumerate(params_by_arm.items()):
        ax = fig.add_subplot(1, len(params_by_arm), i + 1)
        logits = np.asarray(jax.jit(net.apply)(params, jnp.asarray(grid))["class_logits"])
        prob = jax.nn.softmax(logits, -1)[:, 1].reshape(gx.shape)
        ax.contourf(gx, gy, prob, levels=[0, 0.5, 1], colors=["#cfe0f5", "#f8d3cf"], alpha=0.9)
        ax.contour(gx, gy, prob, levels=[0.5], colors="k", linewidths=1)
        colours = np.array(["tab:blue", "tab:red"])
        ax.scatter(
            *src.images[:300].T, c=colours[src.labels[:300]], s=8, marker="o", label="source"
        )
        ax.scatter(
            *tgt.images[:300].T,
            c=colours[tgt.labels[:300]],
            s=14,
            marker="x",
            lw=0.8,
            label="target",
        )
        ax.set_title(f"{arm}: target accuracy {acc:.3f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if i == 0:
            ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(title, fontsize=9)
    save_figure(path, fig)


def _feature_figure(path: str, net, params_by_arm: dict, data: dict, title: str) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(params_by_arm), 4.2), layout="constrained")
    for i, (arm, (params, acc)) in enumerate(params_by_arm.items()):
        fs = _features(net, params, data["source_test"])
        ft = _features(net, params, data["target_test"])
        res = pca(jnp.asarray(np.concatenate([fs, ft])), 2)
        z = np.asarray(
            (np.concatenate([fs, ft]) - np.asarray(res.mean)) @ np.asarray(res.components).T
        )
        ax = fig.add_subplot(1, len(params_by_arm), i + 1)
        ax.scatter(*z[: len(fs)].T, s=6, c="tab:blue", alpha=0.6, label="source (grey digits)")
        ax.scatter(*z[len(fs) :].T, s=6, c="tab:orange", alpha=0.6, label="target (textured)")
        ax.set_title(f"{arm} features, PCA: target accuracy {acc:.3f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if i == 0:
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    save_figure(path, fig)


# ----------------------------------------------------------------------------- driver


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains every arm for every seed, writes the figure and metrics.json.

    Args:
        config: from ``experiments.configs.dann``.
        workdir: the run directory.

    Returns:
        The metrics: for each arm, ``{arm}_target_accuracy`` and ``{arm}_source_accuracy``
        (mean over seeds), their ``_std`` and per-seed ``_seeds`` lists; with both dann and
        source_only, ``dann_gain`` / ``dann_gain_std`` (the paired difference of target
        accuracies); and wall_s.

    Example:
        >>> from experiments.configs import dann as configs
        >>> metrics = train_and_evaluate(configs.get_config("moons"), "/tmp/dann_moons")
    """
    start = time.time()
    _check(config)
    data = _load_domains(config)
    net = _network(config, data["source_train"].num_classes)
    result: dict = {}
    first: dict = {}
    for arm in config.arms:
        target, source = [], []
        for i in range(int(config.num_seeds)):
            seed = int(config.seed) + i
            params = _train(config, os.path.join(workdir, f"{arm}_{seed}"), net, data, arm, seed)
            target.append(_accuracy(net, params, data["target_test"]))
            source.append(_accuracy(net, params, data["source_test"]))
            if i == 0:
                first[arm] = (params, target[-1])
        for name, values in (("target_accuracy", target), ("source_accuracy", source)):
            result[f"{arm}_{name}"] = float(np.mean(values))
            result[f"{arm}_{name}_std"] = float(np.std(values))
            result[f"{arm}_{name}_seeds"] = [float(v) for v in values]
    if "dann" in config.arms and "source_only" in config.arms:
        gain = np.subtract(
            result["dann_target_accuracy_seeds"], result["source_only_target_accuracy_seeds"]
        )
        result["dann_gain"] = float(gain.mean())
        result["dann_gain_std"] = float(gain.std())
    shown = {arm: first[arm] for arm in ("source_only", "dann") if arm in first}
    if config.domain == "moons":
        title = f"two moons, target rotated by {config.degrees:g} degrees (seed {config.seed})"
        _boundary_figure(os.path.join(workdir, "boundary.png"), net, shown, data, title)
    else:
        name = "MNIST" if config.dataset.startswith("mnist") else "digits"
        title = f"{name} -> textured {name}, test features (seed {config.seed})"
        _feature_figure(os.path.join(workdir, "features.png"), net, shown, data, title)
        save_image_grid(
            os.path.join(workdir, "domains.png"),
            np.concatenate([data["source_test"].images[:24], data["target_test"].images[:24]]),
            nrow=8,
            title="source (top) / target (bottom)",
        )
    result["wall_s"] = time.time() - start
    if is_main_process():
        common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/dann")
