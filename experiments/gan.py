"""GANs on PacGAN's mode-collapse protocol, and DCGANs on the 8x8 digits.

  python -m experiments.gan --preset ring         # 8 Gaussians on the unit circle
  python -m experiments.gan --preset grid         # 25 Gaussians on {-4, -2, 0, 2, 4}^2
  python -m experiments.gan --preset digits       # DCGAN: FD-digits, samples.png
  python -m experiments.gan --preset cgan_digits  # conditional DCGAN: label accuracy, FD per class

Ring and grid (Lin et al. 2018, Table 1): one run is one sweep entry (a GAN loss with its
regularisers, :data:`experiments.configs.gan.VARIANTS`) x one packing degree m x one seed;
each trains an MLP generator against an MLP critic (a :class:`gendiff.nets.PacCritic` when
m > 1) through ``gendiff.train.fit`` on fresh mixture samples every step, then draws 2,500
samples and scores them with :func:`gendiff.metrics.mode_coverage`: modes captured, % of
high-quality samples (within 3 stds of their mode), reverse KL between the mode histograms.
Each run lives in ``workdir/<variant>_pac<m>/seed<s>`` (its checkpoints, metrics.json); each
configuration gets samples.png (its first seed's samples over the modes). The table of mean
and std over seeds goes to results.md and results.json (rows of earlier invocations in the same
workdir are kept, so a sweep can be run in parts), and metrics.json holds this invocation's
rows flattened. Running again resumes unfinished runs and re-evaluates finished ones.

Digits: a DCGAN (conv generator and critic) on the 8x8 digits (or, with
``--config.dataset=mnist_idx_t10k --config.data_dir=DIR``, MNIST's t10k split at 28x28),
scored by FD-digits with its floor and noise values (``common.finish_run``); ``conditional`` adds label-conditioning
(a projection critic) and reports the accuracy of the independent digits classifier on the
samples' intended labels and the FD-digits of every class against its test digits.
"""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments import common
from experiments.configs import gan as configs
from gendiff import data, metrics, nets
from gendiff import eval as evaluation
from gendiff.gan import GAN_LOSSES
from gendiff.train import (
    TrainState,
    create_players_state,
    fit,
    gan_players,
    is_main_process,
    make_optimizer,
    make_players_step,
)

RUN_FIGURES = ("modes_captured", "high_quality", "reverse_kl")


# ----------------------------------------------------------------------------- configuration


def run_settings(
    config: ml_collections.ConfigDict, variant: str | None, packing: int | None = None
) -> dict:
    """The ``config.gan`` fields of one run: ``variant``'s settings over ``config.gan``.

    ``variant`` is a name of :data:`experiments.configs.gan.VARIANTS`, a bare loss name of
    ``gendiff.gan.GAN_LOSSES`` (trained with ``config.gan`` as it is), or None for
    ``config.gan.loss``; ``packing`` replaces ``config.gan.packing`` unless None.
    """
    settings = config.gan.to_dict()
    if packing is not None:
        settings["packing"] = packing
    settings["loss_params"] = {k: v for k, v in settings["loss_params"].items() if v != ""}
    if variant is None:
        pass
    elif variant in configs.VARIANTS:
        settings.update(configs.VARIANTS[variant])
    elif variant in GAN_LOSSES:
        settings["loss"] = variant
    else:
        raise ValueError(
            f"unknown GAN variant {variant!r}; expected one of {sorted(configs.VARIANTS)} "
            f"or a loss name of gendiff.gan.GAN_LOSSES {sorted(GAN_LOSSES)}."
        )
    if settings["loss"] not in GAN_LOSSES:
        raise ValueError(
            f"unknown GAN loss {settings['loss']!r}; expected one of {sorted(GAN_LOSSES)}."
        )
    steps = settings["num_steps"]
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise ValueError(
            f"config.gan.num_steps must be an integer >= 0 (0 = config.num_steps), got {steps!r}."
        )
    settings["num_steps"] = int(steps) or int(config.num_steps)
    packing = settings["packing"]
    if isinstance(packing, bool) or int(packing) != packing or packing < 1:
        raise ValueError(f"packing must be a positive integer m (1 = no packing), got {packing!r}.")
    if config.batch_size % packing:
        raise ValueError(
            f"config.batch_size={config.batch_size} must be a multiple of the packing m={packing}."
        )
    return settings


