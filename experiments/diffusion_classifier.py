"""A class-conditional diffusion model as a zero-shot classifier of 8x8 digits (Li et al. 2023).

  python -m experiments.diffusion_classifier --config.denoiser_workdir=runs/guided_digits
  python -m experiments.diffusion_classifier --workdir runs/diffusion_classifier

Classifies test digits by arg-min over the classes of the Monte Carlo denoising error
E_{t, eps} ||eps - eps_theta(x_t, t, y)||^2 (gendiff.guidance.diffusion_classifier_logits) and
reports the accuracy for each number of (t, eps) draws in ``classify.num_samples``, next to
the independent digits classifier's accuracy on the same images. The denoiser is the
label-dropout U-Net of experiments/guided_digits.py: loaded from ``denoiser_workdir`` (a
finished guided_digits run with the same model and diffusion config), or trained in
``workdir`` by guided_digits' own training function.
"""

from __future__ import annotations

import functools
import os
import time

import jax
import ml_collections
import numpy as np

from experiments import common, guided_digits
from experiments.configs import diffusion_classifier as configs
from gendiff import guidance


def _check_classify_config(c: ml_collections.ConfigDict) -> None:
    counts = tuple(c.num_samples)
    if c.draws_per_call < 1 or c.num_test < 1 or c.image_batch < 1:
        raise ValueError("config.classify.draws_per_call, num_test and image_batch must be >= 1.")
    if not counts or any(n < 1 or n % c.draws_per_call for n in counts):
        raise ValueError(
            f"config.classify.num_samples must be positive multiples of draws_per_call = "
            f"{c.draws_per_call}, got {counts}."
        )


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Gets the conditional denoiser, classifies test digits with it, writes metrics.json.

    Args:
        config: a config from ``experiments.configs.diffusion_classifier`` (presets: cpu, tiny).
        workdir: directory for metrics.json (and the denoiser, if ``denoiser_workdir`` is "").

    Returns:
        The metrics: ``accuracy_n{n}`` for each number of draws n, ``reference_accuracy`` (the
        independent classifier on the same images), num_test and timings.

    Example:
        >>> config = configs.get_config("tiny")
        >>> metrics = train_and_evaluate(config, "/tmp/diffusion_classifier")
    """
    start = time.time()
    c = config.classify
    _check_classify_config(c)
    denoiser_dir = config.denoiser_workdir or workdir
    if config.denoiser_workdir and not os.path.isdir(os.path.join(denoiser_dir, "checkpoints")):
        raise ValueError(
            f"config.denoiser_workdir={denoiser_dir!r} holds no checkpoints; expected the workdir "
            f"of a finished experiments.guided_digits run."
        )
    train_ds, test_ds = common.load_splits(config)
    net, state, _ = guided_digits.train_conditional_denoiser(config, denoiser_dir, train_ds)
    path = guided_digits.diffusion_path(config)
    images, labels = test_ds.images[: c.num_test], test_ds.labels[: c.num_test]

    @jax.jit
    def logits_of_draws(params, key, x):
        return guidance.diffusion_classifier_logits(
            key,
            functools.partial(net.apply, params),
            path,
            x,
            train_ds.num_classes,
            num_samples=c.draws_per_call,
            prediction=config.diffusion.prediction,
        )

    key = jax.random.fold_in(jax.random.key(config.seed), 3)
    classify_start = time.time()
    result, total = {}, 0.0
    for call in range(max(c.num_samples) // c.draws_per_call):
        key_call = jax.random.fold_in(key, call)
        total = total + np.concatenate(
            [
                np.asarray(
                    logits_of_draws(state.ema_params, jax.random.fold_in(key_call, b), images[i:j])
                )
                for b, (i, j) in enumerate(_batches(len(images), c.image_batch))
            ]
        )
        draws = (call + 1) * c.draws_per_call  # a mean of equal-size means is the running mean
        if draws in c.num_samples:
            result[f"accuracy_n{draws}"] = float(np.mean(np.argmax(total, axis=1) == labels))
    extractor = common.feature_classifier(denoiser_dir, train_ds, test_ds)
    result.update(
        num_test=len(images),
        num_denoiser_steps=int(state.step),
        reference_accuracy=extractor.accuracy(images, labels),
        classify_s=time.time() - classify_start,
        wall_s=time.time() - start,
    )
    common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


def _batches(n: int, size: int):
    return [(i, min(i + size, n)) for i in range(0, n, size)]


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/diffusion_classifier")
