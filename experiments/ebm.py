"""Energy-based models p(x) ∝ exp(-E(x)) on 2-D toys and 8x8 digits, trained with Langevin
negative samples.

  python -m experiments.ebm
  python -m experiments.ebm --config.sampler=short_run
  python -m experiments.ebm --preset digits

For each toy of ``config.datasets`` a small :class:`gendiff.nets.EnergyMLP` is trained through
``gendiff.train.fit`` on the contrastive loss mean E(data) - mean E(negatives) + alpha (E^2
terms) (:mod:`gendiff.classic.ebm`). Negatives come from persistent Langevin chains carried in
the training state (:func:`gendiff.train.persistent_chain_players`; a fraction restarts from
uniform noise each step) or from short runs started at noise. The model is normalised on a
num_cells^2 grid over the bounds square, and scored by KL(test histogram || model) on that
grid, beside the same KL for the untrained network, the uniform density and (eight Gaussians)
the true density: the floor set by the histogram's own noise.

An image dataset (preset ``digits``) has no grid to normalise on: its model is scored by its
samples, ``eval.num_samples`` Langevin chains of ``eval.langevin_steps`` steps from uniform
noise on the bounds, clipped to them, with the figures of
:func:`experiments.common.sample_quality` (FD-digits with its floor and noise values, label
coverage) and the sampling time.

Workdir layout: {dataset}/ (checkpoints, metrics.jsonl, density.png or samples.png and
samples.npy) and metrics.json.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import common
from experiments.configs import ebm as configs
from gendiff import classic, data, nets
from gendiff import eval as evaluation
from gendiff.data import ArrayBatches
from gendiff.score import langevin_dynamics
from gendiff.train import make_optimizer, persistent_chain_players

SAMPLERS = ("persistent", "short_run")


def _train(config, workdir, energy_fn, params, x_train, key):
    batches = ArrayBatches({"x": x_train}, config.batch_size, config.seed)
    bounds = tuple(config.bounds)
    if config.sampler == "short_run":
        loss = classic.short_run_ebm_loss(
            energy_fn,
            step_size=config.step_size,
            num_steps=config.langevin_steps,
            alpha=config.alpha,
            bounds=bounds,
        )
        state, last = common.fit_network(config, workdir, params, loss, batches, key)
        return state.params, {**last, "num_steps": int(state.step)}
    players = persistent_chain_players(
        classic.langevin_transition(
            energy_fn,
            step_size=config.step_size,
            num_steps=config.langevin_steps,
            reinit_prob=config.reinit_prob,
            bounds=bounds,
        ),
        classic.ebm_loss(energy_fn, alpha=config.alpha),
        make_optimizer(config.optim),
    )
    chains = jax.random.uniform(
        jax.random.fold_in(key, 2**31),
        (config.num_chains, *x_train.shape[1:]),
        minval=bounds[0],
        maxval=bounds[1],
    )
    state, last = common.fit_players(
        config, workdir, {"chains": chains, "model": params}, players, batches, key
    )
    return state.params["model"], {**last, "num_steps": int(state.step)}


def _is_toy(name: str) -> bool:
    return name.startswith("toy2d/")


def _langevin_samples(config, energy_fn, shape):
    """``sample(params, key, num)``: Langevin chains from uniform noise on the bounds, clipped."""
    low, high = config.bounds

    def sample(params, key, num):
        noise_key, run_key = jax.random.split(key)
        x = jax.random.uniform(noise_key, (num, *shape), minval=low, maxval=high)
        x = langevin_dynamics(
            run_key,
            classic.ebm_score(energy_fn, params),
            x,
            step_size=config.step_size,
            num_steps=config.eval.langevin_steps,
        )
        return jnp.clip(x, low, high)

    return sample


def _image_scores(config, workdir, energy_fn, params, train_ds, test_ds, key, name) -> dict:
    """Samples from noise, scored as every image experiment scores its samples."""
    timing = {}
    sample = _langevin_samples(config, energy_fn, train_ds.example_shape)
    samples = common.draw_samples(sample, params, jax.random.fold_in(key, 0), config, timing)
    common.save_samples(
        os.path.join(workdir, "samples.png"),
        samples,
        test_ds,
        title=f"EBM ({config.sampler} Langevin), {name}: "
        f"{config.eval.langevin_steps} steps from noise",
    )
    quality = common.sample_quality(jax.random.fold_in(key, 1), samples, train_ds, test_ds, workdir)
    return {**quality, **timing}


def _plot(path, energy_fn, params, samples, x_test, config, title):
    from matplotlib.figure import Figure

    n, (low, high) = config.eval.num_cells, config.bounds
    density = np.exp(np.asarray(classic.grid_log_probs(energy_fn, params, config.bounds, n)))
    fig = Figure(figsize=(10, 5))
    ax = fig.add_subplot(1, 2, 1)
    ax.imshow(
        density.reshape(n, n).T, origin="lower", extent=(low, high, low, high), cmap="viridis"
    )
    ax.set_title("model density (normalised on the grid)")
    ax = fig.add_subplot(1, 2, 2)
    ax.scatter(x_test[:, 0], x_test[:, 1], s=2, c="0.75", label="test data", linewidths=0)
    ax.scatter(
        samples[:, 0], samples[:, 1], s=2, c="tab:blue", label="Langevin samples", linewidths=0
    )
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=4)
    fig.suptitle(title)
    evaluation.save_figure(path, fig)


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains one EBM per toy and writes metrics.json in ``workdir``.

    Returns:
        ``{dataset: {grid_kl, grid_kl_init, grid_kl_uniform, grid_kl_true?, fraction_inside,
        train_s}, "wall_s"}``.

    Example:
        >>> from experiments.configs import ebm as configs
        >>> metrics = train_and_evaluate(configs.get_config("cpu"), "/tmp/ebm")
    """
    start = time.time()
    if config.sampler not in SAMPLERS:
        raise ValueError(f"Unknown config.sampler {config.sampler!r}; expected one of {SAMPLERS}.")
    low, high = config.bounds
    if not low < high:
        raise ValueError(f"config.bounds must be (low, high) with low < high, got {config.bounds}.")
    names = [d if d in data.NAMES else f"toy2d/{d}" for d in config.datasets]
    for name in names:
        if name not in data.NAMES:
            raise ValueError(
                f"Unknown dataset {name!r}; expected one of {data.toy2d.NAMES} or an image "
                f"dataset of gendiff.data.NAMES."
            )
    net = nets.EnergyMLP(hidden=config.model.hidden, depth=config.model.depth)
    energy_fn = net.apply
    key = jax.random.key(config.seed)
    bounds, cells = tuple(config.bounds), config.eval.num_cells
    flat = lambda p, x: jnp.zeros(x.shape[0])
    result = {}
    for i, name in enumerate(names):
        t0 = time.time()
        train_ds, test_ds = (
            data.load(name, split, config.get("data_dir", "")) for split in ("train", "test")
        )
        if not _is_toy(name) and len(train_ds.example_shape) != 3:
            raise ValueError(f"Dataset {name!r} must be a 2-D toy or images, got "
                             f"{train_ds.example_shape}.")  # fmt: skip
        x_train, x_test = np.asarray(train_ds.images), np.asarray(test_ds.images)
        params = net.init(jax.random.fold_in(key, i), x_train[:1])
        dataset_dir = os.path.join(workdir, config.datasets[i])
        if not _is_toy(name):
            params, last = _train(
                config, dataset_dir, energy_fn, params, x_train, jax.random.fold_in(key, 100 + i)
            )
            scores = {
                "num_steps": last["num_steps"],  # fewer than config.num_steps past time_limit_s
                "train_s": time.time() - t0,
                "last_loss": last.get("loss", last.get("model/loss")),
                **_image_scores(
                    config,
                    dataset_dir,
                    energy_fn,
                    params,
                    train_ds,
                    test_ds,
                    jax.random.fold_in(key, 200 + i),
                    name,
                ),  # fmt: skip
            }
            result[config.datasets[i]] = scores
            continue
        kl_init, _ = classic.grid_kl(x_test, energy_fn, params, bounds, cells)
        params, last = _train(
            config, dataset_dir, energy_fn, params, x_train, jax.random.fold_in(key, 100 + i)
        )
        train_s = time.time() - t0
        kl, inside = classic.grid_kl(x_test, energy_fn, params, bounds, cells)
        scores = {
            "grid_kl": float(kl),
            "grid_kl_init": float(kl_init),
            "grid_kl_uniform": float(classic.grid_kl(x_test, flat, None, bounds, cells)[0]),
            "fraction_inside": float(inside),
            "train_s": train_s,
            "last_loss": last.get("loss", last.get("model/loss")),
        }
        if name == "toy2d/eight_gaussians":
            true_energy = lambda p, x: -data.toy2d.eight_gaussians_log_prob(x)
            scores["grid_kl_true"] = float(
                classic.grid_kl(x_test, true_energy, None, bounds, cells)[0]
            )
        samples = jax.jit(_langevin_samples(config, energy_fn, (2,)), static_argnums=2)(
            params, jax.random.fold_in(key, 200 + i), config.eval.num_samples
        )
        _plot(
            os.path.join(dataset_dir, "density.png"),
            energy_fn,
            params,
            np.asarray(samples),
            x_test,
            config,
            f"EBM ({config.sampler} Langevin), {name}: grid KL {float(kl):.3f} nats",
        )
        result[config.datasets[i]] = scores
    result["wall_s"] = time.time() - start
    common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/ebm")