IMAGE_DATASETS = ("digits", "mnist_idx_t10k")
"""The image datasets of the DCGAN (gendiff.data names; MNIST's t10k files need data_dir)."""


def _check(config: ml_collections.ConfigDict) -> None:
    """Every run of the sweep is well defined, before anything trains."""
    if config.dataset not in (*data.PACGAN_MIXTURES, *IMAGE_DATASETS):
        raise ValueError(
            f"config.dataset must be one of {(*data.PACGAN_MIXTURES, *IMAGE_DATASETS)}, got "
            f"{config.dataset!r}."
        )
    if config.conditional and config.dataset not in IMAGE_DATASETS:
        raise ValueError(
            f"config.conditional needs labelled images (config.dataset in {IMAGE_DATASETS})."
        )
    if config.conditional and config.gan.packing != 1:
        raise ValueError(
            "PacGAN packing (config.gan.packing > 1) needs an unconditional critic; the "
            f"conditional GAN takes packing 1, got {config.gan.packing}."
        )
    if not config.sweep.seeds:
        raise ValueError("config.sweep.seeds must list at least one seed.")
    for packing in config.sweep.packings or (None,):
        for variant in config.sweep.variants or (None,):
            run_settings(config, variant, packing)
    if config.eval.num_samples < 2 or config.eval.sample_batch < 1:
        raise ValueError("config.eval.num_samples must be >= 2 and sample_batch >= 1.")


# ----------------------------------------------------------------------------- one run


def _networks(config: ml_collections.ConfigDict, example_shape, num_classes, packing: int):
    m = config.model
    if len(example_shape) == 1:
        generator = nets.MLPGenerator(
            data_dim=example_shape[0],
            hidden=m.generator_hidden,
            depth=m.generator_depth,
            num_classes=num_classes or m.latent_categories or None,  # a label or a latent code
        )
        critic = nets.MLPCritic(
            hidden=m.critic_hidden, depth=m.critic_depth, spectral_norm=m.spectral_norm
        )
    else:
        generator = nets.DCGANGenerator(
            image_shape=example_shape,
            features=m.features,
            num_classes=num_classes or m.latent_categories or None,
            norm=m.generator_norm,
        )
        critic = nets.DCGANCritic(
            features=m.features,
            num_classes=num_classes,
            conditioning=m.conditioning,
            spectral_norm=m.spectral_norm,
        )
    if packing > 1:
        critic = nets.PacCritic(critic, m=packing)
    return generator, critic


def _optimizer(o: ml_collections.ConfigDict, num_updates: int) -> optax.GradientTransformation:
    """``gendiff.train.make_optimizer`` of ``o`` over ``num_updates`` updates of one player."""
    return make_optimizer({**o.to_dict(), "num_steps": num_updates})


