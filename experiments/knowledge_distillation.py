"""Knowledge distillation (Hinton et al. 2015) of a digits classifier into a 30x smaller one.

  python -m experiments.knowledge_distillation
  python -m experiments.knowledge_distillation --config.kd.alpha=0.5 --config.kd.temperature=2

A CNN teacher is trained on the labels. Students of a much smaller CNN are then trained twice
from the same initialisations and batches of ``student_train_examples`` training images: once
on the labels alone (cross-entropy) and once with :func:`gendiff.distill.distillation_loss`
(the teacher's softened probabilities plus the labels). Both arms are scored on the test
split (accuracy and negative log-likelihood), averaged over ``num_student_seeds``
initialisations.

Workdir layout: teacher/, student_kd_{seed}/, student_ce_{seed}/ (each with checkpoints/ and
metrics.jsonl) and metrics.json.
"""

from __future__ import annotations

import os
import time
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments import common
from experiments.configs import knowledge_distillation as configs
from gendiff import data, nets
from gendiff.distill import distillation_loss


def _classifier(c: ml_collections.ConfigDict, num_classes: int) -> nets.ImageClassifier:
    return nets.ImageClassifier(
        num_classes=num_classes,
        channels=tuple(c.channels),
        feature_dim=c.feature_dim,
        dropout_rate=c.dropout_rate,
    )


def _train_classifier(
    config: ml_collections.ConfigDict,
    workdir: str,
    model: nets.ImageClassifier,
    arrays: dict[str, np.ndarray],
    loss_of_logits: Callable,
    init_key: jax.Array,
    train_key: jax.Array,
):
    """Trains ``model`` on epoch-shuffled rows of ``arrays`` with ``loss_of_logits(logits,
    batch)``; returns its EMA parameters."""
    params = model.init(init_key, jnp.zeros((1, *arrays["image"].shape[1:])))

    def loss_fn(params, batch, key):
        logits = model.apply(params, batch["image"], train=True, rngs={"dropout": key})
        return loss_of_logits(logits, batch)

    batches = data.ArrayBatches(arrays, config.batch_size, config.seed)
    state, _ = common.fit_network(config, workdir, params, loss_fn, batches, train_key)
    return state.ema_params


def _test_scores(model, params, test_ds) -> dict[str, float]:
    logits = jax.jit(model.apply)(params, test_ds.images)
    labels = jnp.asarray(test_ds.labels)
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    return {
        "test_accuracy": float(jnp.mean(jnp.argmax(logits, -1) == labels)),
        "test_nll": float(jnp.mean(nll)),
    }


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains the teacher and both arms of students, and writes metrics.json in ``workdir``.

    Args:
        config: from ``experiments.configs.knowledge_distillation``.
        workdir: the run directory.

    Returns:
        The metrics: teacher_test_accuracy / teacher_test_nll, and for each arm
        (student_kd, student_ce) the mean and std over seeds of test_accuracy and test_nll,
        plus the parameter counts and wall_s.

    Example:
        >>> from experiments.configs import knowledge_distillation as configs
        >>> metrics = train_and_evaluate(configs.get_config("cpu"), "/tmp/kd")
    """
    start = time.time()
    if config.num_student_seeds < 1:
        raise ValueError(
            f"config.num_student_seeds must be a positive integer, got {config.num_student_seeds}."
        )
    if config.student_train_examples < 0:
        raise ValueError(
            f"config.student_train_examples must be >= 0 (0 = all), "
            f"got {config.student_train_examples}."
        )
    kd = config.kd
    distillation_loss(
        jnp.zeros((1, 2)),
        jnp.zeros((1, 2)),
        jnp.zeros(1, jnp.int32),
        temperature=kd.temperature,
        alpha=kd.alpha,
    )  # validates kd early
    train_ds, test_ds = common.load_splits(config)
    if train_ds.labels is None or len(train_ds.example_shape) != 3:
        raise ValueError(f"Dataset {config.dataset!r} must hold labelled images.")
    teacher = _classifier(config.teacher, train_ds.num_classes)
    student = _classifier(config.student, train_ds.num_classes)
    key = jax.random.key(config.seed)
    arrays = {"image": train_ds.images, "label": train_ds.labels}

    cross_entropy = lambda logits, batch: distillation_loss(
        logits, logits, batch["label"], temperature=1.0, alpha=0.0
    )
    teacher_params = _train_classifier(
        config,
        os.path.join(workdir, "teacher"),
        teacher,
        arrays,
        cross_entropy,
        jax.random.fold_in(key, 0),
        jax.random.fold_in(key, 1),
    )
    result = {f"teacher_{k}": v for k, v in _test_scores(teacher, teacher_params, test_ds).items()}
    result["teacher_num_params"] = common.num_params(teacher_params)
    # The teacher's logits on the training set, computed once (dropout off).
    arrays["teacher_logits"] = np.asarray(jax.jit(teacher.apply)(teacher_params, train_ds.images))
    subset = slice(0, config.student_train_examples or None)
    arrays = {k: v[subset] for k, v in arrays.items()}

    arms = {
        "student_kd": lambda logits, batch: distillation_loss(
            logits,
            batch["teacher_logits"],
            batch["label"],
            temperature=kd.temperature,
            alpha=kd.alpha,
        ),
        "student_ce": cross_entropy,
    }
    for arm, loss in arms.items():
        scores = []
        for seed in range(config.num_student_seeds):
            params = _train_classifier(
                config,
                os.path.join(workdir, f"{arm}_{seed}"),
                student,
                arrays,
                loss,
                jax.random.fold_in(key, 100 + seed),
                jax.random.fold_in(key, 200 + seed),
            )
            scores.append(_test_scores(student, params, test_ds))
        for name in scores[0]:
            values = np.array([s[name] for s in scores])
            result[f"{arm}_{name}"] = float(values.mean())
            result[f"{arm}_{name}_std"] = float(values.std())
    result["student_num_params"] = common.num_params(params)
    result["wall_s"] = time.time() - start
    common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/knowledge_distillation")
