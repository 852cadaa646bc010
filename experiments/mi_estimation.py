"""Variational MI bounds on a staircase of correlated Gaussians (Poole et al. 2019, Figure 2).

  python -m experiments.mi_estimation
  python -m experiments.mi_estimation --config.num_steps=20000

x ~ N(0, I_d), y = rho x + sqrt(1 - rho^2) eps with d = 20; rho steps up during training so that
the true I(x; y) is 2, 4, 6, 8 and 10 nats for num_steps / 5 steps each
(:mod:`gendiff.ssl.gaussian_mi`). Four separable critics (:class:`gendiff.nets.SeparableCritic`)
see the same batches of N = 128 pairs, each trained on its own bound
(:mod:`gendiff.ssl.mi_bounds`): InfoNCE, NWJ, the JS critic (reporting NWJ at f + 1) and MINE
(the DV bound with the moving-average gradient correction). They are one parameter tree
trained by one ``fit`` on the sum of the four losses; MINE's moving average is a parameter
leaf set by assignment (:func:`gendiff.train.assign_by_gradient`). Each critic has its own
Adam, with a learning rate that decays by a cosine within each level and restarts at the next.

Expected (Poole et al.): InfoNCE has low variance but can never exceed log N = 4.85 nats, so it
saturates from the 6-nat stage on; NWJ, JS and MINE follow the truth further, with a variance
that grows with the MI.

Workdir: checkpoints/, metrics.jsonl (every step's estimates), mi_estimation.png,
metrics.json (mean and std of each estimate over the last part of each stage).
"""

from __future__ import annotations

import math
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments import common
from experiments.configs import mi_estimation as configs
from gendiff import eval as evaluation
from gendiff import nets, ssl
from gendiff.data import GeneratedBatches
from gendiff.train import (
    TrainState,
    assign_by_gradient,
    create_train_state,
    fit,
    is_main_process,
    make_train_step,
    read_metrics,
)

ESTIMATORS = ("infonce", "nwj", "js", "mine")
LABELS = {"infonce": "InfoNCE", "nwj": "NWJ", "js": "JS critic (NWJ at f + 1)", "mine": "MINE (DV)"}
COLORS = {"infonce": "tab:blue", "nwj": "tab:orange", "js": "tab:green", "mine": "tab:red"}


