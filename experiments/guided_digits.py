"""Guided class-conditional DDPM on 8x8 digits: classifier-free and classifier guidance.

  python -m experiments.guided_digits                         # 8x8 digits on a CPU
  python -m experiments.guided_digits --workdir runs/guided --config.seed=1

Trains one U-Net with label dropout (Ho & Salimans 2022), so that it is both the conditional
and the unconditional model, and a classifier of noisy digits p(y | x_t, t) (Dhariwal & Nichol
2021). Then draws ``eval.samples_per_class`` digits of every class with the ancestral sampler
(``eval.num_sampling_steps`` steps on the T-step path) at each classifier-free scale w
(guiding the conditional model) and each classifier scale s (guiding the unconditional
model), and reports for each scale the accuracy of an independent digits classifier on the
samples (does a sample of class y look like a y?) and the FD-digits to the test split
(quality and diversity). Writes samples_cfg_w{w}.png and
samples_classifier_s{s}.png (row k: class k) and metrics.json. Running again resumes both
trainings from their checkpoints; a finished run only re-evaluates.
"""

from __future__ import annotations

import functools
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import common
from experiments.configs import guided_digits as configs
from gendiff import data, ddpm, guidance, nets
from gendiff import eval as evaluation
from gendiff.paths import DiscreteVPPath
from gendiff.train import is_main_process

BASELINES = ("_floor", "_noise", "_test_accuracy")  # the sample_quality figures kept as they are


def diffusion_path(config: ml_collections.ConfigDict) -> DiscreteVPPath:
    d = config.diffusion
    return DiscreteVPPath.from_schedule(d.schedule, d.num_diffusion_steps)


def train_conditional_denoiser(
    config: ml_collections.ConfigDict, workdir: str, train_ds: data.ArrayDataset
):
    """Trains (or resumes, or just loads) the label-dropout U-Net; returns (net, state, last)."""
    path = diffusion_path(config)
    net = common.build_denoiser(config.model, train_ds.example_shape, train_ds.num_classes)
    init_key, train_key = jax.random.split(jax.random.key(config.seed))
    loss = functools.partial(
        guidance.label_dropout_denoising_loss,
        path=path,
        prediction=config.diffusion.prediction,
        label_dropout=config.guidance.label_dropout,
        null_label=train_ds.num_classes,
    )
    state, last = common.train_network(
        config, workdir, net, train_ds, loss, init_key, train_key, with_labels=True
    )
    return net, state, last


def train_noisy_classifier(
    config: ml_collections.ConfigDict, workdir: str, train_ds: data.ArrayDataset
):
    """Trains (or resumes) p(y | x_t, t) in ``workdir``/noisy_classifier; returns (net, state, last)."""
    k = config.classifier
    net = nets.NoisyImageClassifier(
        num_classes=train_ds.num_classes,
        channels=tuple(k.channels),
        feature_dim=k.feature_dim,
        time_dim=k.time_dim,
        dropout_rate=k.dropout_rate,
    )
    run = ml_collections.ConfigDict(
        dict(
            seed=config.seed,
            num_steps=k.num_steps,
            batch_size=k.batch_size,
            checkpoint_every=config.checkpoint_every,
            log_every=config.log_every,
            progress=config.progress,
            optim=k.optim.to_dict(),
        )
    )
    common.check_config(run)
    init_key, train_key = jax.random.split(jax.random.fold_in(jax.random.key(config.seed), 1))
    loss = functools.partial(guidance.noisy_classifier_loss, path=diffusion_path(config))
    state, last = common.train_network(
        run,
        os.path.join(workdir, "noisy_classifier"),
        net,
        train_ds,
        lambda key, logits_fn, x0, labels: loss(key, logits_fn, x0, labels),
        init_key,
        train_key,
        with_labels=True,
    )
    return net, state, last


def sample_classes(sample_fn, key: jax.Array, num_classes: int, config) -> tuple:
    """``samples_per_class`` samples of every class (class-major), in compiled batches.

    ``sample_fn(key, labels)`` draws one sample per label; every batch uses its own
    ``fold_in(key, i)``, and the same key gives the same noise whatever the guidance.
    """
    e = config.eval
    labels = np.repeat(np.arange(num_classes, dtype=np.int32), e.samples_per_class)
    batches = [labels[i : i + e.sample_batch] for i in range(0, len(labels), e.sample_batch)]
    samples = [
        np.asarray(sample_fn(jax.random.fold_in(key, i), jnp.asarray(y)))
        for i, y in enumerate(batches)
    ]
    return np.concatenate(samples), labels


