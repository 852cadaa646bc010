"""Progressive distillation (Salimans & Ho 2022) of a digits diffusion model, 64 -> 4 steps.

  python -m experiments.progressive_distillation                 # 8x8 digits on a CPU
  python -m experiments.progressive_distillation --config.distill.steps_per_round=500

A v-prediction U-Net is trained on the cosine DDPM path (the teacher) and sampled with
N_0 deterministic DDIM steps. Each round then trains a student, initialised from the current
teacher, to take one DDIM step for two of the teacher's
(:func:`gendiff.distill.progressive_distillation_loss`); the student becomes the next
teacher, and N halves until ``final_sampling_steps``. Every model is scored by FD-digits on
the same initial noise; undistilled DDIM with the final number of steps is the baseline.

Workdir layout:

  config.json              the config and the data's example shape (read by load_student)
  teacher/                 the teacher's run: checkpoints/, metrics.jsonl, samples.png
  teacher_{N}_steps.png    undistilled DDIM samples of the teacher with the final N steps
  student_{N}/             round with N student steps: checkpoints/, metrics.jsonl,
                           samples.png and params.msgpack (EMA parameters, flax msgpack)
  feature_classifier/      the FD-digits classifier
  samples.png, metrics.json  the final student's samples and every round's figures

Running the command again resumes the unfinished round; a finished run only re-evaluates.
"""

from __future__ import annotations

import functools
import json
import os
import time
from typing import NamedTuple

import flax.serialization
import jax
import ml_collections

from experiments import common
from experiments.configs import progressive_distillation as configs
from gendiff import ddim, ddpm
from gendiff.distill import check_num_student_steps, progressive_distillation_loss
from gendiff.eval import write_bytes
from gendiff.paths import DiscreteVPPath
from gendiff.train import is_main_process

PARAMS_FILE = "params.msgpack"
CONFIG_FILE = "config.json"


def student_dir(workdir: str, num_steps: int) -> str:
    """The directory of the round whose student takes ``num_steps`` steps."""
    return os.path.join(workdir, f"student_{num_steps}")