def staircase_batches(config: ml_collections.ConfigDict) -> GeneratedBatches:
    """Step s draws N pairs at the correlation of stage s // steps_per_level (seeded by s)."""
    rhos = [ssl.rho_for_mi(mi, config.dim) for mi in config.mi_levels]
    steps_per_level = config.num_steps // len(rhos)

    def fn(step: int) -> dict[str, np.ndarray]:
        level = min(step // steps_per_level, len(rhos) - 1)
        rng = np.random.default_rng((config.seed, step))
        x = rng.standard_normal((config.batch_size, config.dim), np.float32)
        eps = rng.standard_normal((config.batch_size, config.dim), np.float32)
        rho = rhos[level]
        y = rho * x + math.sqrt(1.0 - rho * rho) * eps
        true_mi = np.full((config.batch_size,), config.mi_levels[level], np.float32)
        return {"x": x, "y": y.astype(np.float32), "true_mi": true_mi}

    return GeneratedBatches(fn, config.batch_size)


def make_loss(critic: nets.SeparableCritic, estimators, mine_decay: float, score_clip: float):
    """The summed loss of the critics; metrics hold each one's MI estimate (nats).

    The critic values pass through score_clip * tanh(f / score_clip), a soft clip that
    guards e^f in NWJ, JS and MINE against overflow and is the identity to within 1% for
    |f| < 0.17 score_clip (the optimal critic's values here stay far below it)."""
    mine = ssl.mine(mine_decay)

    def loss_fn(params, batch, key):
        del key
        x, y = batch["x"], batch["y"]
        total, metrics = 0.0, {"true_mi": jnp.mean(batch["true_mi"])}
        for name in estimators:
            scores = score_clip * jnp.tanh(critic.apply(params[name], x, y) / score_clip)
            if name == "infonce":
                estimate = ssl.infonce_bound(scores)
                loss = -estimate
            elif name == "nwj":
                estimate = ssl.nwj_bound(scores)
                loss = -estimate
            elif name == "js":
                loss, m = ssl.js_critic_loss(scores)
                estimate = m["mi"]
            else:  # mine
                state = params["mine_state"]
                old = ssl.MineState(
                    jax.lax.stop_gradient(state["count"]).astype(jnp.int32),
                    jax.lax.stop_gradient(state["log_moving_average"]),
                )
                loss, (m, new) = mine.update(scores, old)
                estimate = m["mi"]
                new_state = {
                    "count": new.count.astype(state["count"].dtype),
                    "log_moving_average": new.log_moving_average,
                }
                loss = loss + assign_by_gradient(state, new_state)
            total = total + loss
            metrics[name] = estimate
        return total, metrics

    return loss_fn


def critic_optimizer(config: ml_collections.ConfigDict, estimators) -> optax.GradientTransformation:
    """Adam per critic. With ``optim.restart_per_level`` each rate decays from its peak to 0
    by a cosine within each level and restarts at the next (the critics re-adapt after every
    step of the true MI). NWJ and MINE, whose objectives hold e^f, get the lower peak
    ``optim.exp_learning_rate``: at higher rates their critics diverge when the MI steps up.
    MINE's moving average is set by SGD with rate 1 (:func:`gendiff.train.assign_by_gradient`)."""
    per_level = config.num_steps // len(config.mi_levels)

    def adam(peak):
        if not config.optim.restart_per_level:
            return optax.adam(peak)
        schedule = optax.join_schedules(
            [optax.cosine_decay_schedule(peak, per_level)] * len(config.mi_levels),
            [per_level * (i + 1) for i in range(len(config.mi_levels) - 1)],
        )
        return optax.adam(schedule)

    fast, slow = config.optim.learning_rate, config.optim.exp_learning_rate
    txs = {name: adam(slow if name in ("nwj", "mine") else fast) for name in estimators}
    txs["assign"] = optax.sgd(1.0)
    return optax.multi_transform(
        txs,
        lambda params: {
            name: jax.tree.map(lambda _, n=name: "assign" if n == "mine_state" else n, p)
            for name, p in params.items()
        },
    )


def _check(config: ml_collections.ConfigDict) -> tuple[str, ...]:
    estimators = tuple(config.estimators)
    unknown = [e for e in estimators if e not in ESTIMATORS]
    if unknown or not estimators:
        raise ValueError(
            f"config.estimators must be a non-empty subset of {ESTIMATORS}, got {estimators}."
        )
    if not config.mi_levels or config.num_steps % len(config.mi_levels):
        raise ValueError(
            f"config.num_steps ({config.num_steps}) must split evenly over the "
            f"{len(config.mi_levels)} levels of config.mi_levels."
        )
    if not config.score_clip > 0:
        raise ValueError(f"config.score_clip must be > 0, got {config.score_clip}.")
    if not 0.0 < config.tail_fraction <= 1.0:
        raise ValueError(f"config.tail_fraction must lie in (0, 1], got {config.tail_fraction}.")
    if config.batch_size < 2:
        raise ValueError(
            f"config.batch_size must be >= 2 (pairs are negatives), got {config.batch_size}."
        )
    return estimators


def _smooth(values: np.ndarray, decay: float) -> np.ndarray:
    out, acc = np.empty_like(values), values[0]
    for i, v in enumerate(values):
        acc = decay * acc + (1.0 - decay) * v
        out[i] = acc
    return out


def save_staircase_plot(path, steps, true_mi, estimates, log_n, title):
    """Poole et al.'s Figure 2: each estimator's raw estimates (light), smoothed (dark), the
    true MI and log N."""
    from matplotlib.figure import Figure

    names = list(estimates)
    fig = Figure(figsize=(3.2 * len(names), 3.2))
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        values = np.clip(estimates[name], -2.0, 16.0)
        ax.plot(steps, values, color=COLORS[name], alpha=0.25, lw=0.5)
        ax.plot(steps, _smooth(values, 0.98), color=COLORS[name], lw=1.5)
        ax.plot(steps, true_mi, color="k", lw=1.0, label="true MI")
        ax.axhline(log_n, color="k", ls="--", lw=0.8, label="log N")
        ax.set_ylim(-1.0, 14.0)
        ax.set_title(LABELS[name], fontsize=9)
        ax.set_xlabel("step")
        if i == 0:
            ax.set_ylabel("MI estimate (nats)")
            ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    evaluation.save_figure(path, fig)


@common.experiment
def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains the critics through the staircase; writes the plot and metrics.json.

    Returns:
      For each estimator e and level L: ``{e}_mean_{L}`` and ``{e}_std_{L}`` (over the last
      ``tail_fraction`` of the stage's steps), ``infonce_max`` (largest InfoNCE estimate of the
      run), ``log_batch_size`` and wall_s.

    Example:
      >>> from experiments.configs import mi_estimation as configs
      >>> metrics = train_and_evaluate(configs.get_config("cpu"), "/tmp/mi")
    """
    start = time.time()
    estimators = _check(config)
    critic = nets.SeparableCritic(
        config.critic.hidden,
        config.critic.depth,
        config.critic.embed_dim,
        config.critic.marginal_terms,
    )
    key = jax.random.key(config.seed)
    x0 = jnp.zeros((2, config.dim))
    params = {
        name: critic.init(jax.random.fold_in(key, i), x0, x0) for i, name in enumerate(estimators)
    }
    if "mine" in estimators:
        params["mine_state"] = {"count": jnp.zeros(()), "log_moving_average": jnp.zeros(())}
    tx = critic_optimizer(config, estimators)
    state: TrainState = create_train_state(params, tx)
    loss_fn = make_loss(critic, estimators, config.mine_decay, config.score_clip)
    state, _ = fit(
        state,
        make_train_step(loss_fn, tx, config.optim.ema_decay),
        staircase_batches(config),
        jax.random.fold_in(key, 100),
        num_steps=config.num_steps,
        workdir=workdir,
        checkpoint_every=config.checkpoint_every,
        log_every=config.log_every,
        progress=config.progress,
    )

    records = read_metrics(os.path.join(workdir, "metrics.jsonl"))
    steps = np.array([r["step"] for r in records])
    true_mi = np.array([r["true_mi"] for r in records])
    estimates = {name: np.array([r[name] for r in records]) for name in estimators}
    log_n = math.log(config.batch_size)
    result = {"log_batch_size": log_n, "num_logged_steps": len(records)}
    for level in config.mi_levels:
        rows = np.flatnonzero(true_mi == level)
        rows = rows[int(len(rows) * (1.0 - config.tail_fraction)) :]
        for name in estimators:
            result[f"{name}_mean_{level:g}"] = float(np.mean(estimates[name][rows]))
            result[f"{name}_std_{level:g}"] = float(np.std(estimates[name][rows]))
    if "infonce" in estimators:
        result["infonce_max"] = float(np.max(estimates["infonce"]))
    result["wall_s"] = time.time() - start
    if is_main_process():
        save_staircase_plot(
            os.path.join(workdir, "mi_estimation.png"),
            steps,
            true_mi,
            estimates,
            log_n,
            f"correlated Gaussians, d = {config.dim}, N = {config.batch_size}, "
            f"{config.num_steps // len(config.mi_levels)} steps per level",
        )
        common.write_json(os.path.join(workdir, "metrics.json"), result)
    return result


def table(result: dict, levels, estimators) -> str:
    """The per-stage means (and stds) as a Markdown table."""
    head = "| true MI | " + " | ".join(LABELS[e].split(" (")[0] for e in estimators) + " |"
    lines = [head, "|" + "---|" * (len(estimators) + 1)]
    for level in levels:
        cells = [
            f"{result[f'{e}_mean_{level:g}']:.2f} ± {result[f'{e}_std_{level:g}']:.2f}"
            for e in estimators
        ]
        lines.append(f"| {level:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    common.run_cli(train_and_evaluate, configs.get_config, "runs/mi_estimation")