def _check_scales(config) -> None:
    for w in config.eval.cfg_scales:
        guidance.classifier_free_guidance(None, w, 0)
    for s in config.eval.classifier_scales:
        guidance.classifier_guidance(None, None, None, s)


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains the guided denoiser and the noisy classifier, samples at every scale, evaluates.

    Args:
        config: a config from ``experiments.configs.guided_digits`` (presets: cpu, tiny).
        workdir: directory for checkpoints, metrics.json and the samples_*.png grids.

    Returns:
        The metrics written to metrics.json: for each classifier-free scale w,
        ``cfg_w{w}_accuracy`` and ``cfg_w{w}_fd_digits``; for each classifier scale s,
        ``classifier_s{s}_accuracy`` and ``classifier_s{s}_fd_digits``; the FD-digits floor and
        noise baselines; training losses; the noisy classifier's test accuracy at a few t.

    Example:
        >>> config = configs.get_config("tiny")
        >>> metrics = train_and_evaluate(config, "/tmp/guided_digits")
    """
    start = time.time()
    _check_scales(config)
    if config.eval.sample_batch < 1 or config.eval.samples_per_class < 1:
        raise ValueError("config.eval.sample_batch and samples_per_class must be positive.")
    train_ds, test_ds = common.load_splits(config)
    if train_ds.num_classes is None or len(train_ds.example_shape) != 3:
        raise ValueError(f"guided_digits needs labelled images; {config.dataset!r} is not.")
    num_classes, d = train_ds.num_classes, config.diffusion
    path = diffusion_path(config)
    net, state, last = train_conditional_denoiser(config, workdir, train_ds)
    clf, clf_state, clf_last = train_noisy_classifier(config, workdir, train_ds)
    sample_key, eval_key = jax.random.split(jax.random.fold_in(jax.random.key(config.seed), 2))

    def ancestral(key, model_fn, labels):
        shape = (len(labels), *train_ds.example_shape)
        return ddpm.ancestral_sample(
            key,
            model_fn,
            path,
            shape,
            num_steps=config.eval.num_sampling_steps or None,
            variance=d.variance,
            prediction=d.prediction,
            y=labels,
        )

    @jax.jit
    def cfg_sample(params, key, labels, w):  # w is traced: one compilation for every scale
        denoiser = functools.partial(net.apply, params)
        return ancestral(key, guidance.classifier_free_guidance(denoiser, w, num_classes), labels)

    def log_prob(clf_params, x, t, y):
        log_probs = jax.nn.log_softmax(clf.apply(clf_params, x, t))
        return jnp.take_along_axis(log_probs, y[:, None], axis=1)[:, 0]

    @jax.jit
    def classifier_sample(params, clf_params, key, labels, s):
        unconditional = functools.partial(net.apply, params)  # y=None: the null label
        guided = guidance.classifier_guidance(
            unconditional, functools.partial(log_prob, clf_params), path, s, d.prediction
        )
        return ancestral(key, guided, labels)

    runs = {
        f"cfg_w{w:g}": functools.partial(cfg_sample, state.ema_params, w=w)
        for w in config.eval.cfg_scales
    }
    runs.update(
        {
            f"classifier_s{s:g}": functools.partial(
                classifier_sample, state.ema_params, clf_state.ema_params, s=s
            )
            for s in config.eval.classifier_scales
        }
    )
    extractor = common.feature_classifier(workdir, train_ds, test_ds)
    result = {
        "train_loss": last.get("loss"),
        "num_steps": int(state.step),
        "num_params": common.num_params(state.ema_params),
        "classifier_train_loss": clf_last.get("loss"),
        **_noisy_classifier_accuracy(clf, clf_state.ema_params, path, test_ds, eval_key),
    }
    for name, sample_fn in runs.items():
        samples, labels = sample_classes(sample_fn, sample_key, num_classes, config)
        result[f"{name}_accuracy"] = extractor.accuracy(samples, labels)
        if "fd_digits_floor" not in result:  # the floor and noise baselines, once
            quality = common.sample_quality(eval_key, samples, train_ds, test_ds, workdir)
            result.update({k: v for k, v in quality.items() if k.endswith(BASELINES)})
        result[f"{name}_fd_digits"] = evaluation.fd_digits(extractor, samples, test_ds.images)
        if is_main_process():
            _save_grid(os.path.join(workdir, f"samples_{name}.png"), samples, num_classes, name)
    result["wall_s"] = time.time() - start
    common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


def _noisy_classifier_accuracy(clf, params, path, test_ds, key) -> dict[str, float]:
    """Test accuracy of the noisy classifier on x_t ~ q(x_t | x_0) at a few noise levels."""
    out = {}
    for i, t in enumerate((0.0, 0.25, 0.5)):
        times = jnp.full((len(test_ds),), max(t, path.t_min))
        x_t, _ = path.sample_marginal(
            jax.random.fold_in(key, i), jnp.asarray(test_ds.images), times
        )
        predicted = np.argmax(clf.apply(params, x_t, times), axis=1)
        out[f"noisy_classifier_test_accuracy_t{t:g}"] = float(np.mean(predicted == test_ds.labels))
    return out


def _save_grid(path: str, samples: np.ndarray, num_classes: int, name: str) -> None:
    """The first (up to) 10 samples of every class, one class per row."""
    per_class = samples.reshape(num_classes, -1, *samples.shape[1:])[:, :10]
    evaluation.save_image_grid(
        path,
        per_class.reshape(-1, *samples.shape[1:]),
        nrow=per_class.shape[1],
        title=f"{name.replace('_', ' ')}: row k = class k",
    )


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/guided_digits")
