"""What every experiment shares: the CLI, set-up, data, models, training, sampling in batches
and evaluation.

An experiment module defines ``train_and_evaluate(config, workdir) -> dict``, decorated with
:func:`experiment` (multi-host set-up and config checks, once for all experiments), trains
every network through :func:`fit_network` (which calls ``gendiff.train.fit`` with a global
batch definition) and ends with
``if __name__ == "__main__": common.run_cli(train_and_evaluate, configs.get_config, "runs/NAME")``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
import time
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gendiff import data, nets
from gendiff import eval as evaluation
from gendiff.data import ArrayBatches, BatchSource
from gendiff.train import (
    ExportCache,
    Player,
    TrainState,
    create_players_state,
    create_train_state,
    fit,
    initialize_distributed,
    is_main_process,
    make_optimizer,
    make_players_step,
    make_train_step,
)

# ----------------------------------------------------------------------------- CLI


def _peek_preset(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg.startswith("--preset="):
            return arg.split("=", 1)[1]
        if arg == "--preset" and i + 1 < len(argv):
            return argv[i + 1]
    return "cpu"


COMPILATION_CACHE_ENV = "GENDIFF_COMPILATION_CACHE"


FEATURE_CLASSIFIER_ENV = "GENDIFF_FEATURE_CLASSIFIER_DIR"


def enable_compilation_cache() -> str | None:
    """Turns on JAX's persistent compilation cache for a command-line run; returns its directory.

    The compiled training step, samplers and scorers are written to disk, so a second run (a
    new workdir, another seed) loads them instead of compiling again. The directory is
    ``$GENDIFF_COMPILATION_CACHE`` if set (empty: no cache), else ``~/.cache/gendiff/jax``; a
    cache directory already configured for JAX (``JAX_COMPILATION_CACHE_DIR``) is kept. Every
    program is cached, however short its compilation, unless
    ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` says otherwise.

    Example:
        >>> enable_compilation_cache() == jax.config.jax_compilation_cache_dir
        True
    """
    directory = jax.config.jax_compilation_cache_dir
    if not directory:
        default = os.path.join(os.path.expanduser("~"), ".cache", "gendiff", "jax")
        directory = os.environ.get(COMPILATION_CACHE_ENV, default)
        if not directory:
            return None
        jax.config.update("jax_compilation_cache_dir", directory)
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        # Cache every program, not only those over 1 s: a start compiles dozens of small ones.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return directory


EXPORT_SUBDIR = "exported"
_EXPORT = {"directory": None, "runs": []}  # the directory, and a stack of running experiments


def enable_export_cache(directory: str | None) -> None:
    """Keeps the traced programs of every run in ``directory`` (None: off): the command line's.

    A later run of the same experiment with the same config, code and training data loads
    its parameter initialisation, train state and training step from there instead of
    tracing them (:class:`gendiff.train.ExportCache`): a second start is seconds shorter.
    The fingerprint of a run's programs is a hash of the experiment, the whole config, the
    source of ``gendiff`` and ``experiments`` and the in-memory training arrays; the n-th
    program of a run is stored under that fingerprint and n.

    Example:
        >>> enable_export_cache(None)  # off, as in library calls of train_and_evaluate
    """
    _EXPORT["directory"] = directory


@functools.cache
def _source_digest() -> str:
    digest = hashlib.sha256()
    for package in ("gendiff", "experiments"):
        root = os.path.dirname(sys.modules[package].__file__)
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(f for f in files if f.endswith(".py")):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode())
                with open(path, "rb") as f:
                    digest.update(f.read())
    return digest.hexdigest()


@contextlib.contextmanager
def _program_fingerprint(train_and_evaluate: Callable, config: ml_collections.ConfigDict):
    """While an experiment runs: the fingerprint of its programs (see enable_export_cache)."""
    if _EXPORT["directory"] is None:
        yield
        return
    digest = hashlib.sha256()
    for part in (
        f"{train_and_evaluate.__module__}.{train_and_evaluate.__qualname__}",
        config.to_json_best_effort(sort_keys=True),
        _source_digest(),
    ):
        digest.update(part.encode() + b"\0")
    _EXPORT["runs"].append({"fingerprint": digest.hexdigest(), "programs": 0})
    try:
        yield
    finally:
        _EXPORT["runs"].pop()


def _arrays_digest(batches) -> str:
    """A hash of the in-memory arrays behind a batch source ('' if it has none)."""
    source = getattr(batches, "source", batches)
    arrays = getattr(source, "arrays", None)
    if arrays is None:
        return type(source).__name__
    digest = hashlib.sha256()
    for name in sorted(arrays):
        x = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}{x.shape}{x.dtype}".encode())
        digest.update(x.data)
    return digest.hexdigest()


def next_export_cache(batches=None) -> ExportCache | None:
    """The :class:`gendiff.train.ExportCache` of the running experiment's next program, or
    None when the cache is off (:func:`enable_export_cache`) or no experiment is running.

    Example:
        >>> next_export_cache() is None  # no experiment is running
        True
    """
    if _EXPORT["directory"] is None or not _EXPORT["runs"]:
        return None
    run = _EXPORT["runs"][-1]
    run["programs"] += 1
    parts = (run["fingerprint"], str(run["programs"]), _arrays_digest(batches))
    return ExportCache(_EXPORT["directory"], hashlib.sha256("\0".join(parts).encode()).hexdigest())


def jit_program(fun: Callable, name: str, batches=None) -> Callable:
    """``jax.jit(fun)``, kept across runs by :func:`next_export_cache` when that is on.

    Example:
        >>> jit_program(lambda x: x + 1, "plus_one")(jnp.ones(2)).tolist()
        [2.0, 2.0]
    """
    cache = next_export_cache(batches)
    return jax.jit(fun) if cache is None else cache.jit(fun, name=name)


def run_cli(
    train_and_evaluate: Callable,
    get_config: Callable[[str], ml_collections.ConfigDict],
    default_workdir: str,
    argv: list[str] | None = None,
) -> None:
    """Thin command line: ``--preset NAME``, ``--workdir DIR`` and ``--config.FIELD=VALUE`` overrides.

    The preset is read before the flags are defined, so ``--config.*`` overrides apply to it.
    Compiled programs are cached on disk across runs (:func:`enable_compilation_cache`).
    """
    from absl import app, flags, logging
    from ml_collections import config_flags

    argv = sys.argv if argv is None else argv
    preset = _peek_preset(argv)
    try:
        config = get_config(preset)
    except ValueError as e:
        sys.exit(f"error: {e}")
    flags.DEFINE_string("preset", "cpu", "Named preset of the config (see experiments/configs).")
    flags.DEFINE_string(
        "workdir", default_workdir, "Directory for checkpoints, metrics and samples."
    )
    config_flags.DEFINE_config_dict(
        "config",
        config,
        "Experiment config; override fields with --config.FIELD=VALUE.",
        lock_config=True,
    )

    def main(_):
        logging.set_verbosity(logging.WARNING)
        directory = enable_compilation_cache()
        enable_export_cache(directory and os.path.join(directory, EXPORT_SUBDIR))
        result = train_and_evaluate(flags.FLAGS.config, flags.FLAGS.workdir)
        if is_main_process():
            print(json.dumps(result, indent=2))

    app.run(main, argv=argv)


# ----------------------------------------------------------------------------- set-up


def experiment(train_and_evaluate: Callable[[ml_collections.ConfigDict, str], dict]):
    """Decorates an experiment's ``train_and_evaluate(config, workdir)``: the set-up they share.

    Before the experiment runs, the processes of a multi-host run are connected as
    ``config.distributed`` says (before any JAX computation, as ``jax.distributed`` requires;
    see :func:`gendiff.train.initialize_distributed`), and the run-length fields are checked
    (:func:`check_config`).

    Example:
        >>> @experiment
        ... def train_and_evaluate(config, workdir):
        ...     return {"num_steps": config.num_steps}
    """

    @functools.wraps(train_and_evaluate)
    def wrapped(config: ml_collections.ConfigDict, workdir: str) -> dict:
        initialize_distributed(**config.distributed)
        check_config(config)
        with _program_fingerprint(train_and_evaluate, config):
            return train_and_evaluate(config, workdir)

    return wrapped


def load_splits(config: ml_collections.ConfigDict) -> tuple[data.ArrayDataset, data.ArrayDataset]:
    """(train, test) splits of ``config.dataset`` (see :func:`gendiff.data.load`)."""
    data_dir = config.data_dir or None
    return data.load(config.dataset, "train", data_dir), data.load(config.dataset, "test", data_dir)


def build_denoiser(
    model_config: ml_collections.ConfigDict,
    example_shape: tuple[int, ...],
    num_classes: int | None = None,
):
    """The denoising network named by ``model_config.name`` for examples of ``example_shape``."""
    dtype = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}.get(model_config.dtype)
    if dtype is None:
        raise ValueError(
            f"Unknown model dtype {model_config.dtype!r}; expected 'float32' or 'bfloat16'."
        )
    if model_config.name == "unet":
        if len(example_shape) != 3:
            raise ValueError(
                f"The U-Net needs images (H, W, C); this dataset has examples of shape "
                f"{example_shape}. Use --config.model.name=mlp."
            )
        return nets.UNet(
            **nets.unet_config(model_config.preset), num_classes=num_classes, dtype=dtype
        )
    if model_config.name == "mlp":  # flattens images
        return nets.MLPDenoiser(
            hidden=model_config.hidden, depth=model_config.depth, num_classes=num_classes
        )
    raise ValueError(f"Unknown model {model_config.name!r}; expected 'unet' or 'mlp'.")


def check_config(config: ml_collections.ConfigDict) -> None:
    """The run-length fields of an experiment config (those it has: experiments that train no
    network, like the EM ones, have none) must be positive integers."""
    for field in ("num_steps", "batch_size", "checkpoint_every", "log_every"):
        if field in config and int(config[field]) < 1:
            raise ValueError(f"config.{field} must be a positive integer, got {config[field]}.")


def fit_network(
    run: ml_collections.ConfigDict,
    workdir: str,
    params,
    loss_fn: Callable,
    batches: BatchSource,
    key: jax.Array,
) -> tuple[TrainState, dict]:
    """Trains ``params`` with ``gendiff.train.fit``: the one way the experiments train a network.

    Args:
        run: the run's fields: num_steps, checkpoint_every, log_every, progress, optionally
            time_limit_s (a wall-clock budget, :func:`gendiff.train.fit`), and optim (the
            optimizer config of ``gendiff.train.make_optimizer``, with ema_decay and optionally
            ema_warmup, the decay min(ema_decay, (1 + n) / (10 + n)) of
            :func:`gendiff.train.ema`).
        workdir: where the checkpoints and metrics.jsonl go.
        params: initial parameters.
        loss_fn: ``loss_fn(params, batch, key) -> (loss, metrics)``.
        batches: the GLOBAL batch definition (``ArrayBatches``, ``GeneratedBatches``, ...);
            fit keeps this process's rows.
        key: base PRNG key of the training steps (step s uses ``fold_in(key, s)``).

    Returns:
        (final TrainState, last logged metrics).

    Example:
        >>> import tempfile
        >>> run = ml_collections.ConfigDict(dict(
        ...     num_steps=20, checkpoint_every=20, log_every=10, progress=False,
        ...     optim=dict(optimizer="adam", learning_rate=0.1, ema_decay=0.9)))
        >>> batches = ArrayBatches({"x": np.ones((64, 2), np.float32)}, batch_size=16)
        >>> loss_fn = lambda p, b, k: (jnp.mean((b["x"] @ p["w"]) ** 2), {})
        >>> state, last = fit_network(run, tempfile.mkdtemp(), {"w": jnp.ones((2,))}, loss_fn,
        ...                           batches, jax.random.key(0))
    """
    tx = make_optimizer(run.optim)
    # One program (cached on disk) rather than one small one per parameter shape, op by op.
    create = functools.partial(create_train_state, tx=tx)
    cache = next_export_cache()
    state = (jax.jit if cache is None else functools.partial(cache.memoize, name="train_state"))(
        create
    )(params)
    return fit(
        state,
        make_train_step(loss_fn, tx, run.optim.ema_decay, run.optim.get("ema_warmup", False)),
        batches,
        key,
        num_steps=run.num_steps,
        workdir=workdir,
        checkpoint_every=run.checkpoint_every,
        log_every=run.log_every,
        progress=run.progress,
        time_limit_s=run.get("time_limit_s"),
        export_cache=next_export_cache(batches),
    )


def fit_players(
    run: ml_collections.ConfigDict,
    workdir: str,
    params: dict,
    players: tuple[Player, ...],
    batches: BatchSource,
    key: jax.Array,
) -> tuple[TrainState, dict]:
    """Trains several players (each with its own loss and optimiser, in order) with
    ``gendiff.train.fit``: :func:`fit_network` for models with several players, such as a
    GAN or a model with persistent chains (``gendiff.train.persistent_chain_players``).

    Args:
        run: the run's fields (num_steps, checkpoint_every, log_every, progress,
            optim.ema_decay); each player carries its own optimiser.
        workdir: where the checkpoints and metrics.jsonl go.
        params: ``{player name: initial parameters}``.
        players: the players, in update order.
        batches: the GLOBAL batch definition.
        key: base PRNG key of the training steps.

    Returns:
        (final TrainState, last logged metrics).
    """
    txs = {p.name: p.tx for p in players}
    state = jit_program(functools.partial(create_players_state, txs=txs), "create_players_state")(
        params
    )
    return fit(
        state,
        make_players_step(players, run.optim.ema_decay, run.optim.get("ema_warmup", False)),
        batches,
        key,
        num_steps=run.num_steps,
        workdir=workdir,
        checkpoint_every=run.checkpoint_every,
        log_every=run.log_every,
        progress=run.progress,
        time_limit_s=run.get("time_limit_s"),
        export_cache=next_export_cache(batches),
    )


def train_network(
    config: ml_collections.ConfigDict,
    workdir: str,
    net,
    train_ds: data.ArrayDataset,
    loss_of_model: Callable,
    init_key: jax.Array,
    train_key: jax.Array,
    with_labels: bool = False,
    init_params=None,
) -> tuple[TrainState, dict]:
    """Trains a denoising-style ``net`` on epoch-shuffled global batches of ``train_ds``.

    The batches are ``ArrayBatches.from_dataset`` (seeded with ``config.seed``); training goes
    through :func:`fit_network`.

    Args:
        config: experiment config (seed, num_steps, batch_size, checkpoint_every, log_every,
            progress, optim).
        workdir: where checkpoints and metrics.jsonl go.
        net: a Flax module called as ``net.apply(params, x, t, train=..., rngs=...)``.
        train_ds: the training split.
        loss_of_model: ``loss_of_model(key, model_fn, x0) -> (loss, metrics)``, with
            ``model_fn(x, t, **cond)`` the network in training mode (dropout on); with
            ``with_labels``, ``loss_of_model(key, model_fn, x0, labels)`` instead.
        init_key: PRNG key of the parameter initialisation.
        train_key: base PRNG key of the training steps (step s uses ``fold_in(train_key, s)``).
        with_labels: feed the class labels of ``train_ds`` to the loss (class-conditional nets).
        init_params: parameters to start from (fine-tuning) instead of ``net.init(init_key, ...)``.

    Returns:
        (final TrainState, last logged metrics).
    """
    params = init_params
    if params is None:
        # Jitted: one program, which the compilation cache keeps (op by op, the U-Net's
        # initialisation compiles some 200 small programs, seconds at every start); from the
        # command line the parameters themselves are kept, a function of config and seed.
        x, t = jnp.zeros((1, *train_ds.example_shape)), jnp.zeros((1,))
        cache = next_export_cache()
        init = jax.jit(net.init) if cache is None else cache.memoize(net.init, name="init")
        params = init(init_key, x, t)
    batches = ArrayBatches.from_dataset(
        train_ds, config.batch_size, config.seed, labels=with_labels
    )

    def loss_fn(params, batch, key):
        key_loss, key_dropout = jax.random.split(key)
        model_fn = lambda x, t, **cond: net.apply(
            params, x, t, **cond, train=True, rngs={"dropout": key_dropout}
        )
        labels = (batch["label"],) if with_labels else ()
        return loss_of_model(key_loss, model_fn, batch["image"], *labels)

    return fit_network(config, workdir, params, loss_fn, batches, train_key)


def num_params(params) -> int:
    return int(sum(x.size for x in jax.tree_util.tree_leaves(params)))


# ----------------------------------------------------------------------------- evaluation


def in_batches(
    fn: Callable[[jax.Array, int], jax.Array], key: jax.Array, num: int, batch: int
) -> np.ndarray:
    """Concatenates ``fn(fold_in(key, i), batch)`` over enough batches i for ``num`` rows."""
    outs = [np.asarray(fn(jax.random.fold_in(key, i), batch)) for i in range(-(-num // batch))]
    return np.concatenate(outs)[:num]


def feature_classifier(
    workdir: str, train: data.ArrayDataset, test: data.ArrayDataset
) -> evaluation.DigitsFeatureExtractor:
    """The classifier whose features FD-digits uses, trained on ``train`` and cached in
    ``workdir/feature_classifier``, or in ``$GENDIFF_FEATURE_CLASSIFIER_DIR/<dataset>`` when
    that is set (runs that share one classifier, e.g. ``benchmarks.zoo``)."""
    shared = os.environ.get(FEATURE_CLASSIFIER_ENV)
    return evaluation.load_or_train(
        os.path.join(shared, train.name) if shared else os.path.join(workdir, "feature_classifier"),
        train.images,
        train.labels,
        test.images,
        test.labels,
        seed=0,
    )


def sample_scorer(
    key: jax.Array,
    train: data.ArrayDataset,
    test: data.ArrayDataset,
    workdir: str,
    num_samples: int = evaluation.NUM_SAMPLES,
    extractor: evaluation.DigitsFeatureExtractor | None = None,
    inception_weights: str = "",
    inception_reference: str = "",
) -> evaluation.SampleScorer:
    """The :class:`gendiff.eval.SampleScorer` of a dataset: samples against the test split,
    floor from the train split; images in the features of ``extractor`` (by default
    :func:`feature_classifier`; 'fd_digits' on the digits, 'fd_classifier' elsewhere), whose
    logits also give the accuracy of class-conditional samples. With ``inception_weights`` (a
    local .npz or pytorch-fid .pth; empty = off) images also get fid, is, kid, precision and
    recall in Inception-v3 features, FID against ``inception_reference`` (an .npz of mu and
    sigma, e.g. training-set statistics; empty = the test split's statistics)."""
    if len(test.example_shape) != 3:
        return evaluation.SampleScorer(key, test.images, train.images, num_samples=num_samples)
    if extractor is None:
        extractor = feature_classifier(workdir, train, test)
    inception = evaluation.InceptionFeatures(inception_weights) if inception_weights else None
    statistics = None
    if inception_weights and inception_reference:
        statistics = evaluation.load_reference_statistics(inception_reference)
    return evaluation.SampleScorer(
        key,
        test.images,
        train.images,
        features=extractor.features,
        metric="fd_digits" if train.name == "digits" else "fd_classifier",
        classifier=extractor.logits,
        num_samples=num_samples,
        inception=inception,
        inception_reference_statistics=statistics,
    )


def sample_quality(
    key: jax.Array,
    samples: np.ndarray,
    train: data.ArrayDataset,
    test: data.ArrayDataset,
    workdir: str,
    inception_weights: str = "",
    inception_reference: str = "",
) -> dict[str, float]:
    """Every figure of :func:`sample_scorer` for ``samples``, with its floor and noise values.

    ``inception_weights`` and ``inception_reference`` (``config.eval.inception_weights`` and
    ``config.eval.inception_reference``; empty = off) add the Inception-v3 figures to images.

    All the samples are scored, and the floor and noise sets have as many rows: experiments
    draw ``config.eval.num_samples`` samples, :data:`gendiff.eval.NUM_SAMPLES` in every
    preset, so that the headline figures compare across experiments. Images also report the
    feature classifier's test accuracy.
    """
    if samples.ndim != 4:
        return sample_scorer(key, train, test, workdir, num_samples=len(samples))(samples)
    extractor = feature_classifier(workdir, train, test)
    scorer = sample_scorer(
        key, train, test, workdir, len(samples), extractor, inception_weights, inception_reference
    )
    return {
        **scorer(samples),
        "feature_classifier_test_accuracy": extractor.meta["test_accuracy"],
    }


def draw_samples(
    sample_fn: Callable, params, key: jax.Array, config, timing: dict | None = None
) -> np.ndarray:
    """``config.eval.num_samples`` samples from ``sample_fn(params, key, num)``, jitted, in batches.

    With a ``timing`` dict, the program is compiled first and the dict receives
    ``sample_s_per_1000`` (seconds per 1,000 samples, compilation excluded) and
    ``sample_compile_s``.
    """
    batch = min(config.eval.sample_batch, config.eval.num_samples)
    sampler = jax.jit(sample_fn, static_argnums=2)
    if timing is not None:
        start = time.perf_counter()
        sampler = sampler.lower(params, key, batch).compile()
        timing["sample_compile_s"] = time.perf_counter() - start
    start = time.perf_counter()
    samples = in_batches(
        lambda key, num: sampler(params, key) if timing is not None else sampler(params, key, num),
        key,
        config.eval.num_samples,
        batch,
    )
    if timing is not None:
        timing["sample_s_per_1000"] = (time.perf_counter() - start) * 1000.0 / len(samples)
    return samples


def finish_run(
    config,
    workdir: str,
    start: float,
    state: TrainState,
    last: dict,
    samples: np.ndarray,
    train_ds: data.ArrayDataset,
    test_ds: data.ArrayDataset,
    eval_key: jax.Array,
    title: str,
    **extra_metrics: float,
) -> dict:
    """Scores the samples, writes samples.png and metrics.json (process 0) and returns the metrics.

    metrics.json holds train_loss (last logged), num_steps, num_params, the sample-quality
    figures of :func:`sample_quality`, ``extra_metrics`` and wall_s (seconds since ``start``).
    """
    result = {
        "train_loss": last.get("loss"),
        "num_steps": int(state.step),
        "num_params": num_params(state.ema_params),
        **sample_quality(
            eval_key,
            samples,
            train_ds,
            test_ds,
            workdir,
            inception_weights=config.eval.get("inception_weights", ""),
            inception_reference=config.eval.get("inception_reference", ""),
        ),
        **extra_metrics,
    }
    result["wall_s"] = time.time() - start
    save_samples(  # the writers write on process 0 only
        os.path.join(workdir, "samples.png"),
        samples,
        test_ds,
        title=f"{title}, {config.dataset}, {int(state.step)} steps",
    )
    write_json(os.path.join(workdir, "metrics.json"), result)
    return result


def save_samples(path: str, samples: np.ndarray, reference: data.ArrayDataset, title: str) -> None:
    """A grid of images, or a scatter of points over the reference data, as a PNG at ``path``;
    the samples themselves go next to it as .npy (process 0 only, atomically)."""
    evaluation.write_atomically(
        os.path.splitext(path)[0] + ".npy", lambda f: np.save(f, np.asarray(samples))
    )
    if samples.ndim == 4:
        evaluation.save_image_grid(path, samples[:100], title=title)
    else:
        evaluation.save_scatter(path, samples, reference=reference.images, title=title)


write_json = evaluation.write_json  # atomic, process 0 only