def train_gan(
    config: ml_collections.ConfigDict,
    workdir: str,
    settings: dict,
    seed: int,
    batches: data.BatchSource,
    example_shape: tuple[int, ...],
    num_classes: int | None,
    data_key: str,
) -> tuple[object, TrainState, dict]:
    """Trains one GAN through ``gendiff.train.fit``; returns (generator, state, last metrics)."""
    packing = int(settings["packing"])
    generator, critic = _networks(config, example_shape, num_classes, packing)
    key_g, key_d, key_train = jax.random.split(jax.random.key(seed), 3)
    z0 = jnp.zeros((2, config.model.latent_dim))  # 2: a batch-normalised generator needs 2
    x0 = jnp.zeros((packing, *example_shape))
    cond = (jnp.zeros((packing,), jnp.int32),) if num_classes else ()
    codes = (jnp.zeros((2,), jnp.int32),) if num_classes or config.model.latent_categories else ()
    variables = {
        "generator": generator.init(key_g, z0, *codes),
        "critic": critic.init(key_d, x0, *cond),
    }
    spectral = nets.spectral_refresh(critic, x0, *cond) if config.model.spectral_norm else None
    players = gan_players(
        settings["loss"],
        generator.apply,
        critic.apply,
        _optimizer(config.generator_optim, settings["num_steps"]),
        _optimizer(config.critic_optim, settings["num_steps"] * settings["n_critic"]),
        latent_dim=config.model.latent_dim,
        n_critic=settings["n_critic"],
        gradient_penalty=settings["gradient_penalty"],
        one_sided=settings["one_sided"],
        r1=settings["r1"],
        clip=settings["clip"] or None,
        spectral_update=spectral,
        data_key=data_key,
        label_key="label" if num_classes else None,
        loss_params=settings["loss_params"] or None,
        top_k=settings["top_k"],
        latent_categories=config.model.latent_categories,
    )
    state = create_players_state(variables, {p.name: p.tx for p in players})
    state, last = fit(
        state,
        make_players_step(players, config.ema_decay),
        batches,
        key_train,
        num_steps=settings["num_steps"],
        workdir=workdir,
        checkpoint_every=config.checkpoint_every,
        log_every=config.log_every,
        progress=config.progress,
        time_limit_s=config.get("time_limit_s"),
        distributed=None,
    )
    return generator, state, last


def draw(
    config, generator, state: TrainState, key: jax.Array, labels=None, timing: dict | None = None
) -> np.ndarray:
    """``config.eval.num_samples`` samples of the (EMA) generator, in compiled batches.

    With ``labels`` (num_samples,), sample i is conditioned on labels[i]; without, a generator
    with a latent code (``config.model.latent_categories``) draws one per sample. A ``timing`` dict
    receives ``sample_s_per_1000`` (compilation excluded) and ``sample_compile_s``.
    """
    params = (state.ema_params if config.eval.use_ema else state.params)["generator"]
    latent, num, batch = config.model.latent_dim, config.eval.num_samples, config.eval.sample_batch
    if labels is None and config.model.latent_categories:
        key, key_c = jax.random.split(key)
        labels = jax.random.randint(key_c, (num,), 0, config.model.latent_categories)

    @jax.jit
    def sample(key, y):
        z = jax.random.normal(key, (y.shape[0], latent))
        return generator.apply(params, z, *(() if labels is None else (y,)))

    y = np.zeros(num, np.int32) if labels is None else np.asarray(labels, np.int32)
    if timing is not None and num % min(batch, num) == 0:  # one batch shape: compile first
        started = time.perf_counter()
        sample = sample.lower(key, jnp.asarray(y[: min(batch, num)])).compile()
        timing["sample_compile_s"] = time.perf_counter() - started
    started = time.perf_counter()
    chunks = [
        np.asarray(sample(jax.random.fold_in(key, i), jnp.asarray(y[s : s + batch])))
        for i, s in enumerate(range(0, num, batch))
    ]
    if timing is not None:
        timing["sample_s_per_1000"] = (time.perf_counter() - started) * 1000.0 / num
    return np.concatenate(chunks)


# ----------------------------------------------------------------------------- ring and grid


def mixture_batches(name: str, batch_size: int, seed: int) -> data.GeneratedBatches:
    """Fresh samples of a PacGAN mixture every step (step s: key fold_in(key(seed), s))."""
    means, stds, weights = data.pacgan_mixture(name)
    key = jax.random.fold_in(jax.random.key(seed), 1)

    def draw_batch(step: int) -> dict:
        x = data.sample_gaussian_mixture(
            jax.random.fold_in(key, step), means, stds, weights, batch_size
        )
        return {"x": np.asarray(x)}

    return data.GeneratedBatches(draw_batch, batch_size)