def round_steps(config: ml_collections.ConfigDict) -> list[int]:
    """The students' step counts N_0 / 2, N_0 / 4, ..., final_sampling_steps."""
    n0, final = config.distill.teacher_sampling_steps, config.distill.final_sampling_steps
    if final < 1 or n0 <= final or n0 % final or (n0 // final) & (n0 // final - 1):
        raise ValueError(
            "config.distill.teacher_sampling_steps must be final_sampling_steps times a power "
            f"of two (>= 2), got {n0} and {final}."
        )
    steps = []
    while n0 > final:
        n0 //= 2
        steps.append(n0)
    return steps


def _path(config: ml_collections.ConfigDict) -> DiscreteVPPath:
    d = config.diffusion
    return DiscreteVPPath.from_schedule(d.schedule, d.num_diffusion_steps)


def _round_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The train-harness fields of one distillation round."""
    steps = config.distill.steps_per_round
    return ml_collections.ConfigDict(
        {
            "seed": config.seed,
            "num_steps": steps,
            "batch_size": config.batch_size,
            "checkpoint_every": min(config.checkpoint_every, steps),
            "log_every": min(config.log_every, steps),
            "progress": config.progress,
            "optim": config.distill.optim.to_dict(),
        }
    )


def _save_params(path: str, params) -> None:
    write_bytes(path, flax.serialization.to_bytes(jax.device_get(params)))


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains the teacher, distils it round by round and scores every model.

    Args:
        config: from ``experiments.configs.progressive_distillation`` (presets: cpu, mnist).
        workdir: the run directory (layout in the module docstring).

    Returns:
        The metrics written to metrics.json: the final student's sample quality (fd_digits,
        its floor and noise baselines), fd_digits_teacher (N_0 DDIM steps),
        fd_digits_teacher_{N}_steps (undistilled, final N), fd_digits_student_{N} for every
        round, and fd_ratio_final_to_teacher.

    Example:
        >>> from experiments.configs import progressive_distillation as configs
        >>> config = configs.get_config("cpu"); config.distill.steps_per_round = 50
        >>> metrics = train_and_evaluate(config, "/tmp/progressive_distillation")
    """
    start = time.time()
    students = round_steps(config)
    path = _path(config)
    for n in students:
        check_num_student_steps(path, n)
    train_ds, test_ds = common.load_splits(config)
    shape = train_ds.example_shape
    prediction = config.diffusion.prediction
    net = common.build_denoiser(config.model, shape)
    init_key, train_key, distill_key, sample_key, eval_key = jax.random.split(
        jax.random.key(config.seed), 5
    )
    os.makedirs(workdir, exist_ok=True)
    common.write_json(
        os.path.join(workdir, CONFIG_FILE),
        {"config": config.to_dict(), "example_shape": list(shape)},
    )

    def sample(params, key, num, num_steps):  # deterministic DDIM on the trailing grid i / N
        return ddim.ddim_sample(
            key,
            functools.partial(net.apply, params),
            path,
            (num, *shape),
            num_steps=num_steps,
            spacing="trailing",
            prediction=prediction,
        )

    timing = {}  # of the last evaluation: the final student's sampling

    def evaluate(params, num_steps, png, title):
        samples = common.draw_samples(
            functools.partial(sample, num_steps=num_steps), params, sample_key, config, timing
        )
        if is_main_process():
            common.save_samples(png, samples, test_ds, title)
        quality = common.sample_quality(eval_key, samples, train_ds, test_ds, workdir)
        return samples, quality["fd_digits" if train_ds.name == "digits" else "fd_classifier"]

    teacher_dir = os.path.join(workdir, "teacher")
    loss = functools.partial(ddpm.denoising_loss, path=path, prediction=prediction)
    state, last = common.train_network(
        config, teacher_dir, net, train_ds, loss, init_key, train_key
    )
    n0, final = config.distill.teacher_sampling_steps, config.distill.final_sampling_steps
    _, fd_teacher = evaluate(
        state.ema_params, n0, os.path.join(teacher_dir, "samples.png"), f"teacher, {n0} DDIM steps"
    )
    _, fd_undistilled = evaluate(
        state.ema_params,
        final,
        os.path.join(workdir, f"teacher_{final}_steps.png"),
        f"teacher, {final} DDIM steps (undistilled)",
    )
    extra = {
        "teacher_train_loss": last.get("loss"),
        "teacher_num_steps": int(state.step),
        "distill_num_steps": 0,  # the students' steps, all rounds
        "fd_digits_teacher": fd_teacher,
        f"fd_digits_teacher_{final}_steps": fd_undistilled,
    }

    teacher_params = state.ema_params
    for n in students:
        teacher_fn = functools.partial(net.apply, teacher_params)
        distill = lambda key, model_fn, x0, teacher_fn=teacher_fn, n=n: (
            progressive_distillation_loss(
                key, model_fn, teacher_fn, x0, path, num_student_steps=n, prediction=prediction
            )
        )
        directory = student_dir(workdir, n)
        state, last = common.train_network(
            _round_config(config),
            directory,
            net,
            train_ds,
            distill,
            init_key,
            jax.random.fold_in(distill_key, n),
            init_params=teacher_params,  # the student starts as its teacher
        )
        teacher_params = state.ema_params
        extra["distill_num_steps"] += int(state.step)
        if is_main_process():
            _save_params(os.path.join(directory, PARAMS_FILE), teacher_params)
        samples, extra[f"fd_digits_student_{n}"] = evaluate(
            teacher_params, n, os.path.join(directory, "samples.png"), f"student, {n} DDIM steps"
        )

    extra["fd_ratio_final_to_teacher"] = extra[f"fd_digits_student_{final}"] / fd_teacher
    return common.finish_run(
        config,
        workdir,
        start,
        state,
        last,
        samples,
        train_ds,
        test_ds,
        eval_key,
        f"{final}-step distilled student",
        **extra,
        **timing,
    )


class Student(NamedTuple):
    """A distilled sampler loaded by :func:`load_student`.

    Attributes:
        net: the Flax network (call ``net.apply(params, x, t)``).
        params: its EMA parameters.
        path: the diffusion path it samples on.
        num_steps: the number of DDIM steps it was distilled for.
        prediction: what the network outputs ('v').
        example_shape: shape of one sample, e.g. (8, 8, 1).
    """

    net: object
    params: dict
    path: DiscreteVPPath
    num_steps: int
    prediction: str
    example_shape: tuple[int, ...]

    def sample(self, key: jax.Array, num: int) -> jax.Array:
        """``num`` samples by deterministic DDIM on the grid the student was trained on."""
        return ddim.ddim_sample(
            key,
            functools.partial(self.net.apply, self.params),
            self.path,
            (num, *self.example_shape),
            num_steps=self.num_steps,
            spacing="trailing",
            prediction=self.prediction,
        )


def load_student(workdir: str, num_steps: int | None = None) -> Student:
    """Loads the student of a finished run (by default the final one, with the fewest steps).

    Args:
        workdir: the run directory of :func:`train_and_evaluate`.
        num_steps: which round's student; default ``config.distill.final_sampling_steps``.

    Returns:
        A :class:`Student`.

    Example:
        >>> student = load_student("runs/progressive_distillation")
        >>> images = jax.jit(student.sample, static_argnums=1)(jax.random.key(0), 16)
    """
    with open(os.path.join(workdir, CONFIG_FILE)) as f:
        saved = json.load(f)
    config = ml_collections.ConfigDict(saved["config"])
    num_steps = config.distill.final_sampling_steps if num_steps is None else num_steps
    params_path = os.path.join(student_dir(workdir, num_steps), PARAMS_FILE)
    if not os.path.exists(params_path):
        raise FileNotFoundError(
            f"No student with {num_steps} steps in {workdir}: {params_path} is missing; the "
            f"rounds are {round_steps(config)} steps."
        )
    with open(params_path, "rb") as f:
        params = flax.serialization.msgpack_restore(f.read())
    shape = tuple(saved["example_shape"])
    return Student(
        net=common.build_denoiser(config.model, shape),
        params=params,
        path=_path(config),
        num_steps=num_steps,
        prediction=config.diffusion.prediction,
        example_shape=shape,
    )


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/progressive_distillation")