def _read_json(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _summary(runs: list[dict]) -> dict:
    """Mean and std over seeds (a reverse KL of +inf, no high-quality sample, stays inf)."""
    out = {"num_seeds": len(runs)}
    for name in RUN_FIGURES + ("wall_s",):
        values = np.array([r[name] for r in runs], np.float64)
        finite = np.all(np.isfinite(values))
        out[f"{name}_mean"] = float(values.mean()) if finite else float("inf")
        out[f"{name}_std"] = float(values.std()) if finite else float("nan")
    return out


def results_table(name: str, rows: dict[str, dict], num_modes: int) -> str:
    """A markdown table of the mean +- std over seeds of every configuration (a run whose
    training diverged counts as 0 modes, 0% high quality and infinite reverse KL)."""
    lines = [
        f"PacGAN protocol, {name} ({num_modes} modes), mean +- std over seeds.",
        "",
        "| configuration | steps | seeds | modes (of %d) | high quality %% | reverse KL "
        "| s / run |" % num_modes,
        "|---|---|---|---|---|---|---|",
    ]
    for config_name, r in rows.items():
        lines.append(
            f"| {config_name} | {r['settings'].get('num_steps', '')} | {r['num_seeds']} "
            f"| {r['modes_captured_mean']:.1f} +- {r['modes_captured_std']:.1f} "
            f"| {100 * r['high_quality_mean']:.1f} +- {100 * r['high_quality_std']:.1f} "
            f"| {r['reverse_kl_mean']:.3f} +- {r['reverse_kl_std']:.3f} "
            f"| {r['wall_s_mean']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def mixture_sweep(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Every variant x packing x seed on a PacGAN mixture; the table over seeds."""
    means, stds, weights = data.pacgan_mixture(config.dataset)
    reference = np.asarray(
        data.sample_gaussian_mixture(jax.random.key(10_000), means, stds, weights, 2500)
    )
    rows, flat = {}, {}
    for variant in config.sweep.variants or (None,):
        for packing in config.sweep.packings or (None,):
            settings = run_settings(config, variant, packing)
            name = f"{variant or settings['loss']}_pac{settings['packing']}"
            runs = []
            for seed in config.sweep.seeds:
                start = time.time()
                run_dir = os.path.join(workdir, name, f"seed{seed}")
                previous = _read_json(os.path.join(run_dir, "metrics.json"))
                try:
                    generator, state, last = train_gan(
                        config,
                        run_dir,
                        settings,
                        seed,
                        mixture_batches(config.dataset, config.batch_size, seed),
                        (2,),
                        None,
                        "x",
                    )
                    samples = draw(config, generator, state, jax.random.key(20_000 + seed))
                    if not np.all(np.isfinite(samples)):
                        raise FloatingPointError(f"{name}, seed {seed}: non-finite samples.")
                except FloatingPointError as error:
                    # A diverged GAN captures nothing; the sweep goes on and the table says so.
                    run = dict(
                        modes_captured=0.0, high_quality=0.0, reverse_kl=float("inf"),
                        diverged=str(error), seed=int(seed), wall_s=time.time() - start,
                    )  # fmt: skip
                    runs.append(run)
                    common.write_json(os.path.join(run_dir, "metrics.json"), run)
                    continue
                figures = metrics.mode_coverage(
                    samples, means, stds, weights, num_std=config.eval.num_std
                )
                run = {k: float(figures[k]) for k in RUN_FIGURES}
                run.update(
                    counts=np.asarray(figures["counts"]).tolist(),
                    seed=int(seed),
                    num_steps=int(state.step),
                    critic_loss=last.get("critic/loss"),
                    generator_loss=last.get("generator/loss"),
                    wall_s=time.time() - start,
                )
                if previous.get("num_steps") == run["num_steps"]:  # only re-evaluated
                    run["wall_s"] = previous["wall_s"]
                runs.append(run)
                common.write_json(os.path.join(run_dir, "metrics.json"), run)
                if seed == config.sweep.seeds[0]:
                    evaluation.save_scatter(
                        os.path.join(workdir, name, "samples.png"),
                        samples,
                        reference=reference,
                        title=f"{name}, seed {seed}: {run['modes_captured']:.0f} modes, "
                        f"{100 * run['high_quality']:.1f}% HQ",
                    )
            rows[name] = {**_summary(runs), "settings": settings, "runs": runs}
            flat.update({f"{name}/{k}": v for k, v in _summary(runs).items()})
    # Rows of earlier invocations in this workdir (other variants, packings or seeds) stay.
    rows = {**_read_json(os.path.join(workdir, "results.json")), **rows}
    table = results_table(config.dataset, rows, len(means))
    if is_main_process():
        evaluation.write_atomically(
            os.path.join(workdir, "results.md"), lambda f: f.write(table.encode())
        )
        common.write_json(os.path.join(workdir, "results.json"), rows)
    return flat


# ----------------------------------------------------------------------------- digits


def digits_gan(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """A DCGAN (conditional or not) on the 8x8 digits, scored by FD-digits and label accuracy."""
    start = time.time()
    train_ds, test_ds = common.load_splits(config)
    num_classes = train_ds.num_classes if config.conditional else None
    settings = run_settings(config, None)
    batches = data.ArrayBatches.from_dataset(
        train_ds, config.batch_size, config.seed, labels=bool(num_classes)
    )
    generator, state, last = train_gan(
        config,
        workdir,
        settings,
        config.seed,
        batches,
        tuple(train_ds.example_shape),
        num_classes,
        "image",
    )
    sample_key, eval_key = jax.random.split(jax.random.fold_in(jax.random.key(config.seed), 2))
    extra = {"critic_loss": last.get("critic/loss"), "generator_loss": last.get("generator/loss")}
    if not num_classes:
        samples = draw(config, generator, state, sample_key, timing=extra)
        title = f"{settings['loss']} DCGAN"
        return common.finish_run(
            config, workdir, start, state, last, samples, train_ds, test_ds, eval_key, title,
            **extra,
        )  # fmt: skip

    if config.eval.num_samples % num_classes:
        raise ValueError(
            f"config.eval.num_samples={config.eval.num_samples} must be a multiple of the "
            f"{num_classes} classes."
        )
    labels = np.repeat(np.arange(num_classes), config.eval.num_samples // num_classes)
    samples = draw(config, generator, state, sample_key, labels)
    extractor = common.feature_classifier(workdir, train_ds, test_ds)
    result = {
        "num_steps": int(state.step),
        "num_params": common.num_params(state.ema_params),
        **common.sample_quality(eval_key, samples, train_ds, test_ds, workdir),
        "label_accuracy": extractor.accuracy(samples, labels),
        **extra,
    }
    for k in range(num_classes):
        result[f"fd_digits_class{k}"] = evaluation.fd_digits(
            extractor, samples[labels == k], test_ds.images[test_ds.labels == k]
        )
    per_class = np.array([result[f"fd_digits_class{k}"] for k in range(num_classes)])
    result["fd_digits_class_mean"] = float(per_class.mean())
    result["wall_s"] = time.time() - start
    if is_main_process():
        rows = samples.reshape(num_classes, -1, *samples.shape[1:])[:, :10]
        evaluation.save_image_grid(
            os.path.join(workdir, "samples.png"),
            rows.reshape(-1, *samples.shape[1:]),
            nrow=rows.shape[1],
            title=f"conditional DCGAN, {int(state.step)} steps: row k = class k",
        )
        common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


# ----------------------------------------------------------------------------- entry point


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Runs the preset's GANs and evaluates them.

    Args:
        config: a config from ``experiments.configs.gan`` (presets ring, grid, digits,
            cgan_digits and their ``_tiny`` versions).
        workdir: directory for the runs, the tables and the PNGs.

    Returns:
        Ring and grid: ``{"<variant>_pac<m>/<figure>_mean" / "_std": ...}`` for every
        configuration (figures modes_captured, high_quality, reverse_kl, wall_s), also in
        metrics.json; results.md and results.json hold the table and every run. Digits: the
        metrics of ``common.finish_run`` (fd_digits with its floor and noise values), plus
        label_accuracy and fd_digits_class<k> when conditional.

    Example:
        >>> metrics = train_and_evaluate(configs.get_config("ring_tiny"), "/tmp/gan_ring")
    """
    _check(config)
    if config.dataset in IMAGE_DATASETS:
        return digits_gan(config, workdir)
    result = mixture_sweep(config, workdir)
    if is_main_process():
        common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/gan")
